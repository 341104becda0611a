"""Signing up for a workshop: answers kept as a draft, exact places, the waiting list, emails.

Places are exact however many people press "Sign up" at once: `sign_up` and `cancel` lock the
workshop's row first (SELECT ... FOR UPDATE on PostgreSQL; on SQLite every writing
transaction starts with BEGIN IMMEDIATE, so writers already queue one at a time), then count.
A unique (workshop, contact) constraint makes a duplicate impossible even so.
"""

from __future__ import annotations

import base64
import csv
import hmac
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args, get_origin

from pydantic import Field, field_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import emails, events
from app.config import Settings
from app.forms import EmailAddress, FormModel, FormState, empty_form, parse_form
from app.models import (
    AgeBand,
    ConsentPurpose,
    ConsentState,
    Participant,
    SignUp,
    SignUpDraft,
    SignUpStatus,
    Workshop,
    WorkshopAttendance,
    WorkshopMode,
    WorkshopStatus,
)
from app.models.participants import AGE_BAND_LABELS
from app.models.workshops import ACTIVE_SIGN_UP, SIGN_UP_RETENTION, ErasedLink
from app.security import token_hash
from app.services import audit, calendar, consent, jobs, outbox, participants
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.services.outbox import Attachment
from app.timefmt import in_words

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
TEXT_MAX = 1000

# --- the questions, one per page -------------------------------------------------------


