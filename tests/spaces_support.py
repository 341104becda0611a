"""Shared set-up for the spaces, moderation and safeguarding tests: a workshop whose room has
a space with one question, people who joined with the code, and signing in as them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from app.models import Participant, Role, Space, SpaceMode, StaffUser, Thread, Workshop
from app.services import rooms, spaces_staff
from app.services.identity import Identity
from tests.conftest import build_workshop
from tests.factories import make_staff, sign_in


@dataclass
class Room:
    workshop: Workshop
    space: Space
    thread: Thread
    admin: StaffUser

    @property
    def thread_url(self) -> str:
        return f"/spaces/{self.space.id}/threads/{self.thread.id}"


def a_room(
    session: Session,
    now: datetime,
    *,
    mode: SpaceMode = SpaceMode.PRE_MODERATED,
    audience: str = "young_people",
    prompt: str = "What would have made moving home easier?",
    **workshop: Any,
) -> Room:
    values: dict[str, Any] = {"starts_at": now + timedelta(minutes=5), "audience": audience}
    values.update(workshop)
    place = build_workshop(session, now, **values)
    admin = make_staff(session, Role.ADMIN)
    who = Identity(staff=admin, roles={(Role.ADMIN, None)})
    space = spaces_staff.open_for_workshop(session, place, who, now)
    space.mode = mode
    session.add(space)
    thread = spaces_staff.add_thread(session, space, prompt, who, now)
    session.commit()
    return Room(place, space, thread, admin)


def join(session: Session, room: Room, name: str, now: datetime) -> Participant:
    """In the room with the join code: no account, no email."""
    form = rooms.JoinForm(display_name=name, agree=["yes"])
    person = rooms.enter(session, room.workshop, form, now, None)
    session.commit()
    return person


def as_person(client: Any, session: Session, person: Participant, now: datetime) -> None:
    sign_in(client, session, participant=person, now=now)


def as_staff(client: Any, session: Session, member: StaffUser, now: datetime) -> None:
    sign_in(client, session, staff=member, now=now)


def post(client: Any, room: Room, text: str) -> Any:
    return client.submit(room.thread_url, {"body": text})


def sent_id(response: Any) -> int:
    found = re.search(r"sent=(\d+)", response.headers.get("location", ""))
    assert found, (response.status_code, response.headers.get("location"))
    return int(found.group(1))
