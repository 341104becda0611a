"""A workshop's room: joining on the day with a code, no email and no password."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator
from sqlmodel import Session, select

from app.forms import FormModel, FormState
from app.models import (
    ConsentPurpose,
    Participant,
    SignUp,
    Workshop,
    WorkshopAttendance,
)
from app.models.workshops import ACTIVE_SIGN_UP
from app.services import consent, participants

HOUSE_RULES = (
    "Be kind. Listen when other people talk.",
    "Only share what you want to share. You can stop at any time.",
    "Don't share anyone's name, school or address, or your own.",
    "If something worries you, tell a facilitator. You can leave at any time.",
)
JOIN_WORDING = (
    "I have read the house rules and what happens to what I say, and I want to take part. "
    "I know I can stop at any time."
)
JOIN_VERSION = "workshop-room-1"
NO_SIGN_UP = (
    "We couldn't find a sign-up with that reference and email address. "
    "Check them, or leave both empty."
)


class JoinForm(FormModel):
    display_name: str = Field(max_length=60)
    reference: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)
    agree: list[str] = []
    multi = ("agree",)
    messages = {
        "display_name": {
            "missing": "Enter a name other people in the workshop will see",
            "too_long": "Your name must be 60 characters or fewer",
        },
        "reference": {"too_long": NO_SIGN_UP},
        "email": {"too_long": NO_SIGN_UP},
    }

    @field_validator("display_name")
    @classmethod
    def _visible(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("Enter a name with at least one letter or number")
        return value

    @field_validator("agree")
    @classmethod
    def _agreed(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to say you agree to the house rules")
        return value


def linked_sign_up(session: Session, workshop: Workshop, form: JoinForm) -> SignUp | None:
    if not form.reference or not form.email:
        return None
    row = session.exec(
        select(SignUp).where(
            SignUp.workshop_id == workshop.id,
            SignUp.reference == form.reference.strip().upper(),
            SignUp.contact_key == form.email.strip().lower(),
        )
    ).first()
    return row if row is not None and row.status in ACTIVE_SIGN_UP else None


def check_link(session: Session, workshop: Workshop, state: FormState[JoinForm]) -> None:
    """If they typed a reference or email, both must match a sign-up for this workshop."""
    form = state.data
    if form is None or not (form.reference or form.email):
        return
    if linked_sign_up(session, workshop, form) is None:
        state.add_error("reference", NO_SIGN_UP)


def enter(
    session: Session,
    workshop: Workshop,
    form: JoinForm,
    now: datetime,
    current: Participant | None,
) -> Participant:
    """Let someone into the room; returns who they are now (a new participant, usually)."""
    assert workshop.id is not None
    sign_up = linked_sign_up(session, workshop, form)
    participant: Participant | None
    if sign_up is not None:
        participant = session.get(Participant, sign_up.participant_id)
        if sign_up.checked_in_at is None:
            sign_up.checked_in_at = now
            session.add(sign_up)
    elif (
        current is not None
        and in_room(session, workshop.id, current.id)
        and current.display_name.casefold() == form.display_name.strip().casefold()
    ):
        # The same person coming back in. Anyone else on a shared or borrowed phone gets
        # a new identity of their own, never the last person's.
        participant = current
    else:
        participant = None
    if participant is None:
        participant = participants.create(session, display_name=form.display_name, now=now)
    participant.display_name = form.display_name.strip()[:60]
    participant.last_active_at = now
    session.add(participant)
    session.flush()
    consent.give(
        session,
        participant,
        ConsentPurpose.TAKE_PART,
        wording=JOIN_WORDING,
        version=JOIN_VERSION,
        now=now,
    )
    assert participant.id is not None
    if not in_room(session, workshop.id, participant.id):
        session.add(
            WorkshopAttendance(
                workshop_id=workshop.id,
                participant_id=participant.id,
                sign_up_id=sign_up.id if sign_up else None,
                joined_at=now,
            )
        )
        session.flush()
    return participant


def in_room(session: Session, workshop_id: int, participant_id: int | None) -> bool:
    if participant_id is None:
        return False
    return (
        session.exec(
            select(WorkshopAttendance.id).where(
                WorkshopAttendance.workshop_id == workshop_id,
                WorkshopAttendance.participant_id == participant_id,
            )
        ).first()
        is not None
    )
