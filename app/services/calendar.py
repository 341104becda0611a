"""Calendar files (.ics) for a workshop, that any calendar app (and the icalendar package) reads."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from app.config import Settings
from app.models import Workshop


def location(workshop: Workshop) -> str:
    if workshop.is_in_person and workshop.is_online:
        return f"{workshop.place} (or online)"
    if workshop.is_in_person:
        return workshop.place or ""
    return "Online"


def workshop_ics(
    settings: Settings,
    workshop: Workshop,
    now: datetime,
    *,
    uid: str,
    joining_link: str | None = None,
    manage_url: str | None = None,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Heard//Workshops//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", workshop.starts_at)
    event.add("dtend", workshop.ends_at)
    event.add("summary", workshop.title)
    event.add("location", location(workshop))
    lines = [workshop.description]
    if joining_link:
        lines.append(f"Joining link: {joining_link}")
    if manage_url:
        lines.append(f"Can't come any more? {manage_url}")
    event.add("description", "\n\n".join(lines))
    if manage_url:
        event.add("url", manage_url)
    if workshop.status.value == "cancelled":
        event.add("status", "CANCELLED")
    calendar.add_component(event)
    return calendar.to_ical()
