"""The emails a round sends, all through the outbox: a link back to a saved application, a
receipt, more time, a later closing date, and the outcome."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.config import Settings
from app.models import Application, Outcome, Round
from app.services import outbox
from app.timefmt import in_words

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
    url = f"{_base(settings)}/rounds/{round_.slug}/resume?token={token}"
    if more_time_until is not None:
        subject = f"More time for your application: {round_.title}"
        opening = (
            f'You started an application to "{round_.title}" but did not send it. We have '
            f"given you more time. You can send it until "
            f"{in_words(more_time_until, settings.timezone)}."
        )
    else:
        subject = f"Your saved application: {round_.title}"
        opening = f'You saved your application to "{round_.title}".'
    outbox.queue(
        db,
        to=email,
        subject=subject,
        body=(
            f"Hello,\n\n{opening} To carry on, open this link:\n\n{url}\n\n"
            "The link works once, for 7 days.\n\n"
            f"{round_.window.closes_words(settings.timezone)}.\n\n"
            "If you did not ask for this, you can ignore this email.\n\n"
            f"From {settings.organisation_name}\n"
        ),
        now=now,
        participant_id=participant_id,
    )


def queue_later_closing(
    db: Session, settings: Settings, round_: Round, email: str, now: datetime
) -> None:
    url = f"{_base(settings)}/rounds/{round_.slug}"
    outbox.queue(
        db,
        to=email,
        subject=f"More time to apply: {round_.title}",
        body=(
            f'Hello,\n\nYou started an application to "{round_.title}". You have more time '
            f"to send it now. {round_.window.closes_words(settings.timezone)}.\n\n"
            f"Open the page on the phone or computer you used before:\n\n{url}\n\n"
            f"From {settings.organisation_name}\n"
        ),
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
    lines = [f"{a['number']}. {a['question']}\n{a['answer']}" for a in application.answers]
    outbox.queue(
        db,
        to=application.email,
        subject=f"We have your application: {round_.title}",
        body=(
            f"Hello {application.name},\n\n"
            f'Thank you for applying to "{round_.title}". We got your application on '
            f"{in_words(application.submitted_at, settings.timezone)}.\n\n"
            f"Your reference is {application.reference}.\n\n"
            "Here is a copy of what you sent:\n\n" + "\n\n".join(lines) + "\n\n"
            f"What happens next: {what_next}\n\n"
            "To see your application, or to take it back, open this link:\n"
            f"{_base(settings)}/applications/{manage_token}\n\n"
            f"From {settings.organisation_name}\n"
        ),
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
    text = outcome_text(round_, outcome, application.name)
    outbox.queue(
        db,
        to=application.email,
        subject=f"Your application: {round_.title}",
        body=(
            f"Hello {application.name},\n\n{text}\n\n"
            f"Your reference is {application.reference}.\n\n"
            f"From {settings.organisation_name}\n"
        ),
        now=now,
        dedupe_key=f"application-outcome-{application.id}",
        participant_id=application.participant_id,
        # An outcome must reach everyone who applied: one per application (its dedupe key).
        limited=False,
    )
