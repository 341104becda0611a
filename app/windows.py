"""Windows: when something opens and closes, where it stands now, and the words people read.

One type for every "opens at / closes at" in Heard (calls, programme phases, and later
sign-up, rounds and live-session stages). Times are stored in UTC; every sentence is worked
out in the zone people read times in (HEARD_TIMEZONE), so "today", "tomorrow" and "in 3
days" follow the calendar there, across clock changes.

A window is open from `opens_at` (inclusive) until `closes_at` (exclusive): at exactly the
closing time it is closed. Either end may be missing (open from the start, never closes).
Everything here is a pure function of the window, `now` and the zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from app.timefmt import DEFAULT_TZ, date_in_words, local, time_in_words

# "Closing soon" starts this long before the end: the week before, people are told how long
# is left ("Closes in 3 days", "Closes today at 11:59pm", "Closes in 2 hours").
CLOSING_SOON = timedelta(days=7)
# Within this long of the end, a count of hours or minutes is clearer than a time of day.
COUNT_HOURS_UNDER = timedelta(hours=3)


class WindowState(StrEnum):
    NOT_YET = "not_yet"
    OPEN = "open"
    CLOSING_SOON = "closing_soon"
    CLOSED = "closed"


@dataclass(frozen=True)
class Window:
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    closing_soon: timedelta = CLOSING_SOON

    def __post_init__(self) -> None:
        for value in (self.opens_at, self.closes_at):
            if value is not None and value.tzinfo is None:
                raise ValueError("a window needs aware datetimes (UTC)")
        if self.opens_at and self.closes_at and self.closes_at < self.opens_at:
            raise ValueError("a window can't close before it opens")

    # --- where it stands -----------------------------------------------------------------

    def state(self, now: datetime) -> WindowState:
        if self.opens_at is not None and now < self.opens_at:
            return WindowState.NOT_YET
        if self.closes_at is not None and now >= self.closes_at:
            return WindowState.CLOSED
        if self.closes_at is not None and self.closes_at - now <= self.closing_soon:
            return WindowState.CLOSING_SOON
        return WindowState.OPEN

    def is_open(self, now: datetime) -> bool:
        return self.state(now) in (WindowState.OPEN, WindowState.CLOSING_SOON)

    def has_closed(self, now: datetime) -> bool:
        return self.state(now) == WindowState.CLOSED

    def time_left(self, now: datetime) -> timedelta | None:
        if self.closes_at is None:
            return None
        return max(self.closes_at - now, timedelta(0))

    # --- words ---------------------------------------------------------------------------

    def words(self, now: datetime, tz: str = DEFAULT_TZ) -> str:
        """The one line people read now: "Opens on …", "Closes in 3 days", "Closed on …"."""
        state = self.state(now)
        if state == WindowState.NOT_YET:
            return self.opens_words(now, tz)
        if state == WindowState.CLOSED:
            return self.closed_words(tz)
        if state == WindowState.CLOSING_SOON:
            return self.countdown_words(now, tz)
        if self.closes_at is None:
            return "Open now"
        return self.closes_words(tz)

    def closes_words(self, tz: str = DEFAULT_TZ) -> str:
        """The closing time in full: "Closes on Friday 5 February at 11:59pm"."""
        if self.closes_at is None:
            return "Open now"
        return f"Closes on {moment_in_words(self.closes_at, tz, ending=True)}"

    def closed_words(self, tz: str = DEFAULT_TZ) -> str:
        if self.closes_at is None:
            return "Closed"
        return f"Closed on {moment_in_words(self.closes_at, tz, ending=True)}"

    def opens_words(self, now: datetime, tz: str = DEFAULT_TZ) -> str:
        """ "Opens on Monday 4 January" (at midnight), "Opens today at 9am", "Opens tomorrow …"."""
        if self.opens_at is None:
            return "Open now"
        days = calendar_days_between(now, self.opens_at, tz)
        at = time_in_words(self.opens_at, tz)
        starts_the_day = local(self.opens_at, tz).time() == datetime.min.time()
        if days == 0:
            return f"Opens today at {at}"
        if days == 1:
            return "Opens tomorrow" if starts_the_day else f"Opens tomorrow at {at}"
        return f"Opens on {moment_in_words(self.opens_at, tz)}"

    def countdown_words(self, now: datetime, tz: str = DEFAULT_TZ) -> str:
        """How long is left, the way people say it: "Closes in 2 hours", "Closes today at
        11:59pm", "Closes tomorrow at 11:59pm", "Closes in 3 days"."""
        if self.closes_at is None:
            return "Open now"
        left = self.closes_at - now
        if left <= timedelta(0):
            return self.closed_words(tz)
        if left < timedelta(minutes=1):
            return "Closes in less than a minute"
        if left < timedelta(hours=1):
            minutes = int(left.total_seconds() // 60)
            return f"Closes in {minutes} minute{'' if minutes == 1 else 's'}"
        if left < COUNT_HOURS_UNDER:
            hours = int(left.total_seconds() // 3600)
            return f"Closes in {hours} hour{'' if hours == 1 else 's'}"
        days = calendar_days_between(now, self.closes_at, tz, ending=True)
        at = time_in_words(self.closes_at, tz)
        if days == 0:
            return f"Closes today at {at}"
        if days == 1:
            return f"Closes tomorrow at {at}"
        return f"Closes in {days} days"


def local_date(value: datetime, tz: str = DEFAULT_TZ, *, ending: bool = False) -> date:
    """The calendar day a moment falls on there. An ending at midnight exactly belongs to the
    day it ends ("closes at midnight on Friday" is the end of Friday, not Saturday)."""
    when = local(value, tz)
    if ending and when.time() == datetime.min.time():
        return (when - timedelta(days=1)).date()
    return when.date()


def calendar_days_between(
    now: datetime, then: datetime, tz: str = DEFAULT_TZ, *, ending: bool = False
) -> int:
    """Whole calendar days from now's day to then's day there (0: today, 1: tomorrow).

    Counted on the calendar, not in 24-hour blocks, so a day with a clock change (23 or 25
    hours long) is still one day.
    """
    return (local_date(then, tz, ending=ending) - local_date(now, tz)).days


def moment_in_words(value: datetime, tz: str = DEFAULT_TZ, *, ending: bool = False) -> str:
    """ "Friday 5 February at 11:59pm". A start at midnight is just its day ("Monday 4
    January"); an ending at midnight is the end of the day before ("… at midnight")."""
    when = local(value, tz)
    at_midnight = when.time() == datetime.min.time()
    if at_midnight and not ending:
        return date_in_words(value, tz)
    if at_midnight and ending:
        day = when - timedelta(days=1)
        return f"{day:%A} {day.day} {day:%B} at midnight"
    return f"{date_in_words(value, tz)} at {time_in_words(value, tz)}"
