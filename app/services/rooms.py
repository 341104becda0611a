"""A workshop's room: joining on the day with a code, no email and no password.

Two ways in. A join code makes a new person for today (a code is shared out loud, so it
never hands over anyone's identity). Someone who signed up joins from the link in their
email instead (`enter_with_sign_up`): that link is the proof that the sign-up is theirs.
A sign-up's reference is not proof of anything: staff see it, and it is in exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlmodel import Session, select

from app.config import Settings
from app.forms import FormModel
from app.models import (
    AgeBand,
    ConsentPurpose,
    ConsentState,
    Participant,
    SignUp,
    SignUpStatus,
    Workshop,
    WorkshopAttendance,
)
from app.services import consent, participants
from app.services import workshops as workshop_service

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


class JoinForm(FormModel):
    display_name: str = Field(max_length=60)
    agree: list[str] = []
    multi = ("agree",)
    messages = {
        "display_name": {
            "missing": "Enter a name other people in the workshop will see",
            "too_long": "Your name must be 60 characters or fewer",
        },
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


def enter(
    session: Session,
    workshop: Workshop,
    form: JoinForm,
    now: datetime,
    current: Participant | None,
) -> Participant:
    """Let someone in with a join code; returns who they are now (a new participant, usually)."""
    assert workshop.id is not None
    participant: Participant | None = None
    if (
        current is not None
        and in_room(session, workshop.id, current.id)
        and current.display_name.casefold() == form.display_name.strip().casefold()
    ):
        # The same person coming back in. Anyone else on a shared or borrowed phone gets
        # a new identity of their own, never the last person's.
        participant = current
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
    _attend(session, workshop, participant, now, sign_up=None)
    return participant


# --- joining with a sign-up, from the link in the email ---------------------------------


def entry_problem(
    session: Session, settings: Settings, participant: Participant, sign_up: SignUp | None = None
) -> Literal["take_part", "parent"] | None:
    """Why this person can't come into the room now, or None if they can.

    "take_part": they have not said yes to taking part (or said stop). "parent": their age
    needs a parent or carer to say yes, and they have not. The sign-up's own age answer counts
    as well as the person's, so a person record made some other way can't skip the parent.
    """
    assert participant.id is not None
    if not consent.has_consent(session, participant.id, ConsentPurpose.TAKE_PART):
        return "take_part"
    if not consent.may_take_part(session, settings, participant):
        return "parent"
    sign_up_needs_parent = sign_up is not None and consent.needs_parent_consent(
        settings, AgeBand(sign_up.age_band)
    )
    if sign_up_needs_parent and (
        consent.parent_consent_status(session, participant.id) != ConsentState.GIVEN
    ):
        return "parent"
    return None


def may_enter(
    session: Session, settings: Settings, participant: Participant, sign_up: SignUp | None = None
) -> bool:
    return entry_problem(session, settings, participant, sign_up) is None


def join_open(settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime) -> bool:
    """A confirmed place, in the same window as the workshop's join code."""
    return sign_up.status == SignUpStatus.CONFIRMED and workshop_service.code_works_now(
        settings, workshop, now
    )


@dataclass
class SignUpEntry:
    result: Literal["in", "closed", "waiting_for_parent"]
    participant: Participant | None = None


def enter_with_sign_up(
    session: Session, settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime
) -> SignUpEntry:
    """Let the person who signed up into the room, and mark them as here.

    Only from the sign-up's own link (the caller found it by its manage token). "closed":
    no confirmed place, or not within the join code's window; "waiting_for_parent": their
    parent or carer has not said yes.
    """
    participant = session.get(Participant, sign_up.participant_id)
    if participant is None or not join_open(settings, workshop, sign_up, now):
        return SignUpEntry("closed")
    problem = entry_problem(session, settings, participant, sign_up)
    if problem == "parent":
        return SignUpEntry("waiting_for_parent", participant)
    if problem is not None:
        return SignUpEntry("closed")
    participant.last_active_at = now
    session.add(participant)
    if sign_up.checked_in_at is None:
        sign_up.checked_in_at = now
        session.add(sign_up)
    session.flush()
    _attend(session, workshop, participant, now, sign_up=sign_up)
    return SignUpEntry("in", participant)


def sign_up_in_room(session: Session, workshop_id: int, participant_id: int) -> SignUp | None:
    """The sign-up this person came into the room with (None: they came with a code)."""
    sign_up_id = session.exec(
        select(WorkshopAttendance.sign_up_id).where(
            WorkshopAttendance.workshop_id == workshop_id,
            WorkshopAttendance.participant_id == participant_id,
        )
    ).first()
    return session.get(SignUp, sign_up_id) if sign_up_id else None


def _attend(
    session: Session,
    workshop: Workshop,
    participant: Participant,
    now: datetime,
    *,
    sign_up: SignUp | None,
) -> None:
    assert workshop.id is not None and participant.id is not None
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
