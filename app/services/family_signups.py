"""A parent or carer signs up their child (or two children) in one journey.

The questions speak to the parent. The parent says yes for their child in the same journey,
so nobody is emailed to approve what they have just filled in, and they get one email for
every child. Each child gets their own sign-up (their own place, reference and links), kept
unique in the workshop by the parent's email and the child's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from app import emails
from app.config import Settings
from app.forms import EmailAddress, FormModel, FormState, empty_form, parse_form
from app.models import (
    AgeBand,
    ConsentPurpose,
    ConsentState,
    SignUp,
    SignUpDraft,
    SignUpStatus,
    Workshop,
    WorkshopMode,
)
from app.models.workshops import ACTIVE_SIGN_UP
from app.services import consent, outbox, participants, signups
from app.services import workshops as workshop_service
from app.services.outbox import Attachment

TEXT_MAX = signups.TEXT_MAX
AgeChoice = Literal["under_13", "13_15", "16_17", "18_25", "26_plus"]
TAKE_PART_WORDING = (
    "I am their parent or carer. I agree that they can take part. I know they can stop at any time."
)
TAKE_PART_VERSION = "parent-take-part-1"


class ChildrenForm(FormModel):
    child_name: str = Field(max_length=60)
    child_age: AgeChoice
    second_name: str | None = Field(default=None, max_length=60)
    second_age: AgeChoice | None = None
    messages = {
        "child_name": {
            "missing": "Enter your child's first name or nickname",
            "too_long": "Their name must be 60 characters or fewer",
        },
        "child_age": {"missing": "Choose how old your child is", "invalid": "Choose their age"},
        "second_name": {"too_long": "Their name must be 60 characters or fewer"},
        "second_age": {"invalid": "Choose how old your second child is"},
    }

    @field_validator("child_name", "second_name")
    @classmethod
    def _visible(cls, value: str | None) -> str | None:
        if value is not None and not any(ch.isalnum() for ch in value):
            raise ValueError("Enter a name with at least one letter or number")
        return value


class ParentContactForm(FormModel):
    email: EmailAddress = Field(max_length=254)
    messages = {
        "email": {
            "missing": "Enter your email address",
            "too_long": "Your email address must be 254 characters or fewer",
        }
    }


class ChildAccessForm(FormModel):
    access_needs: str | None = Field(default=None, max_length=TEXT_MAX)
    second_access_needs: str | None = Field(default=None, max_length=TEXT_MAX)
    messages = {
        "access_needs": {"too_long": f"This must be {TEXT_MAX:,} characters or fewer"},
        "second_access_needs": {"too_long": f"This must be {TEXT_MAX:,} characters or fewer"},
    }


class ParentYesForm(FormModel):
    parent_agree: list[str] = []
    multi = ("parent_agree",)

    @field_validator("parent_agree")
    @classmethod
    def _ticked(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to say yes for your child")
        return value


STEPS: dict[str, type[FormModel]] = {
    "children": ChildrenForm,
    "contact": ParentContactForm,
    "how": signups.AttendForm,
    "travel": signups.TravelForm,
    "access": ChildAccessForm,
    "consent": ParentYesForm,
}
STEP_ORDER = list(STEPS)


def offered(workshop: Workshop) -> bool:
    """Parents sign children up for workshops for children and young people."""
    return workshop.for_children


def steps_for(workshop: Workshop, answers: dict[str, Any]) -> list[str]:
    skip = set()
    if workshop.mode != WorkshopMode.BOTH:
        skip.add("how")
    in_person = workshop.is_in_person and answers.get("attend_mode") != "online"
    if not workshop.pays_travel or not in_person:
        skip.add("travel")
    return [step for step in STEP_ORDER if step not in skip]


def next_step(step: str, workshop: Workshop, answers: dict[str, Any]) -> str:
    order = steps_for(workshop, answers)
    index = order.index(step) if step in order else len(order) - 1
    return order[index + 1] if index + 1 < len(order) else "check"


def previous_step(step: str, workshop: Workshop, answers: dict[str, Any]) -> str | None:
    order = steps_for(workshop, answers)
    if step == "check":
        return order[-1]
    index = order.index(step) if step in order else 0
    return order[index - 1] if index > 0 else None


# --- answers so far, in their own draft (apart from a young person's own sign-up) ---------


def draft_key(settings: Settings, browser_token: str) -> str:
    return signups.browser_key(settings, "family|" + browser_token)


def load_answers(session: Session, key: str, workshop_id: int) -> dict[str, Any]:
    draft = signups._draft(session, key, workshop_id)
    return readable(draft.answers) if draft else {}


def readable(answers: Any) -> dict[str, Any]:
    """Only known answers of the right kind (see signups.readable)."""
    if not isinstance(answers, dict):
        return {}
    kept: dict[str, Any] = {}
    for model in STEPS.values():
        for name in model.model_fields:
            value = answers.get(name)
            if name in model.multi:
                fits = isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                choices = signups._choices(model, name)
                fits = isinstance(value, str) and (choices is None or value in choices)
            if fits:
                kept[name] = value
    return kept


def save_answers(
    session: Session, key: str, workshop_id: int, values: dict[str, Any], now: datetime
) -> None:
    draft = signups._draft(session, key, workshop_id)
    if draft is None:
        draft = SignUpDraft(browser_key=key, workshop_id=workshop_id, created_at=now, answers={})
    draft.answers = {**readable(draft.answers), **values}
    draft.updated_at = now
    session.add(draft)
    session.flush()


def keepable(step: str, state: FormState[Any]) -> dict[str, Any]:
    model = STEPS[step]
    return {
        name: value
        for name, value in state.values.items()
        if name not in state.errors or signups._choices(model, name) is None
    }


def step_form(step: str, answers: dict[str, Any]) -> FormState[Any]:
    model = STEPS[step]
    return empty_form(model, **{k: answers[k] for k in model.model_fields if k in answers})


def check_step(workshop: Workshop, step: str, data: Any) -> FormState[Any]:
    """One page's answers, with every problem on the page at once."""
    state = parse_form(STEPS[step], data)
    if step == "children":
        values = state.values
        if values.get("second_name") and not values.get("second_age"):
            state.add_error("second_age", "Choose how old your second child is")
        if values.get("second_age") and not values.get("second_name"):
            state.add_error("second_name", "Enter your second child's first name or nickname")
        for name in ("child_age", "second_age"):
            band = values.get(name)
            if band and name not in state.errors and not workshop.welcomes(str(band)):
                state.add_error(
                    name,
                    f"This workshop is for {workshop.audience_label.lower()}. "
                    "Look at our other workshops for children of this age",
                )
    return state


