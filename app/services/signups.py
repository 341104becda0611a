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
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.config import Settings
from app.forms import FormModel, FormState, empty_form, parse_form
from app.models import (
    AgeBand,
    ConsentPurpose,
    ConsentState,
    Participant,
    SignUp,
    SignUpDraft,
    SignUpStatus,
    Workshop,
    WorkshopStatus,
)
from app.models.participants import AGE_BAND_LABELS
from app.models.workshops import ACTIVE_SIGN_UP
from app.security import token_hash
from app.services import audit, calendar, consent, jobs, outbox, participants
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.services.outbox import Attachment
from app.timefmt import in_words

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PLACE_KEPT = "Your place is kept for you. You can come once your parent or carer says yes."
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
    email: str = Field(max_length=254)
    messages = {
        "whose": {"missing": "Choose whose email address this is"},
        "email": {
            "missing": "Enter an email address",
            "invalid": "Enter an email address like name@example.com",
            "too_long": "The email address must be 254 characters or fewer",
        },
    }

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return valid_email(value)


def valid_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError("Enter an email address like name@example.com") from None


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


STEPS: dict[str, type[FormModel]] = {
    "name": NameForm,
    "age": AgeForm,
    "contact": ContactForm,
    "access": AccessForm,
    "anything-else": AnythingElseForm,
    "consent": ConsentForm,
}
STEP_ORDER = list(STEPS)


def next_step(step: str) -> str:
    index = STEP_ORDER.index(step)
    return STEP_ORDER[index + 1] if index + 1 < len(STEP_ORDER) else "check"


def previous_step(step: str) -> str | None:
    if step == "check":
        return STEP_ORDER[-1]
    index = STEP_ORDER.index(step)
    return STEP_ORDER[index - 1] if index > 0 else None


# --- drafts: answers so far, on the server ---------------------------------------------


def browser_key(settings: Settings, browser_token: str) -> str:
    return hmac.new(
        settings.secret_key.encode(), b"draft|" + browser_token.encode(), "sha256"
    ).hexdigest()


def load_answers(session: Session, key: str, workshop_id: int) -> dict[str, Any]:
    draft = _draft(session, key, workshop_id)
    return dict(draft.answers) if draft else {}


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
    answers = dict(draft.answers)
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