class NameForm(FormModel):
    display_name: str = Field(max_length=60)
    messages = {
        "display_name": {
            "missing": "Enter a name or nickname",
            "too_long": "Your name must be 60 characters or fewer",
        }
    }

    @field_validator("display_name")
    @classmethod
    def _visible(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("Enter a name or nickname with at least one letter or number")
        return value


class AgeForm(FormModel):
    age_band: Literal["under_13", "13_15", "16_17", "18_25", "26_plus"]
    messages = {
        "age_band": {"missing": "Choose how old you are", "invalid": "Choose how old you are"}
    }


class ContactForm(FormModel):
    whose: Literal["mine", "parent"]
    email: EmailAddress = Field(max_length=254)
    messages = {
        "whose": {"missing": "Choose whose email address this is"},
        "email": {
            "missing": "Enter an email address",
            "too_long": "The email address must be 254 characters or fewer",
        },
    }


class AccessForm(FormModel):
    access_needs: str | None = Field(default=None, max_length=TEXT_MAX)
    messages = {"access_needs": {"too_long": f"This must be {TEXT_MAX:,} characters or fewer"}}


class AnythingElseForm(FormModel):
    anything_else: str | None = Field(default=None, max_length=TEXT_MAX)
    messages = {"anything_else": {"too_long": f"This must be {TEXT_MAX:,} characters or fewer"}}


class ConsentForm(FormModel):
    agree: list[str] = []
    multi = ("agree",)

    @field_validator("agree")
    @classmethod
    def _ticked(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to say you want to take part")
        return value


class AttendForm(FormModel):
    """Asked only when a workshop is both in person and online."""

    attend_mode: Literal["in_person", "online"]
    messages = {
        "attend_mode": {
            "missing": "Choose if you will come in person or join online",
            "invalid": "Choose if you will come in person or join online",
        }
    }


class TravelForm(FormModel):
    """Asked only when the workshop pays people's travel."""

    travel: Literal["yes", "no"]
    messages = {
        "travel": {
            "missing": "Choose yes if you want us to pay for your travel",
            "invalid": "Choose yes if you want us to pay for your travel",
        }
    }


STEPS: dict[str, type[FormModel]] = {
    "name": NameForm,
    "age": AgeForm,
    "contact": ContactForm,
    "how": AttendForm,
    "travel": TravelForm,
    "access": AccessForm,
    "anything-else": AnythingElseForm,
    "consent": ConsentForm,
}
STEP_ORDER = list(STEPS)


def steps_for(workshop: Workshop | None, answers: dict[str, Any] | None = None) -> list[str]:
    """The questions this workshop asks: "how" only when it is in person and online, and
    "travel" only when it pays travel (and the person may come in person)."""
    answers = answers or {}
    skip = set()
    if workshop is None or workshop.mode != WorkshopMode.BOTH:
        skip.add("how")
    coming_in_person = workshop is not None and workshop.is_in_person
    if workshop is not None and workshop.mode == WorkshopMode.BOTH:
        coming_in_person = answers.get("attend_mode") != "online"
    if workshop is None or not workshop.pays_travel or not coming_in_person:
        skip.add("travel")
    return [step for step in STEP_ORDER if step not in skip]


def next_step(step: str, workshop: Workshop | None = None, answers: Any = None) -> str:
    order = steps_for(workshop, answers)
    index = order.index(step) if step in order else len(order) - 1
    return order[index + 1] if index + 1 < len(order) else "check"


def previous_step(step: str, workshop: Workshop | None = None, answers: Any = None) -> str | None:
    order = steps_for(workshop, answers)
    if step == "check":
        return order[-1]
    index = order.index(step) if step in order else 0
    return order[index - 1] if index > 0 else None


def looks_like_full_name(name: str) -> bool:
    """Two or more words of letters, each longer than an initial ("Sky Brown", not "Sky B"):
    probably a full name, which others in the workshop may see. A nudge, never a refusal."""
    words = name.split()
    return len(words) >= 2 and all(
        len(word) > 1 and word.replace("-", "").replace("'", "").isalpha() for word in words
    )


# --- drafts: answers so far, on the server ---------------------------------------------


def browser_key(settings: Settings, browser_token: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), b"draft|" + browser_token.encode(), "sha256"
    ).hexdigest()


def load_answers(session: Session, key: str, workshop_id: int) -> dict[str, Any]:
    draft = _draft(session, key, workshop_id)
    return readable(draft.answers) if draft else {}


def readable(answers: Any) -> dict[str, Any]:
    """A stored draft as the pages can use it. Anything unknown, of the wrong kind or not one
    of a question's choices is dropped (that question is simply asked again): a draft saved
    by an older version, or by a bug, must never break a page."""
    if not isinstance(answers, dict):
        return {}
    kept: dict[str, Any] = {}
    for model in STEPS.values():
        for name in model.model_fields:
            value = answers.get(name)
            if name in model.multi:
                fits = isinstance(value, list) and all(isinstance(v, str) for v in value)
            else:
                choices = _choices(model, name)
                fits = isinstance(value, str) and (choices is None or value in choices)
            if fits:
                kept[name] = value
    return kept


def keepable(step: str, state: FormState[Any]) -> dict[str, Any]:
    """What of a page's answers goes into the draft: everything that passed, and text typed
    into a field that needs fixing (nothing typed is lost), but never an answer that isn't
    one of the choices (age_band=bogus would break every later page)."""
    model = STEPS[step]
    return {
        name: value
        for name, value in state.values.items()
        if name not in state.errors or _choices(model, name) is None
    }


def _choices(model: type[FormModel], name: str) -> tuple[str, ...] | None:
    """A choice question's allowed answers (its Literal), or None for free text."""
    annotation = model.model_fields[name].annotation
    return get_args(annotation) if get_origin(annotation) is Literal else None


def _draft(session: Session, key: str, workshop_id: int) -> SignUpDraft | None:
    return session.exec(
        select(SignUpDraft).where(
            SignUpDraft.browser_key == key, SignUpDraft.workshop_id == workshop_id
        )
    ).first()


def save_answers(
    session: Session,
    key: str,
    workshop_id: int,
    values: dict[str, Any],
    now: datetime,
    participant_id: int | None = None,
) -> None:
    draft = _draft(session, key, workshop_id)
    if draft is None:
        draft = SignUpDraft(
            browser_key=key,
            workshop_id=workshop_id,
            participant_id=participant_id,
            created_at=now,
            answers={},
        )
    answers = readable(draft.answers)
    answers.update(values)
    draft.answers = answers
    draft.updated_at = now
    session.add(draft)
    session.flush()


def step_form(step: str, answers: dict[str, Any]) -> FormState[Any]:
    model = STEPS[step]
    return empty_form(model, **{k: answers[k] for k in model.model_fields if k in answers})


def check_step(settings: Settings, step: str, data: Any, answers: dict[str, Any]) -> FormState[Any]:
    """Validate one page of answers (data: the posted form)."""
    state = parse_form(STEPS[step], data)
    band = answers.get("age_band")
    if (
        step == "contact"
        and isinstance(state.data, ContactForm)
        and band
        and consent.needs_parent_consent(settings, AgeBand(band))
        and state.data.whose != "parent"
    ):
        state.add_error(
            "whose",
            "Because of your age, we need your parent or carer's email address. "
            "Ask them to help you.",
        )
    return state


def first_unanswered(
    settings: Settings, answers: dict[str, Any], workshop: Workshop | None = None
) -> str | None:
    """The first page whose answers are missing or no longer valid (None: all done)."""
    from starlette.datastructures import FormData

    for step in steps_for(workshop, answers):
        model = STEPS[step]
        items: list[tuple[str, str | Any]] = []
        for name in model.model_fields:
            value = answers.get(name)
            if isinstance(value, list):
                items.extend((name, v) for v in value)
            elif value is not None:
                items.append((name, str(value)))
        if not check_step(settings, step, FormData(items), answers).ok:
            return step
    return None


# --- signing up ------------------------------------------------------------------------


@dataclass
class Outcome:
    result: Literal["confirmed", "waiting", "already", "unavailable"]
    sign_up: SignUp | None = None
    manage_token: str | None = None


def _token(settings: Settings, purpose: str, nonce: str) -> str:
    digest = hmac.new(
        settings.secret_key.encode(), f"{purpose}|{nonce}".encode(), "sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def manage_token(settings: Settings, sign_up: SignUp) -> str:
    """The link a person uses to see, add to calendar or cancel their place.

    Made from a random per-sign-up nonce and the secret key; only its hash is stored, and a
    copy of the database alone can't make one.
    """
    return _token(settings, "manage", sign_up.token_nonce)


def check_in_token(settings: Settings, sign_up: SignUp) -> str:
    return _token(settings, "check-in", sign_up.token_nonce)


def by_manage_token(session: Session, token: str) -> SignUp | None:
    if not token or len(token) > 100:
        return None
    return session.exec(select(SignUp).where(SignUp.manage_token_hash == token_hash(token))).first()


def by_check_in_token(session: Session, token: str) -> SignUp | None:
    if not token or len(token) > 100:
        return None
    return session.exec(
        select(SignUp).where(SignUp.check_in_token_hash == token_hash(token))
    ).first()


def _new_reference(session: Session) -> str:
    while True:
        reference = "W-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if session.exec(select(SignUp.id).where(SignUp.reference == reference)).first() is None:
            return reference


def lock_workshop(session: Session, workshop_id: int) -> Workshop | None:
    """Take the workshop's row lock: one sign-up or cancellation at a time per workshop."""
    return session.exec(
        select(Workshop).where(Workshop.id == workshop_id).with_for_update()
    ).first()


def _next_in_queue(session: Session, workshop_id: int, now: datetime) -> datetime:
    """The waiting-list time for someone joining the queue now, under the workshop's lock.

    `now` was read when the request began, before the lock; people reach the lock in a
    different order. The queue is the order of the lock, so never go back in time: at
    least a microsecond after the last person waiting.
    """
    last = session.exec(
        select(func.max(SignUp.waiting_since)).where(SignUp.workshop_id == workshop_id)
    ).one()
    if last is not None and last >= now:
        return last + timedelta(microseconds=1)
    return now


def sign_up(
    session: Session,
    settings: Settings,
    workshop_id: int,
    answers: dict[str, Any],
    now: datetime,
    *,
    participant: Participant | None = None,
    draft_key: str | None = None,
) -> Outcome:
    """Take a place, or a place on the waiting list. `answers` must have passed every page."""
    workshop = lock_workshop(session, workshop_id)
    if workshop is None:
        return Outcome("unavailable")
    confirmed = workshop_service.confirmed_count(session, workshop_id)
    if not workshop_service.availability(workshop, confirmed, now).can_sign_up:
        return Outcome("unavailable")
    if not workshop.welcomes(str(answers.get("age_band"))):
        return Outcome("unavailable")  # its audience decides who signs up (staff may invite)
    email = str(answers["email"]).strip()
    key = email.lower()
    existing = session.exec(
        select(SignUp).where(SignUp.workshop_id == workshop_id, SignUp.contact_key == key)
    ).first()
    if existing is not None and existing.status in ACTIVE_SIGN_UP:
        # Everything as after a new sign-up (the draft used up, an email to the address), so
        # the person at the screen can't tell the two apart.
        _remind_existing(session, settings, workshop, existing, now)
        _forget_draft(session, draft_key, workshop_id)
        return Outcome("already", existing)
    band = AgeBand(answers["age_band"])
    is_parent = answers.get("whose") == "parent"
    if participant is None or (participant.contact_email or "").lower() != key:
        participant = participants.create(
            session,
            display_name=str(answers["display_name"]),
            now=now,
            age_band=band,
            contact_email=email,
            contact_is_parent=is_parent,
        )
    consent.give_current(session, participant, ConsentPurpose.TAKE_PART, now)
    # Ask a parent or carer unless they already said yes or have yet to answer. (After a no,
    # a new sign-up asks again: otherwise the place would be held with no way to say yes.)
    if consent.needs_parent_consent(settings, band) and consent.parent_consent_status(
        session, participant.id or 0
    ) not in (ConsentState.GIVEN, ConsentState.WAITING):
        consent.request_parent_consent(
            session, settings, participant, email, now, context=f'the workshop "{workshop.title}"'
        )
    status = (
        SignUpStatus.CONFIRMED if confirmed < workshop.bookable_places else SignUpStatus.WAITING
    )
    row = write_sign_up(
        session,
        settings,
        existing,
        workshop_id=workshop_id,
        participant=participant,
        answers=answers,
        status=status,
        now=now,
    )
    _forget_draft(session, draft_key, workshop_id)
    email_new_sign_up(session, settings, workshop, row, now)
    return Outcome(status.value, row, manage_token(settings, row))  # type: ignore[arg-type]


def _forget_draft(session: Session, draft_key: str | None, workshop_id: int) -> None:
    draft = _draft(session, draft_key, workshop_id) if draft_key else None
    if draft is not None:
        session.delete(draft)


def write_sign_up(
    session: Session,
    settings: Settings,
    existing: SignUp | None,
    *,
    workshop_id: int,
    participant: Participant,
    answers: dict[str, Any],
    status: SignUpStatus,
    now: datetime,
    reserved: bool = False,
    contact_key: str | None = None,
) -> SignUp:
    """Write a sign-up (reusing a cancelled one for the same email) with fresh link tokens.

    contact_key: what makes it unique in the workshop (the email; a parent signing up two
    children gives one email, so each child's key adds the child, see family_signups)."""
    email = str(answers["email"]).strip()
    row = existing or SignUp(
        reference=_new_reference(session),
        workshop_id=workshop_id,
        contact_key=contact_key or email.lower(),
        token_nonce="",
        manage_token_hash="",
        check_in_token_hash="",
        participant_id=0,
        display_name="",
        age_band="",
        contact_email="",
        status=status,
    )
    nonce = secrets.token_hex(16)
    row.token_nonce = nonce
    row.manage_token_hash = token_hash(_token(settings, "manage", nonce))
    row.check_in_token_hash = token_hash(_token(settings, "check-in", nonce))
    row.participant_id = participant.id or 0
    row.display_name = participants.clean_display_name(str(answers["display_name"]))
    row.age_band = AgeBand(answers["age_band"]).value
    row.contact_email = email
    row.contact_is_parent = answers.get("whose") == "parent"
    row.access_needs = (answers.get("access_needs") or None) and str(answers["access_needs"])
    row.anything_else = (answers.get("anything_else") or None) and str(answers["anything_else"])
    row.status = status
    row.reserved = reserved
    row.reserved_reason = (answers.get("reason") or None) if reserved else None
    row.attend_mode = _attend_mode(session, workshop_id, answers)
    travel = answers.get("travel")
    row.wants_travel_costs = None if travel not in ("yes", "no") else travel == "yes"
    row.created_at = now
    row.cancelled_at = None
    row.checked_in_at = None
    row.confirmed_at = now if status == SignUpStatus.CONFIRMED else None
    row.waiting_since = (
        _next_in_queue(session, workshop_id, now) if status == SignUpStatus.WAITING else None
    )
    session.add(row)
    session.flush()
    return row


def _attend_mode(session: Session, workshop_id: int, answers: dict[str, Any]) -> str | None:
    """How they will come, for a workshop in person and online (None for the others)."""
    workshop = session.get(Workshop, workshop_id)
    if workshop is None or workshop.mode != WorkshopMode.BOTH:
        return None
    chosen = answers.get("attend_mode")
    return chosen if chosen in ("in_person", "online") else None


def comes_in_person(workshop: Workshop, sign_up: SignUp) -> bool:
    """They will be in the room (so a check-in code makes sense)."""
    if workshop.mode == WorkshopMode.BOTH:
        return sign_up.attend_mode != "online"
    return workshop.is_in_person


def comes_online(workshop: Workshop, sign_up: SignUp) -> bool:
    if workshop.mode == WorkshopMode.BOTH:
        return sign_up.attend_mode != "in_person"
    return workshop.is_online


def waiting_position(session: Session, sign_up: SignUp) -> int | None:
    """Where they are on the waiting list (1: next to get a place); None if not waiting."""
    if sign_up.status != SignUpStatus.WAITING or sign_up.waiting_since is None:
        return None
    ahead = session.exec(
        select(func.count())
        .select_from(SignUp)
        .where(
            SignUp.workshop_id == sign_up.workshop_id,
            SignUp.status == SignUpStatus.WAITING,
            col(SignUp.waiting_since) < sign_up.waiting_since,
        )
    ).one()
    return int(ahead) + 1


# --- links and emails ------------------------------------------------------------------


def links(settings: Settings, sign_up: SignUp) -> dict[str, str]:
    base = settings.base_url.rstrip("/")
    token = manage_token(settings, sign_up)
    return {
        "manage": f"{base}/sign-ups/{token}",
        "calendar": f"{base}/sign-ups/{token}/calendar.ics",
        "cancel": f"{base}/sign-ups/{token}/cancel",
        "check_in": f"{base}/staff/check-in/{check_in_token(settings, sign_up)}",
    }


def ics_for(settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime) -> bytes:
    urls = links(settings, sign_up)
    confirmed = sign_up.status == SignUpStatus.CONFIRMED
    return calendar.workshop_ics(
        settings,
        workshop,
        now,
        uid=f"{sign_up.reference}@heard",
        joining_link=workshop.online_link if confirmed and workshop.is_online else None,
        manage_url=urls["manage"],
    )


def where(workshop: Workshop, sign_up: SignUp) -> dict[str, Any]:
    """How they come, for an email's "Where" and "Online" lines: the joining link only with
    a place."""
    confirmed = sign_up.status == SignUpStatus.CONFIRMED
    return {
        "in_person": comes_in_person(workshop, sign_up),
        "online": comes_online(workshop, sign_up),
        "link": workshop.online_link if confirmed else None,
    }


def _email(
    session: Session,
    settings: Settings,
    workshop: Workshop,
    sign_up: SignUp,
    now: datetime,
    *,
    kind: str,
    dedupe_key: str | None = None,
    calendar_file: bool = True,
    **context: Any,
) -> None:
    """An email about one sign-up (`kind`: see email/workshops/sign_up.txt). Someone waiting
    gets no calendar file (the place isn't theirs yet) and words about the waiting list,
    never about "your place"."""
    confirmed = sign_up.status == SignUpStatus.CONFIRMED
    mail = emails.render(
        "workshops/sign_up",
        settings,
        now,
        kind=kind,
        workshop=workshop,
        sign_up=sign_up,
        confirmed=confirmed,
        place_kept=confirmed and waits_for_parent(session, settings, sign_up),
        where=where(workshop, sign_up),
        urls=links(settings, sign_up),
        **context,
    )
    attachments = (
        (Attachment("workshop.ics", "text/calendar", ics_for(settings, workshop, sign_up, now)),)
        if calendar_file and confirmed
        else ()
    )
    outbox.queue(
        session,
        to=sign_up.contact_email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        attachments=attachments,
        dedupe_key=dedupe_key,
        participant_id=sign_up.participant_id,
    )


def waiting_words(position: int | None) -> str:
    """ "You're on the waiting list, number 3" (the words the page and the email share)."""
    return "You're on the waiting list" + (f", number {position}" if position else "")


def email_new_sign_up(
    session: Session, settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime
) -> None:
    words = waiting_words(waiting_position(session, sign_up))
    _email(session, settings, workshop, sign_up, now, kind="new", waiting=words)


def _remind_existing(
    session: Session, settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime
) -> None:
    """Someone signed up again with the same email: send the owner their link (once an hour)."""
    _email(
        session,
        settings,
        workshop,
        sign_up,
        now,
        kind="already",
        dedupe_key=f"already-{sign_up.id}-{now:%Y%m%d%H}",
        calendar_file=False,
    )


# --- cancelling and the waiting list ---------------------------------------------------


def cancel(session: Session, settings: Settings, sign_up: SignUp, now: datetime) -> bool:
    """They can't come: free the place and give it to the first person waiting."""
    workshop = lock_workshop(session, sign_up.workshop_id)
    session.refresh(sign_up)
    if workshop is None or sign_up.status not in ACTIVE_SIGN_UP:
        return False
    sign_up.status = SignUpStatus.CANCELLED
    sign_up.cancelled_at = now
    session.add(sign_up)
    session.flush()
    audit.record(
        session,
        Identity(),
        "sign_up.cancelled",
        record_type="sign_up",
        record_id=sign_up.id,
        workshop_id=workshop.id,
    )
    fill_from_waiting_list(session, settings, workshop, now)
    return True


def fill_from_waiting_list(
    session: Session, settings: Settings, workshop: Workshop, now: datetime
) -> list[SignUp]:
    """Give free places to people waiting, first come first served, and email them."""
    if workshop.status != WorkshopStatus.PUBLISHED or workshop.starts_at <= now:
        return []
    assert workshop.id is not None
    free = workshop.bookable_places - workshop_service.confirmed_count(session, workshop.id)
    if free <= 0:
        return []
    waiting = session.exec(
        select(SignUp)
        .where(SignUp.workshop_id == workshop.id, SignUp.status == SignUpStatus.WAITING)
        .order_by(col(SignUp.waiting_since), col(SignUp.id))
        .limit(free)
    ).all()
    for row in waiting:
        row.status = SignUpStatus.CONFIRMED
        row.confirmed_at = now
        session.add(row)
        session.flush()
        _email(
            session,
            settings,
            workshop,
            row,
            now,
            kind="promoted",
        )
    return list(waiting)


# --- staff -----------------------------------------------------------------------------


def attendees(session: Session, workshop_id: int) -> list[SignUp]:
    order = {
        SignUpStatus.CONFIRMED: 0,
        SignUpStatus.WAITING: 1,
        SignUpStatus.CANCELLED: 2,
        SignUpStatus.WORKSHOP_CANCELLED: 3,
    }
    rows = session.exec(
        select(SignUp)
        .where(SignUp.workshop_id == workshop_id)
        .order_by(col(SignUp.display_name), col(SignUp.id))
    ).all()
    return sorted(
        rows, key=lambda r: (order[SignUpStatus(r.status)], r.waiting_since or r.created_at)
    )


def waits_for_parent(session: Session, settings: Settings, sign_up: SignUp) -> bool:
    """Their age needs a parent or carer to agree, and they have not said yes (yet)."""
    if not consent.needs_parent_consent(settings, AgeBand(sign_up.age_band)):
        return False
    status = consent.parent_consent_status(session, sign_up.participant_id)
    return status != ConsentState.GIVEN


def waiting_for_parent(session: Session, settings: Settings, rows: list[SignUp]) -> set[int]:
    """The ids of the active sign-ups among `rows` that wait for a parent or carer."""
    needing = [
        row
        for row in rows
        if row.status in ACTIVE_SIGN_UP
        and consent.needs_parent_consent(settings, AgeBand(row.age_band))
    ]
    status = consent.parent_consent_statuses(session, {row.participant_id for row in needing})
    return {
        row.id
        for row in needing
        if row.id is not None and status.get(row.participant_id) != ConsentState.GIVEN
    }


def workshops_of(session: Session, participant_id: int) -> list[tuple[SignUp, Workshop]]:
    """A person's active sign-ups and their workshops, soonest first (a parent reads what
    their child is asking to go to)."""
    rows = session.exec(
        select(SignUp, Workshop)
        .join(Workshop, col(Workshop.id) == col(SignUp.workshop_id))
        .where(
            SignUp.participant_id == participant_id, col(SignUp.status).in_(list(ACTIVE_SIGN_UP))
        )
        .order_by(col(Workshop.starts_at))
    ).all()
    return [(row, workshop) for row, workshop in rows]


@dataclass(frozen=True)
class MyWorkshop:
    """One workshop on someone's "My stuff": by name, with a link to their booking."""

    workshop_id: int
    title: str
    starts_at: datetime
    words: str  # "You have a place", "You're on the waiting list, number 2", ...
    url: str | None  # their booking (None: joined with the code, no booking)
    active: bool


def my_workshops(session: Session, settings: Settings, participant_id: int) -> list[MyWorkshop]:
    """Every workshop this person signed up to or came into, soonest first."""
    found: dict[int, MyWorkshop] = {}
    rows = session.exec(
        select(SignUp, Workshop)
        .join(Workshop, col(Workshop.id) == col(SignUp.workshop_id))
        .where(SignUp.participant_id == participant_id)
    ).all()
    for row, workshop in rows:
        if row.status == SignUpStatus.WAITING:
            words = waiting_words(waiting_position(session, row))
        elif row.status == SignUpStatus.CONFIRMED:
            words = "You have a place" + (", and you came" if row.checked_in_at else "")
        else:
            words = STATUS_WORDS.get(SignUpStatus(row.status).value, "")
            words = "You gave up your place" if row.status == SignUpStatus.CANCELLED else words
        found[workshop.id or 0] = MyWorkshop(
            workshop.id or 0,
            workshop.title,
            workshop.starts_at,
            words,
            f"/sign-ups/{manage_token(settings, row)}",
            row.status in ACTIVE_SIGN_UP,
        )
    came = session.exec(
        select(Workshop, WorkshopAttendance.joined_at)
        .join(WorkshopAttendance, col(WorkshopAttendance.workshop_id) == col(Workshop.id))
        .where(
            WorkshopAttendance.participant_id == participant_id,
            col(WorkshopAttendance.sign_up_id).is_(None),
        )
    ).all()
    for workshop, joined_at in came:
        found.setdefault(
            workshop.id or 0,
            MyWorkshop(
                workshop.id or 0,
                workshop.title,
                workshop.starts_at,
                f"You joined with the code at {in_words(joined_at, settings.timezone)}",
                f"/workshops/{workshop.slug}/room",
                False,
            ),
        )
    return sorted(found.values(), key=lambda w: w.starts_at)


def get_for_workshop(session: Session, workshop_id: int, sign_up_id: int) -> SignUp | None:
    row = session.get(SignUp, sign_up_id)
    return row if row is not None and row.workshop_id == workshop_id else None


def check_in(
    session: Session, sign_up: SignUp, here: bool, now: datetime, actor: Identity
) -> SignUp:
    sign_up.checked_in_at = now if here else None
    session.add(sign_up)
    session.flush()
    audit.record(
        session,
        actor,
        "sign_up.checked_in" if here else "sign_up.check_in_undone",
        record_type="sign_up",
        record_id=sign_up.id,
    )
    return sign_up


def cancel_workshop(
    session: Session,
    settings: Settings,
    workshop: Workshop,
    reason: str,
    now: datetime,
    actor: Identity,
) -> int:
    """Cancel the whole workshop and tell everyone who had a place or was waiting."""
    locked = lock_workshop(session, workshop.id or 0)
    assert locked is not None
    if locked.status == WorkshopStatus.CANCELLED:
        return 0
    rows = session.exec(
        select(SignUp).where(
            SignUp.workshop_id == locked.id, col(SignUp.status).in_(list(ACTIVE_SIGN_UP))
        )
    ).all()
    for row in rows:
        row.status = SignUpStatus.WORKSHOP_CANCELLED
        row.cancelled_at = now
        session.add(row)
        mail = emails.render(
            "workshops/cancelled",
            settings,
            now,
            workshop=locked,
            name=row.display_name,
            reason=reason,
        )
        outbox.queue(
            session,
            to=row.contact_email,
            subject=mail.subject,
            body=mail.text,
            html=mail.html,
            now=now,
            dedupe_key=f"workshop-cancelled-{row.id}",
            participant_id=row.participant_id,
        )
    # The workflow's move: checked (who may, from which state) and audited once.
    workshop_service.WORKSHOP.move(
        session, actor, locked, "cancel", reason=reason or None, emailed=len(rows)
    )
    locked.cancelled_at = now
    session.add(locked)
    # The room's page says so by itself (app/routers/live.py follows this event).
    events.record(session, "workshop.cancelled", workshop_id=locked.id)
    session.flush()
    return len(rows)


# Who a staff message goes to: the choice, and its words.
MESSAGE_AUDIENCES: dict[str, str] = {
    "places": "Everyone with a place",
    "waiting": "Everyone on the waiting list",
    "everyone": "Everyone with a place or on the waiting list",
    "here": "Only the people who are here (checked in)",
}


class MessageForm(FormModel):
    to: Literal["places", "waiting", "everyone", "here"]
    subject: str = Field(max_length=150)
    message: str = Field(max_length=5000)
    messages = {
        "to": {"missing": "Choose who to email", "invalid": "Choose who to email"},
        "subject": {
            "missing": "Enter a subject",
            "too_long": "The subject must be 150 characters or fewer",
        },
        "message": {
            "missing": "Enter your message",
            "too_long": "The message must be 5,000 characters or fewer",
        },
    }


def message_recipients(session: Session, workshop_id: int, to: str) -> list[SignUp]:
    """The sign-ups a message goes to (people who joined with the code gave no email)."""
    statuses = {
        "places": [SignUpStatus.CONFIRMED],
        "here": [SignUpStatus.CONFIRMED],
        "waiting": [SignUpStatus.WAITING],
        "everyone": list(ACTIVE_SIGN_UP),
    }[to]
    query = select(SignUp).where(
        SignUp.workshop_id == workshop_id, col(SignUp.status).in_(statuses)
    )
    if to == "here":
        query = query.where(col(SignUp.checked_in_at).is_not(None))
    return list(session.exec(query.order_by(col(SignUp.id))).all())


def message_counts(session: Session, workshop_id: int) -> dict[str, int]:
    return {to: len(message_recipients(session, workshop_id, to)) for to in MESSAGE_AUDIENCES}


class CancelWorkshopForm(FormModel):
    reason: str | None = Field(default=None, max_length=1000)
    confirm: list[str] = []
    multi = ("confirm",)
    messages = {"reason": {"too_long": "The reason must be 1,000 characters or fewer"}}

    @field_validator("confirm")
    @classmethod
    def _sure(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to confirm you want to cancel the workshop")
        return value


def message_attendees(
    session: Session,
    settings: Settings,
    workshop: Workshop,
    form: MessageForm,
    now: datetime,
    actor: Identity,
) -> int:
    assert workshop.id is not None
    rows = message_recipients(session, workshop.id, form.to)
    for row in rows:
        mail = emails.render(
            "workshops/message",
            settings,
            now,
            workshop=workshop,
            name=row.display_name,
            message_subject=form.subject,
            message=form.message,
        )
        outbox.queue(
            session,
            to=row.contact_email,
            subject=mail.subject,
            body=mail.text,
            html=mail.html,
            now=now,
            participant_id=row.participant_id,
        )
    audit.record(
        session,
        actor,
        "workshop.messaged",
        record_type="workshop",
        record_id=workshop.id,
        to=form.to,
        sent=len(rows),
    )
    return len(rows)


# --- when staff change the date, time or place -------------------------------------------


def tell_about_changes(
    session: Session,
    settings: Settings,
    workshop: Workshop,
    before: workshop_service.Arrangements,
    now: datetime,
) -> int:
    """Email everyone with a place or on the waiting list what changed: the old and the new
    date, time or place, and (for a place) a new calendar file that replaces the old one."""
    after = workshop_service.arrangements(workshop)
    if after == before or workshop.status != WorkshopStatus.PUBLISHED or workshop.id is None:
        return 0
    changes = {
        "before": before,
        "after": after,
        "when": (before.starts_at, before.ends_at) != (after.starts_at, after.ends_at),
        "where": (before.mode, before.place) != (after.mode, after.place),
        "was": before.place if before.place and before.mode != "online" else "Online",
        "now_at": after.place if after.place and after.mode != "online" else "Online",
        "link": before.online_link != after.online_link and bool(after.online_link),
    }
    if not (changes["when"] or changes["where"] or changes["link"]):
        return 0
    stamp = int(now.timestamp())
    rows = message_recipients(session, workshop.id, "everyone")
    for row in rows:
        _email(
            session,
            settings,
            workshop,
            row,
            now,
            kind="changed",
            changes=changes,
            dedupe_key=f"workshop-changed-{row.id}-{stamp}",
        )
    audit.record(
        session,
        None,
        "workshop.change_emailed",
        record_type="workshop",
        record_id=workshop.id,
        emailed=len(rows),
    )
    return len(rows)


def _cell(value: object) -> str:
    """Spreadsheets run cells that start with = + - @: make them plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


# A sign-up's status, and a parent's answer, in words (the attendee list and the CSV).
STATUS_WORDS: dict[str, str] = {
    "confirmed": "Has a place",
    "waiting": "On the waiting list",
    "cancelled": "Gave up their place",
    "workshop_cancelled": "Workshop cancelled",
}
JOINED_WITH_CODE = "Joined with the code"
PARENT_WORDS: dict[str, str] = {
    "given": "Said yes",
    "waiting": "Not answered yet",
    "withdrawn": "Said no",
}


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Yes" if value else "No")


def attendees_csv(session: Session, settings: Settings, workshop: Workshop, actor: Identity) -> str:
    """Everyone on the attendee list, in words: sign-ups, then people who joined with the
    code (they gave no email or age)."""
    assert workshop.id is not None
    rows = attendees(session, workshop.id)
    needing = {
        row.participant_id
        for row in rows
        if consent.needs_parent_consent(settings, AgeBand(row.age_band))
    }
    parents = consent.parent_consent_statuses(session, needing)
    tz = settings.timezone
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "Reference",
            "Name",
            "Status",
            "Age",
            "Contact email",
            "Email belongs to a parent or carer",
            "Access needs",
            "Anything else",
            "Checked in",
            "Coming",
            "Needs travel paid",
            "Parent or carer's yes",
            "Why the place was reserved",
            "Reserved place",
        ]
    )
    for row in rows:
        parent = parents.get(row.participant_id)
        writer.writerow(
            [
                _cell(v)
                for v in (
                    row.reference,
                    row.display_name,
                    STATUS_WORDS.get(str(SignUpStatus(row.status).value), str(row.status)),
                    AGE_BAND_LABELS.get(AgeBand(row.age_band), row.age_band),
                    row.contact_email,
                    _yes_no(row.contact_is_parent),
                    row.access_needs or "",
                    row.anything_else or "",
                    in_words(row.checked_in_at, tz) if row.checked_in_at else "",
                    {"in_person": "In person", "online": "Online"}.get(row.attend_mode or "", ""),
                    _yes_no(row.wants_travel_costs),
                    (PARENT_WORDS.get(parent.value, "") if parent else "Not asked")
                    if row.participant_id in needing
                    else "Not needed",
                    row.reserved_reason or "",
                    _yes_no(row.reserved),
                )
            ]
        )
    joiners = code_joiners(session, workshop.id)
    for name, joined_at in joiners:
        writer.writerow(
            ["", _cell(name), JOINED_WITH_CODE, *[""] * 5, in_words(joined_at, tz), *[""] * 5]
        )
    audit.record(
        session,
        actor,
        "workshop.attendees_exported",
        record_type="workshop",
        record_id=workshop.id,
        rows=len(rows) + len(joiners),
    )
    return buffer.getvalue()


def code_joiners(session: Session, workshop_id: int) -> list[tuple[str, datetime]]:
    """People in the room who came with the join code (no sign-up): name and when."""
    rows = session.exec(
        select(Participant.display_name, WorkshopAttendance.joined_at)
        .join(Participant, col(Participant.id) == col(WorkshopAttendance.participant_id))
        .where(
            WorkshopAttendance.workshop_id == workshop_id,
            col(WorkshopAttendance.sign_up_id).is_(None),
        )
        .order_by(col(WorkshopAttendance.joined_at), col(WorkshopAttendance.id))
    ).all()
    return [(name, at) for name, at in rows]


# --- reminders -------------------------------------------------------------------------

REMINDERS = (("2d", timedelta(days=2), "in 2 days"), ("2h", timedelta(hours=2), "in 2 hours"))


@jobs.register("workshop reminders")
def send_reminders(session: Session, settings: Settings, now: datetime) -> int:
    """Reminders 2 days and 2 hours before. Each is queued once: its dedupe key says so."""
    queued = 0
    workshops = session.exec(
        select(Workshop).where(
            Workshop.status == WorkshopStatus.PUBLISHED,
            col(Workshop.starts_at) > now,
            col(Workshop.starts_at) <= now + REMINDERS[0][1],
        )
    ).all()
    for workshop in workshops:
        due = [r for r in REMINDERS if now >= workshop.starts_at - r[1]]
        name, before, words = due[-1]  # only the nearest: never two reminders at once
        rows = session.exec(
            select(SignUp).where(
                SignUp.workshop_id == workshop.id, SignUp.status == SignUpStatus.CONFIRMED
            )
        ).all()
        for row in rows:
            if (row.confirmed_at or row.created_at) > workshop.starts_at - before:
                continue  # they signed up after this reminder was due: their email is recent
            mail = emails.render(
                "workshops/reminder",
                settings,
                now,
                workshop=workshop,
                sign_up=row,
                words=words,
                where=where(workshop, row),
                urls=links(settings, row),
            )
            if outbox.queue(
                session,
                to=row.contact_email,
                subject=mail.subject,
                body=mail.text,
                html=mail.html,
                now=now,
                dedupe_key=f"workshop-reminder-{name}-{row.id}",
                participant_id=row.participant_id,
            ):
                queued += 1
    return queued


def counts(session: Session, workshop_id: int) -> dict[str, int]:
    rows = session.exec(
        select(SignUp.status, func.count())
        .where(SignUp.workshop_id == workshop_id)
        .group_by(col(SignUp.status))
    ).all()
    found = {SignUpStatus(status).value: int(n) for status, n in rows}
    found["joined_with_code"] = len(code_joiners(session, workshop_id))
    return found


def _give_up_places(session: Session, participant: Participant, now: datetime) -> int:
    """Cancel a person's places and waiting-list spots, promoting the people waiting."""
    from app.config import get_settings

    rows = session.exec(
        select(SignUp).where(
            SignUp.participant_id == participant.id, col(SignUp.status).in_(list(ACTIVE_SIGN_UP))
        )
    ).all()
    return sum(cancel(session, get_settings(), row, now) for row in rows)


@consent.on_erase
def _free_places_of_erased_person(session: Session, participant: Participant) -> None:
    """Someone asked to be forgotten: give their places to the people waiting first."""
    from app.db import utcnow

    _give_up_places(session, participant, utcnow())


@consent.on_erase
def _remember_erased_links(session: Session, participant: Participant) -> None:
    """Keep only the hashes of their links, so an old email's link can say the account was
    deleted (rather than a puzzling "page not found"). Nothing says whose they were."""
    rows = session.exec(select(SignUp).where(SignUp.participant_id == participant.id)).all()
    hashes = {h for row in rows for h in (row.manage_token_hash, row.check_in_token_hash)}
    known = set(
        session.exec(
            select(ErasedLink.token_hash).where(col(ErasedLink.token_hash).in_(sorted(hashes)))
        ).all()
    )
    for value in sorted(hashes - known):
        session.add(ErasedLink(token_hash=value))
    session.flush()


def link_of_erased_account(session: Session, token: str) -> bool:
    """This link belonged to someone who asked to be deleted."""
    if not token or len(token) > 100:
        return False
    found = session.exec(
        select(ErasedLink.id).where(ErasedLink.token_hash == token_hash(token))
    ).first()
    return found is not None


@jobs.register("forget erased links")
def forget_erased_links(session: Session, settings: Settings, now: datetime) -> int:
    """After a year, their emails are long gone: forget the links too."""
    old = session.exec(
        select(ErasedLink).where(col(ErasedLink.erased_at) < now - SIGN_UP_RETENTION)
    ).all()
    for row in old:
        session.delete(row)
    return len(old)


@consent.on_withdraw
def _free_places_when_no_longer_taking_part(
    session: Session, participant: Participant, purpose: ConsentPurpose, now: datetime
) -> None:
    """Saying "stop, I don't want to take part" gives their places back too, and so does a
    parent or carer saying no (or no longer yes) for a child who needs them to agree."""
    if purpose in (ConsentPurpose.TAKE_PART, ConsentPurpose.PARENT_CONSENT):
        _give_up_places(session, participant, now)