def first_unanswered(workshop: Workshop, answers: dict[str, Any]) -> str | None:
    from starlette.datastructures import FormData

    for step in steps_for(workshop, answers):
        items: list[tuple[str, Any]] = []
        for name in STEPS[step].model_fields:
            value = answers.get(name)
            if isinstance(value, list):
                items.extend((name, v) for v in value)
            elif value is not None:
                items.append((name, str(value)))
        if not check_step(workshop, step, FormData(items)).ok:
            return step
    return None


@dataclass
class Child:
    name: str
    age_band: str
    access_needs: str | None

    @property
    def age_label(self) -> str:
        return AgeBand(self.age_band).label


def children(answers: dict[str, Any]) -> list[Child]:
    found = [
        Child(
            str(answers.get("child_name") or ""),
            str(answers.get("child_age") or ""),
            answers.get("access_needs") or None,
        )
    ]
    if answers.get("second_name"):
        found.append(
            Child(
                str(answers["second_name"]),
                str(answers.get("second_age") or ""),
                answers.get("second_access_needs") or None,
            )
        )
    return [c for c in found if c.name]


def names_in_words(names: list[str]) -> str:
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def parent_wording(workshop: Workshop, names: list[str]) -> str:
    return consent.PARENT_WORDING.format(
        name=names_in_words(names) or "my child", context=f'the workshop "{workshop.title}"'
    )


# --- signing them up ---------------------------------------------------------------------


@dataclass
class FamilyOutcome:
    result: Literal["done", "unavailable"]
    sign_ups: list[SignUp] = field(default_factory=list)


def contact_key(email: str, child_name: str) -> str:
    """Unique per workshop: the parent's email and the child (two children, one email)."""
    name = participants.clean_display_name(child_name).casefold()
    return f"{email.lower()}#child:{name}"[:254]


