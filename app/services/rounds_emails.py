"""The emails a round sends, all through the outbox: a link back to a saved application, a
receipt, more time, a later closing date, and the outcome."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app import emails
from app.config import Settings
from app.models import Application, Outcome, Round
from app.services import outbox

DEFAULT_TEMPLATES = {
    Outcome.SHORTLIST.value: (
        "Thank you for applying to {round}. We would like to talk to you more. "
        "We will email you soon to find a time."
    ),
    Outcome.OFFER.value: (
        "Thank you for applying to {round}. We are happy to offer you a place in the group. "
        "We will email you soon about what happens next."
    ),
    Outcome.WAITING_LIST.value: (
        "Thank you for applying to {round}. We had more people than places. You are on our "
        "waiting list. If a place comes free, we will email you."
    ),
    Outcome.DECLINE.value: (
        "Thank you for applying to {round}. We had more people than places, and this time we "
        "can't offer you one. Please do not give up: there are other ways to take part."
    ),
}


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def queue_resume_link(
    db: Session,
    settings: Settings,
    round_: Round,
    token: str,
    email: str,
    participant_id: int | None,
    now: datetime,
    *,
    more_time_until: datetime | None = None,
) -> None:
    mail = emails.render(
        "rounds/resume_link",
        settings,
        now,
        round=round_,
        url=f"{_base(settings)}/rounds/{round_.slug}/resume?token={token}",
        more_time_until=more_time_until,
        closes=round_.window.closes_words(settings.timezone),
    )
    outbox.queue(
        db,
        to=email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        participant_id=participant_id,
    )


def queue_later_closing(
    db: Session, settings: Settings, round_: Round, email: str, now: datetime
) -> None:
    mail = emails.render(
        "rounds/later_closing",
        settings,
        now,
        round=round_,
        url=f"{_base(settings)}/rounds/{round_.slug}",
        closes=round_.window.closes_words(settings.timezone),
    )
    outbox.queue(
        db,
        to=email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        dedupe_key=(
            f"round-later-{round_.id}-{round_.closes_at:%Y%m%d%H%M%S}-"
            f"{outbox.recipient_key(email)[:32]}"
        ),
    )


def queue_receipt(
    db: Session,
    settings: Settings,
    round_: Round,
    application: Application,
    manage_token: str,
    what_next: str,
    now: datetime,
) -> None:
    mail = emails.render(
        "rounds/receipt",
        settings,
        now,
        round=round_,
        name=application.name,
        submitted_at=application.submitted_at,
        reference=application.reference,
        answers=application.answers,
        what_next=what_next,
        url=f"{_base(settings)}/applications/{manage_token}",
    )
    outbox.queue(
        db,
        to=application.email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        dedupe_key=f"application-receipt-{application.id}",
        participant_id=application.participant_id,
    )


def outcome_text(round_: Round, outcome: Outcome, name: str, reason: str = "") -> str:
    template = (round_.templates or {}).get(outcome.value) or DEFAULT_TEMPLATES[outcome.value]
    # Plain replacement, not str.format: a template is typed by staff and may hold braces.
    return (
        template.replace("{round}", f'"{round_.title}"')
        .replace("{name}", name)
        .replace("{reason}", reason)
    )


def queue_outcome(
    db: Session,
    settings: Settings,
    round_: Round,
    application: Application,
    outcome: Outcome,
    now: datetime,
) -> None:
    mail = emails.render(
        "rounds/outcome",
        settings,
        now,
        round=round_,
        name=application.name,
        outcome=outcome_text(round_, outcome, application.name),
        reference=application.reference,
    )
    outbox.queue(
        db,
        to=application.email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        dedupe_key=f"application-outcome-{application.id}",
        participant_id=application.participant_id,
        # An outcome must reach everyone who applied: one per application (its dedupe key).
        limited=False,
    )
