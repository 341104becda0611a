"""Times in words, in UK time: "Friday 5 February at 11:59pm"."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/London"


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(value: datetime, tz: str = DEFAULT_TZ) -> datetime:
    return value.astimezone(_zone(tz))


def time_in_words(value: datetime, tz: str = DEFAULT_TZ) -> str:
    when = local(value, tz)
    if when.hour == 12 and when.minute == 0:
        return "midday"
    if when.hour == 0 and when.minute == 0:
        return "midnight"
    hour = when.hour % 12 or 12
    suffix = "am" if when.hour < 12 else "pm"
    return f"{hour}{suffix}" if when.minute == 0 else f"{hour}:{when.minute:02d}{suffix}"


def date_in_words(value: datetime, tz: str = DEFAULT_TZ, *, year: bool = False) -> str:
    when = local(value, tz)
    text = f"{when:%A} {when.day} {when:%B}"
    return f"{text} {when.year}" if year else text


def in_words(value: datetime | None, tz: str = DEFAULT_TZ, *, year: bool = False) -> str:
    if value is None:
        return ""
    return f"{date_in_words(value, tz, year=year)} at {time_in_words(value, tz)}"


def other_year(value: datetime, now: datetime, tz: str = DEFAULT_TZ) -> bool:
    """True when `value` falls in another year than `now` (so its date needs the year)."""
    return local(value, tz).year != local(now, tz).year


def in_words_from(value: datetime | None, now: datetime, tz: str = DEFAULT_TZ) -> str:
    """`in_words`, with the year when it isn't this year ("Monday 4 January 2027 at 9am")."""
    if value is None:
        return ""
    return in_words(value, tz, year=other_year(value, now, tz))
