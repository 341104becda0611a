"""Factories for test data, and signing a test client in as someone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.models import AgeBand, Participant, Programme, Role, StaffRole, StaffUser
from app.security import new_token
from app.services import identity
from app.services import staff as staff_service

_counter = itertools.count(1)
COOKIE = "heard_session"


def make_staff(session: Session, *roles: Role, email: str | None = None) -> StaffUser:
    email = email or f"staff{next(_counter)}@heard.example.org"
    member = staff_service.create_or_update(
        session, email, list(roles), display_name=email.split("@")[0]
    )
    session.flush()
    return member


def make_programme(session: Session, title: str | None = None) -> Programme:
    n = next(_counter)
    programme = Programme(
        slug=f"programme-{n}", title=title or f"Programme {n}", summary="For tests"
    )
    session.add(programme)
    session.flush()
    return programme


def make_programme_staff(
    session: Session, role: Role, programme: Programme, *, email: str | None = None
) -> StaffUser:
    """A member of staff who holds `role` in this one programme only."""
    member = make_staff(session, email=email)
    session.add(StaffRole(staff_id=member.id, role=role, programme_id=programme.id))
    session.flush()
    return member


def make_participant(
    session: Session,
    name: str | None = None,
    *,
    age_band: AgeBand | None = AgeBand.FROM_16_TO_17,
    email: str | None = None,
) -> Participant:
    participant = Participant(
        display_name=name or f"Sky {next(_counter)}", age_band=age_band, contact_email=email
    )
    session.add(participant)
    session.flush()
    return participant


def sign_in(
    client: object,
    session: Session,
    *,
    staff: StaffUser | None = None,
    participant: Participant | None = None,
    now: datetime | None = None,
) -> str:
    """Give the client a signed-in session cookie, as the real sign-in would."""
    token = new_token()
    when = now or datetime.now(UTC)
    lifetime = timedelta(minutes=30) if staff else timedelta(days=90)
    identity.start_session(session, token, when, lifetime, staff=staff, participant=participant)
    session.commit()
    client.cookies.clear()  # type: ignore[attr-defined]
    client.cookies.set(COOKIE, token, domain="testserver.local")  # type: ignore[attr-defined]
    return token
