"""Participants: people taking part, known by a display name. No passwords, ever.

A participant may have no email at all (joined with a workshop code); if they gave one (theirs
or a parent's), they can come back by an emailed one-time link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app.config import Settings
from app.models import AgeBand, Participant
from app.services import audit, identity, outbox

PARTICIPANT_LINK = "participant_sign_in"
# A parent's address may be shared by brothers and sisters: one email names them all.
MAX_PEOPLE_PER_EMAIL = 10


def normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    return email or None


def create(
    session: Session,
    *,
    display_name: str,
    now: datetime,
    age_band: AgeBand | None = None,
    contact_email: str | None = None,
    contact_is_parent: bool = False,
    role_words: str | None = None,
) -> Participant:
    participant = Participant(
        display_name=display_name.strip()[:60],
        age_band=age_band,
        contact_email=normalise_email(contact_email),
        contact_is_parent=contact_is_parent and contact_email is not None,
        role_words=(role_words or "").strip()[:120] or None,
        created_at=now,
        last_active_at=now,
    )
    session.add(participant)
    session.flush()
    return participant


def find_by_email(session: Session, email: str) -> list[Participant]:
    wanted = normalise_email(email)
    if wanted is None:
        return []
    return list(
        session.exec(
            select(Participant)
            .where(func.lower(Participant.contact_email) == wanted)
            .order_by(col(Participant.id))
            .limit(MAX_PEOPLE_PER_EMAIL)
        )
    )


def sign_in_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/me/sign-in/link?token={token}"


def email_sign_in_link(session: Session, settings: Settings, email: str, now: datetime) -> None:
    """Email a link for each person who gave this address. Never say whether anyone did."""
    people = find_by_email(session, email)
    if not people:
        audit.record(session, None, "participant.sign_in_link_refused", reason="unknown")
        return
    lifetime = timedelta(minutes=settings.sign_in_link_minutes)
    lines = []
    for person in people:
        token = identity.issue_link_token(
            session, now, lifetime, PARTICIPANT_LINK, participant=person
        )
        lines.append(f"To sign in as {person.display_name}:\n{sign_in_url(settings, token)}\n")
    outbox.queue(
        session,
        to=normalise_email(email) or email,
        subject="Your link to get back into Heard",
        body=(
            "Hello,\n\nSomeone asked for a link to get back into Heard.\n\n"
            + "\n".join(lines)
            + f"\nEach link works once, for {settings.sign_in_link_minutes} minutes.\n"
            "If you did not ask for this, you can ignore this email.\n"
        ),
        now=now,
        participant_id=people[0].id if len(people) == 1 else None,
    )
    for person in people:
        audit.record(
            session,
            None,
            "participant.sign_in_link_sent",
            record_type="participant",
            record_id=person.id,
        )


def redeem_sign_in_link(session: Session, token: str, now: datetime) -> Participant | None:
    row = identity.redeem_link_token(session, token, PARTICIPANT_LINK, now)
    if row is None or row.participant_id is None:
        return None
    participant = session.get(Participant, row.participant_id)
    if participant is not None:
        participant.last_active_at = now
        session.add(participant)
    return participant


def find_by_id(session: Session, participant_id: int) -> Participant | None:
    return session.get(Participant, participant_id)
