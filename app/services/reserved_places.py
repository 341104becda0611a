"""Reserved places: places kept back from public sign-up, which staff give to people they invite.

A workshop has `capacity` places; `reserved_places` of them are kept back, so the public can
book `bookable_places`. A sign-up given by staff is marked `reserved`: it never uses up a
public place (see workshops.confirmed_count), and cancelling it frees a reserved place, not a
public one, so nobody is promoted from the waiting list into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlmodel import Session, select

from app.config import Settings
from app.forms import EmailAddress, FormModel, FormState
from app.models import AgeBand, ConsentPurpose, SignUp, SignUpStatus, Workshop, WorkshopStatus
from app.models.workshops import ACTIVE_SIGN_UP
from app.services import audit, consent, participants, signups
from app.services import workshops as workshop_service
from app.services.identity import Identity

# The words staff tick, stored with the consent so the record says exactly what was confirmed.
AGREED_WORDING = "They (or their parent or carer) agreed to take part"
AGREED_VERSION = "staff-take-part-1"
TEXT_MAX = signups.TEXT_MAX


class ReservedPlaceForm(FormModel):
    display_name: str = Field(max_length=60)
    age_band: Literal["under_13", "13_15", "16_17", "18_25", "26_plus"]
    whose: Literal["mine", "parent"]
    email: EmailAddress = Field(max_length=254)
    access_needs: str | None = Field(default=None, max_length=TEXT_MAX)
    reason: str | None = Field(default=None, max_length=TEXT_MAX)
    agreed: list[str] = []
    multi = ("agreed",)
    messages = {
        "display_name": {
            "missing": "Enter their name or nickname",
            "too_long": "Their name must be 60 characters or fewer",
        },
        "age_band": {"missing": "Choose how old they are", "invalid": "Choose how old they are"},
        "whose": {
            "missing": "Choose whose email address this is",
            "invalid": "Choose whose email address this is",
        },
        "email": {
            "missing": "Enter an email address. We send the confirmation to it",
            "too_long": "The email address must be 254 characters or fewer",
        },
        "access_needs": {"too_long": f"This must be {TEXT_MAX:,} characters or fewer"},
        "reason": {"too_long": f"The reason must be {TEXT_MAX:,} characters or fewer"},
    }

    @field_validator("display_name")
    @classmethod
    def _visible(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("Enter their name or nickname with at least one letter or number")
        return value

    @field_validator("agreed")
    @classmethod
    def _ticked(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to confirm they (or their parent or carer) agreed")
        return value


def check_form(
    settings: Settings, form: FormState[ReservedPlaceForm], workshop: Workshop | None = None
) -> None:
    """The rules across fields, all at once (from what was typed): a child who needs a
    parent's yes needs the parent's email, and someone outside the workshop's audience needs
    a reason (staff may invite anyone; the reason is kept with the place)."""
    values = form.values
    band = values.get("age_band")
    if (
        band in {b.value for b in AgeBand}
        and consent.needs_parent_consent(settings, AgeBand(band))
        and values.get("whose") == "mine"
    ):
        form.add_error(
            "whose",
            "Because of their age, we need their parent or carer's email address, "
            "so the parent or carer can say yes",
        )
    if (
        workshop is not None
        and band in {b.value for b in AgeBand}
        and not workshop.welcomes(band)
        and not str(values.get("reason") or "").strip()
    ):
        form.add_error(
            "reason",
            f"This workshop is for {workshop.audience_label.lower()}. Say why you are giving "
            "a place to someone of another age",
        )


def used(session: Session, workshop_id: int) -> int:
    """Reserved places given to people who still have them."""
    return workshop_service.confirmed_count(session, workshop_id, reserved=True)


def left(session: Session, workshop: Workshop) -> int:
    assert workshop.id is not None
    return max(workshop.reserved_places - used(session, workshop.id), 0)


def can_give_now(workshop: Workshop, now: datetime) -> bool:
    return workshop.status == WorkshopStatus.PUBLISHED and workshop.starts_at > now


@dataclass
class Given:
    result: Literal["given", "already", "none_left", "unavailable"]
    sign_up: SignUp | None = None


def give(
    session: Session,
    settings: Settings,
    workshop_id: int,
    form: ReservedPlaceForm,
    now: datetime,
    actor: Identity,
) -> Given:
    """Give one reserved place, under the workshop's lock, and email the usual confirmation."""
    workshop = signups.lock_workshop(session, workshop_id)
    if workshop is None or not can_give_now(workshop, now):
        return Given("unavailable")
    if left(session, workshop) <= 0:
        return Given("none_left")
    email = form.email.strip()
    existing = session.exec(
        select(SignUp).where(SignUp.workshop_id == workshop_id, SignUp.contact_key == email.lower())
    ).first()
    if existing is not None and existing.status in ACTIVE_SIGN_UP:
        return Given("already", existing)
    band = AgeBand(form.age_band)
    person = participants.create(
        session,
        display_name=form.display_name,
        now=now,
        age_band=band,
        contact_email=email,
        contact_is_parent=form.whose == "parent",
    )
    consent.give(
        session,
        person,
        ConsentPurpose.TAKE_PART,
        wording=AGREED_WORDING,
        version=AGREED_VERSION,
        now=now,
        given_by="staff",
    )
    if consent.needs_parent_consent(settings, band):
        consent.request_parent_consent(
            session, settings, person, email, now, context=f'the workshop "{workshop.title}"'
        )
    row = signups.write_sign_up(
        session,
        settings,
        existing,
        workshop_id=workshop_id,
        participant=person,
        answers=form.model_dump(),
        status=SignUpStatus.CONFIRMED,
        now=now,
        reserved=True,
    )
    signups.email_new_sign_up(session, settings, workshop, row, now)
    audit.record(
        session,
        actor,
        "sign_up.reserved_place_given",
        record_type="sign_up",
        record_id=row.id,
        workshop_id=workshop.id,
        participant_id=person.id,
        # The reason itself is kept with the place (the audit log holds no free text).
        **({"outside_audience": True} if not workshop.welcomes(band.value) else {}),
    )
    return Given("given", row)