def first_unanswered(settings: Settings, answers: dict[str, Any]) -> str | None:
    """The first page whose answers are missing or no longer valid (None: all done)."""
    from starlette.datastructures import FormData

    for step, model in STEPS.items():
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
    email = str(answers["email"]).strip()
    key = email.lower()
    existing = session.exec(
        select(SignUp).where(SignUp.workshop_id == workshop_id, SignUp.contact_key == key)
    ).first()
    if existing is not None and existing.status in ACTIVE_SIGN_UP:
        _remind_existing(session, settings, workshop, existing, now)
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
    if draft_key:
        draft = _draft(session, draft_key, workshop_id)
        if draft is not None:
            session.delete(draft)
    email_new_sign_up(session, settings, workshop, row, now)
    return Outcome(status.value, row, manage_token(settings, row))  # type: ignore[arg-type]


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
) -> SignUp:
    """Write a sign-up (reusing a cancelled one for the same email) with fresh link tokens."""
    email = str(answers["email"]).strip()
    row = existing or SignUp(
        reference=_new_reference(session),
        workshop_id=workshop_id,
        contact_key=email.lower(),
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


def _where(workshop: Workshop, sign_up: SignUp) -> str:
    lines = []
    if workshop.is_in_person:
        lines.append(f"Where: {workshop.place}")
        if workshop.access_info:
            lines.append(f"Getting in: {workshop.access_info}")
    if workshop.is_online:
        if sign_up.status == SignUpStatus.CONFIRMED and workshop.online_link:
            lines.append(f"Online: join with this link on the day: {workshop.online_link}")
        else:
            lines.append("Online: we will send you the joining link when you have a place.")
    return "\n".join(lines)


def _email(
    session: Session,
    settings: Settings,
    workshop: Workshop,
    sign_up: SignUp,
    now: datetime,
    *,
    subject: str,
    opening: str,
    dedupe_key: str | None = None,
    calendar_file: bool = True,
) -> None:
    tz = settings.timezone
    urls = links(settings, sign_up)
    if sign_up.status == SignUpStatus.CONFIRMED and waits_for_parent(session, settings, sign_up):
        opening += f"\n\n{PLACE_KEPT}"
    body = (
        f"Hello {sign_up.display_name},\n\n{opening}\n\n"
        f"Workshop: {workshop.title}\n"
        f"When: {in_words(workshop.starts_at, tz)} until {in_words(workshop.ends_at, tz)}\n"
        f"{_where(workshop, sign_up)}\n"
        f"Your reference: {sign_up.reference}\n\n"
        f"See your place (and your check-in code for the day): {urls['manage']}\n"
        f"Add it to your calendar: {urls['calendar']}\n"
        f"Can't come any more? Tell us here, so someone else can have your place: "
        f"{urls['cancel']}\n\n"
        f"From {settings.organisation_name}\n"
    )
    attachments = (
        (Attachment("workshop.ics", "text/calendar", ics_for(settings, workshop, sign_up, now)),)
        if calendar_file
        else ()
    )
    outbox.queue(
        session,
        to=sign_up.contact_email,
        subject=subject,
        body=body,
        now=now,
        attachments=attachments,
        dedupe_key=dedupe_key,
        participant_id=sign_up.participant_id,
    )


def email_new_sign_up(
    session: Session, settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime
) -> None:
    if sign_up.status == SignUpStatus.CONFIRMED:
        opening = "You have a place at the workshop. We look forward to seeing you."
        subject = f"You have a place: {workshop.title}"
    else:
        opening = (
            "The workshop is full, so you are on the waiting list. "
            "If a place comes up, we will give it to you and email you straight away."
        )
        subject = f"You are on the waiting list: {workshop.title}"
    _email(session, settings, workshop, sign_up, now, subject=subject, opening=opening)


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
        subject=f"You are already signed up: {workshop.title}",
        opening="Someone tried to sign up again with this email address. You already have "
        "a sign-up, so nothing has changed. Here are your details again.",
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
            subject=f"Good news: you have a place at {workshop.title}",
            opening="A place came up and it is yours. You do not need to do anything. "
            "If you can't come any more, please use the link below to give the place back, "
            "so someone else can have it.",
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
    locked.status = WorkshopStatus.CANCELLED
    locked.cancelled_at = now
    session.add(locked)
    rows = session.exec(
        select(SignUp).where(
            SignUp.workshop_id == locked.id, col(SignUp.status).in_(list(ACTIVE_SIGN_UP))
        )
    ).all()
    for row in rows:
        row.status = SignUpStatus.WORKSHOP_CANCELLED
        row.cancelled_at = now
        session.add(row)
        outbox.queue(
            session,
            to=row.contact_email,
            subject=f"Cancelled: {locked.title}",
            body=(
                f"Hello {row.display_name},\n\n"
                f'We are sorry. The workshop "{locked.title}" on '
                f"{in_words(locked.starts_at, settings.timezone)} has been cancelled.\n\n"
                + (f"Why: {reason}\n\n" if reason else "")
                + "You do not need to do anything. If we run it again, we will put it on "
                f"{settings.base_url.rstrip('/')}/workshops\n\n"
                f"From {settings.organisation_name}\n"
            ),
            now=now,
            dedupe_key=f"workshop-cancelled-{row.id}",
            participant_id=row.participant_id,
        )
    session.flush()
    audit.record(
        session,
        actor,
        "workshop.cancelled",
        record_type="workshop",
        record_id=locked.id,
        emailed=len(rows),
    )
    return len(rows)


class MessageForm(FormModel):
    subject: str = Field(max_length=150)
    message: str = Field(max_length=5000)
    messages = {
        "subject": {
            "missing": "Enter a subject",
            "too_long": "The subject must be 150 characters or fewer",
        },
        "message": {
            "missing": "Enter your message",
            "too_long": "The message must be 5,000 characters or fewer",
        },
    }


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
    rows = session.exec(
        select(SignUp).where(
            SignUp.workshop_id == workshop.id, SignUp.status == SignUpStatus.CONFIRMED
        )
    ).all()
    for row in rows:
        outbox.queue(
            session,
            to=row.contact_email,
            subject=f"{form.subject} ({workshop.title})"[:200],
            body=(
                f"Hello {row.display_name},\n\n{form.message}\n\n"
                f'This message is about the workshop "{workshop.title}" on '
                f"{in_words(workshop.starts_at, settings.timezone)}.\n"
                f"From {settings.organisation_name}\n"
            ),
            now=now,
            participant_id=row.participant_id,
        )
    audit.record(
        session,
        actor,
        "workshop.messaged",
        record_type="workshop",
        record_id=workshop.id,
        sent=len(rows),
    )
    return len(rows)


def _cell(value: object) -> str:
    """Spreadsheets run cells that start with = + - @: make them plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def attendees_csv(session: Session, settings: Settings, workshop: Workshop, actor: Identity) -> str:
    assert workshop.id is not None
    rows = attendees(session, workshop.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "Reference",
            "Name",
            "Status",
            "Age",
            "Contact email",
            "Parent or carer's email",
            "Access needs",
            "Anything else",
            "Checked in",
            "Reserved place",
        ]
    )
    for row in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    row.reference,
                    row.display_name,
                    row.status.value if hasattr(row.status, "value") else row.status,
                    AGE_BAND_LABELS.get(AgeBand(row.age_band), row.age_band),
                    row.contact_email,
                    "yes" if row.contact_is_parent else "no",
                    row.access_needs or "",
                    row.anything_else or "",
                    in_words(row.checked_in_at, settings.timezone) if row.checked_in_at else "",
                    "yes" if row.reserved else "no",
                )
            ]
        )
    audit.record(
        session,
        actor,
        "workshop.attendees_exported",
        record_type="workshop",
        record_id=workshop.id,
        rows=len(rows),
    )
    return buffer.getvalue()


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
            if outbox.queue(
                session,
                to=row.contact_email,
                subject=f"Reminder: {workshop.title} is {words}",
                body=_reminder_body(settings, workshop, row, words),
                now=now,
                dedupe_key=f"workshop-reminder-{name}-{row.id}",
                participant_id=row.participant_id,
            ):
                queued += 1
    return queued


def _reminder_body(settings: Settings, workshop: Workshop, row: SignUp, words: str) -> str:
    urls = links(settings, row)
    return (
        f"Hello {row.display_name},\n\n"
        f"This is a reminder: your workshop is {words}.\n\n"
        f"Workshop: {workshop.title}\n"
        f"When: {in_words(workshop.starts_at, settings.timezone)}\n"
        f"{_where(workshop, row)}\n\n"
        f"See your place: {urls['manage']}\n"
        f"Can't come any more? Tell us here: {urls['cancel']}\n\n"
        f"From {settings.organisation_name}\n"
    )


def counts(session: Session, workshop_id: int) -> dict[str, int]:
    rows = session.exec(
        select(SignUp.status, func.count())
        .where(SignUp.workshop_id == workshop_id)
        .group_by(col(SignUp.status))
    ).all()
    return {SignUpStatus(status).value: int(n) for status, n in rows}


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


@consent.on_withdraw
def _free_places_when_no_longer_taking_part(
    session: Session, participant: Participant, purpose: ConsentPurpose, now: datetime
) -> None:
    """Saying "stop, I don't want to take part" gives their places back too, and so does a
    parent or carer saying no (or no longer yes) for a child who needs them to agree."""
    if purpose in (ConsentPurpose.TAKE_PART, ConsentPurpose.PARENT_CONSENT):
        _give_up_places(session, participant, now)