def sign_up_children(
    session: Session,
    settings: Settings,
    workshop_id: int,
    answers: dict[str, Any],
    now: datetime,
    *,
    draft: str | None = None,
) -> FamilyOutcome:
    """A place (or a place on the waiting list) for each child, the parent's yes recorded as
    given in the same journey, and one email to the parent. `answers` passed every page."""
    workshop = signups.lock_workshop(session, workshop_id)
    if workshop is None:
        return FamilyOutcome("unavailable")
    confirmed = workshop_service.confirmed_count(session, workshop_id)
    if not workshop_service.availability(workshop, confirmed, now).can_sign_up:
        return FamilyOutcome("unavailable")
    kids = children(answers)
    if not kids or not all(workshop.welcomes(kid.age_band) for kid in kids):
        return FamilyOutcome("unavailable")
    email = str(answers["email"]).strip()
    names = [participants.clean_display_name(kid.name) for kid in kids]
    wording = parent_wording(workshop, names)
    rows: list[SignUp] = []
    for kid in kids:
        key = contact_key(email, kid.name)
        existing = session.exec(
            select(SignUp).where(SignUp.workshop_id == workshop_id, SignUp.contact_key == key)
        ).first()
        if existing is not None and existing.status in ACTIVE_SIGN_UP:
            rows.append(existing)  # signed up already: the email says so, nothing changes
            continue
        child = participants.create(
            session,
            display_name=kid.name,
            now=now,
            age_band=AgeBand(kid.age_band),
            contact_email=email,
            contact_is_parent=True,
        )
        consent.give(
            session,
            child,
            ConsentPurpose.TAKE_PART,
            wording=TAKE_PART_WORDING,
            version=TAKE_PART_VERSION,
            now=now,
            given_by="parent",
            given_how="sign_up",
        )
        consent.give(
            session,
            child,
            ConsentPurpose.PARENT_CONSENT,
            wording=wording,
            version=consent.PARENT_VERSION,
            now=now,
            given_by="parent",
            given_how="sign_up",
            parent_email=email,
            state=ConsentState.GIVEN,
        )
        status = (
            SignUpStatus.CONFIRMED if confirmed < workshop.bookable_places else SignUpStatus.WAITING
        )
        confirmed += status == SignUpStatus.CONFIRMED
        row = signups.write_sign_up(
            session,
            settings,
            existing,
            workshop_id=workshop_id,
            participant=child,
            answers={
                "display_name": kid.name,
                "age_band": kid.age_band,
                "email": email,
                "whose": "parent",
                "access_needs": kid.access_needs,
                "attend_mode": answers.get("attend_mode"),
                "travel": answers.get("travel"),
            },
            status=status,
            now=now,
            contact_key=key,
        )
        rows.append(row)
    signups._forget_draft(session, draft, workshop_id)
    email_parent(session, settings, workshop, rows, now)
    return FamilyOutcome("done", rows)


def _status_words(session: Session, row: SignUp) -> str:
    if row.status == SignUpStatus.CONFIRMED:
        return "has a place"
    if row.status == SignUpStatus.WAITING:
        words = signups.waiting_words(signups.waiting_position(session, row))
        return "is" + words.removeprefix("You're")
    return "does not have a place"


def email_parent(
    session: Session, settings: Settings, workshop: Workshop, rows: list[SignUp], now: datetime
) -> None:
    """One email for every child: each one's place (or waiting list number) and links."""
    if not rows:
        return
    children = [
        {
            "name": row.display_name,
            "status": _status_words(session, row),
            "reference": row.reference,
            "urls": signups.links(settings, row),
        }
        for row in rows
    ]
    first = rows[0]
    names = names_in_words([row.display_name for row in rows])
    places = [row for row in rows if row.status == SignUpStatus.CONFIRMED]
    mail = emails.render(
        "workshops/family_signed_up",
        settings,
        now,
        workshop=workshop,
        names=names,
        children=children,
        where=signups.where(workshop, first),
    )
    attachments = (
        (
            Attachment(
                "workshop.ics", "text/calendar", signups.ics_for(settings, workshop, places[0], now)
            ),
        )
        if places
        else ()
    )
    outbox.queue(
        session,
        to=first.contact_email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        attachments=attachments,
        participant_id=first.participant_id,
    )


def family_of(session: Session, settings: Settings, sign_up: SignUp) -> list[SignUp]:
    """The other children a parent signed up to the same workshop with the same email."""
    if not sign_up.contact_is_parent or "#child:" not in sign_up.contact_key:
        return []
    prefix = sign_up.contact_key.split("#child:")[0] + "#child:"
    return list(
        session.exec(
            select(SignUp)
            .where(
                SignUp.workshop_id == sign_up.workshop_id,
                col(SignUp.contact_key).startswith(prefix, autoescape=True),
                SignUp.id != sign_up.id,
                col(SignUp.status).in_(list(ACTIVE_SIGN_UP)),
            )
            .order_by(col(SignUp.id))
        ).all()
    )
