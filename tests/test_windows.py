"""Windows: state at the exact edges, and the words people read, in UK time across clock changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.windows import (
    Window,
    WindowState,
    calendar_days_between,
    local_date,
    moment_in_words,
)

LONDON = ZoneInfo("Europe/London")
SECOND = timedelta(seconds=1)


def uk(*args: int) -> datetime:
    """A UK wall-clock time, as the aware UTC moment it is."""
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)  # type: ignore[misc]


# Applications closed on Friday 5 February at 11:59pm (the review's real date, in winter).
CLOSES = uk(2027, 2, 5, 23, 59)
OPENS = uk(2027, 1, 4, 0, 0)
WINDOW = Window(OPENS, CLOSES)


# --- state at the edges ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (OPENS - SECOND, WindowState.NOT_YET),
        (OPENS, WindowState.OPEN),
        (OPENS + SECOND, WindowState.OPEN),
        (CLOSES - timedelta(days=7) - SECOND, WindowState.OPEN),
        (CLOSES - timedelta(days=7), WindowState.CLOSING_SOON),
        (CLOSES - SECOND, WindowState.CLOSING_SOON),
        (CLOSES, WindowState.CLOSED),
        (CLOSES + SECOND, WindowState.CLOSED),
    ],
)
def test_state_at_every_edge(now, state):
    assert WINDOW.state(now) == state
    assert WINDOW.is_open(now) == (state in {WindowState.OPEN, WindowState.CLOSING_SOON})
    assert WINDOW.has_closed(now) == (state == WindowState.CLOSED)


def test_missing_ends_mean_open_from_the_start_and_never_closing():
    now = uk(2027, 1, 1, 12, 0)
    assert Window(None, None).state(now) == WindowState.OPEN
    assert Window(None, None).words(now) == "Open now"
    assert Window(now + SECOND, None).state(now) == WindowState.NOT_YET
    assert Window(None, now).state(now) == WindowState.CLOSED
    assert Window(None, None).time_left(now) is None


def test_naive_or_backwards_windows_are_refused():
    with pytest.raises(ValueError):
        Window(datetime(2027, 1, 1), None)
    with pytest.raises(ValueError):
        Window(CLOSES, OPENS)


def test_time_left_never_goes_below_nothing():
    assert WINDOW.time_left(CLOSES - SECOND) == SECOND
    assert WINDOW.time_left(CLOSES + timedelta(days=1)) == timedelta(0)


# --- words -------------------------------------------------------------------------------


def test_the_closing_time_in_full():
    assert WINDOW.closes_words() == "Closes on Friday 5 February at 11:59pm"
    assert WINDOW.closed_words() == "Closed on Friday 5 February at 11:59pm"
    assert WINDOW.words(CLOSES + SECOND) == "Closed on Friday 5 February at 11:59pm"
    assert WINDOW.words(uk(2027, 1, 10, 9, 0)) == "Closes on Friday 5 February at 11:59pm"


def test_opening_words():
    assert WINDOW.words(uk(2026, 12, 20, 9, 0)) == "Opens on Monday 4 January"
    assert WINDOW.words(uk(2027, 1, 3, 9, 0)) == "Opens tomorrow"
    at_nine = Window(uk(2027, 1, 4, 9, 0), CLOSES)
    assert at_nine.words(uk(2027, 1, 4, 8, 0)) == "Opens today at 9am"
    assert at_nine.words(uk(2027, 1, 3, 8, 0)) == "Opens tomorrow at 9am"
    assert at_nine.words(uk(2026, 12, 30, 8, 0)) == "Opens on Monday 4 January at 9am"


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (uk(2027, 2, 2, 10, 0), "Closes in 3 days"),
        (uk(2027, 2, 2, 23, 59), "Closes in 3 days"),
        (uk(2027, 2, 4, 0, 1), "Closes tomorrow at 11:59pm"),
        (uk(2027, 2, 5, 8, 0), "Closes today at 11:59pm"),
        (uk(2027, 2, 5, 20, 58), "Closes today at 11:59pm"),
        (uk(2027, 2, 5, 21, 0), "Closes in 2 hours"),
        (uk(2027, 2, 5, 22, 58), "Closes in 1 hour"),
        (uk(2027, 2, 5, 23, 0), "Closes in 59 minutes"),
        (uk(2027, 2, 5, 23, 58), "Closes in 1 minute"),
        (CLOSES - SECOND, "Closes in less than a minute"),
        (CLOSES, "Closed on Friday 5 February at 11:59pm"),
    ],
)
def test_countdown_words(now, words):
    assert WINDOW.words(now) == words


def test_closing_at_midnight_belongs_to_the_day_it_ends():
    window = Window(OPENS, uk(2027, 2, 6, 0, 0))
    assert window.closes_words() == "Closes on Friday 5 February at midnight"
    assert window.words(uk(2027, 2, 5, 12, 0)) == "Closes today at midnight"
    assert window.words(uk(2027, 2, 4, 12, 0)) == "Closes tomorrow at midnight"
    assert local_date(uk(2027, 2, 6, 0, 0), ending=True).day == 5
    assert local_date(uk(2027, 2, 6, 0, 0)).day == 6


# --- clock changes (Europe/London: 29 March 2026 forward, 25 October 2026 back) ------------


def test_spring_forward_29_march():
    # 1am GMT becomes 2am BST: 29 March 2026 is 23 hours long.
    closes = uk(2026, 3, 29, 23, 59)
    assert closes == datetime(2026, 3, 29, 22, 59, tzinfo=UTC)
    window = Window(uk(2026, 3, 1, 0, 0), closes)
    assert window.closes_words() == "Closes on Sunday 29 March at 11:59pm"
    # Saturday evening: in under 24 hours of real time, but still tomorrow on the calendar.
    assert window.words(uk(2026, 3, 28, 23, 30)) == "Closes tomorrow at 11:59pm"
    assert window.words(uk(2026, 3, 29, 0, 30)) == "Closes today at 11:59pm"
    # Just after the change: 03:00 BST is 19h59m before the end, on the same day.
    assert window.words(uk(2026, 3, 29, 3, 0)) == "Closes today at 11:59pm"
    assert window.words(uk(2026, 3, 29, 21, 0)) == "Closes in 2 hours"
    # Three days before, across the change: 3 calendar days, though 71 real hours.
    assert closes - uk(2026, 3, 26, 23, 59) == timedelta(hours=71)
    assert window.words(uk(2026, 3, 26, 23, 59)) == "Closes in 3 days"
    assert window.state(closes - SECOND) == WindowState.CLOSING_SOON
    assert window.state(closes) == WindowState.CLOSED


def test_closing_in_the_hour_that_does_not_exist_and_the_hour_that_happens_twice():
    # An 11:59pm GMT close the day before spring forward; the BST/GMT offset changes words.
    gmt = Window(None, datetime(2026, 3, 29, 0, 59, tzinfo=UTC))  # 00:59 GMT
    assert gmt.closes_words() == "Closes on Sunday 29 March at 12:59am"
    after = Window(None, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 02:30 BST
    assert after.closes_words() == "Closes on Sunday 29 March at 2:30am"
    # 25 October 2026: 1:30am happens twice (BST, then GMT): the moment decides which.
    first = Window(None, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    second = Window(None, datetime(2026, 10, 25, 1, 30, tzinfo=UTC))
    assert first.closes_words() == second.closes_words() == "Closes on Sunday 25 October at 1:30am"
    assert second.closes_at - first.closes_at == timedelta(hours=1)


def test_fall_back_25_october():
    # 2am BST becomes 1am GMT: 25 October 2026 is 25 hours long.
    closes = uk(2026, 10, 25, 23, 59)
    assert closes == datetime(2026, 10, 25, 23, 59, tzinfo=UTC)
    window = Window(uk(2026, 10, 1, 0, 0), closes)
    assert window.closes_words() == "Closes on Sunday 25 October at 11:59pm"
    # 00:30 BST on the day: 24.5 real hours to go, and still "today".
    morning = uk(2026, 10, 25, 0, 30)
    assert closes - morning == timedelta(hours=24, minutes=29)
    assert window.words(morning) == "Closes today at 11:59pm"
    # Saturday night at 11:59pm BST: 25 real hours before, and "tomorrow".
    assert window.words(uk(2026, 10, 24, 23, 59)) == "Closes tomorrow at 11:59pm"
    assert window.words(uk(2026, 10, 22, 12, 0)) == "Closes in 3 days"
    # The last second, the closing second and the one after, across the change.
    assert window.state(closes - SECOND) == WindowState.CLOSING_SOON
    assert window.state(closes) == WindowState.CLOSED
    assert window.state(closes + SECOND) == WindowState.CLOSED


def test_opening_across_a_clock_change():
    window = Window(uk(2026, 3, 30, 9, 0), uk(2026, 5, 1, 23, 59))
    assert window.words(uk(2026, 3, 29, 0, 30)) == "Opens tomorrow at 9am"
    assert window.words(uk(2026, 3, 25, 12, 0)) == "Opens on Monday 30 March at 9am"


def test_words_in_another_timezone():
    window = Window(None, datetime(2027, 2, 5, 23, 59, tzinfo=UTC))
    assert window.closes_words("America/New_York") == "Closes on Friday 5 February at 6:59pm"
    assert window.closes_words("Asia/Tokyo") == "Closes on Saturday 6 February at 8:59am"


def test_calendar_days_and_moments():
    assert calendar_days_between(uk(2026, 10, 24, 23, 59), uk(2026, 10, 25, 0, 0)) == 1
    assert moment_in_words(uk(2027, 1, 4, 0, 0)) == "Monday 4 January"
    assert moment_in_words(uk(2027, 1, 4, 12, 0)) == "Monday 4 January at midday"
    assert moment_in_words(uk(2027, 1, 4, 0, 0), ending=True) == "Sunday 3 January at midnight"
