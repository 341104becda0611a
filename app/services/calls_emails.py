"""The emails a call sends: a link to come back to saved answers, and a receipt."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.config import Settings
from app.models import Call, CallResponse
from app.services import outbox
from app.timefmt import in_words


def queue_resume_link(
    db: Session,
    settings: Settings,
    call: Call,
    token: str,
    email: str,
    participant_id: int | None,
    now: datetime,
) -> None:
    url = f"{settings.base_url.rstrip('/')}/calls/{call.slug}/resume?token={token}"
    outbox.queue(
        db,
        to=email,
        subject=f"Your saved answers: {call.title}",
        body=(
            "Hello,\n\n"
            f'You saved your answers to "{call.title}". To carry on, open this link:\n\n'
            f"{url}\n\n"
            "The link works once, for 7 days. If you need another one, press "
            '"Save and come back later" again.\n\n'
            f"{call.window.closes_words(settings.timezone)}.\n\n"
            "If you did not ask for this, you can ignore this email.\n\n"
            f"From {settings.organisation_name}\n"
        ),
        now=now,
        participant_id=participant_id,
    )


def queue_receipt(
    db: Session,
    settings: Settings,
    call: Call,
    response: CallResponse,
    what_next: str,
    now: datetime,
) -> None:
    """A copy of the answers, with the reference, once per response (its dedupe key)."""
    assert response.email is not None
    lines = [
        f"{a['number']}. {a['question']}\n{a['answer'] or '(You left this out.)'}"
        for a in response.answers
    ]
    quoted = (
        "You said we may use your words in reports, without your name."
        if response.quote_consent
        else "You said we may not use your words in reports. We will not quote you."
    )
    name = f" {response.display_name}" if response.display_name else ""
    outbox.queue(
        db,
        to=response.email,
        subject=f"We have your answers: {call.title}",
        body=(
            f"Hello{name},\n\n"
            f'Thank you for answering "{call.title}". '
            f"We got your answers on {in_words(response.submitted_at, settings.timezone)}.\n\n"
            f"Your reference is {response.reference}.\n\n"
            "Here is a copy of what you sent:\n\n" + "\n\n".join(lines) + "\n\n"
            f"{quoted}\n\n"
            f"What happens next: {what_next}\n\n"
            "To change your mind about being quoted, or to ask us to delete your answers, "
            f"contact us and give your reference: {settings.base_url.rstrip('/')}/contact\n\n"
            f"From {settings.organisation_name}\n"
        ),
        now=now,
        dedupe_key=f"call-receipt-{response.id}",
        participant_id=response.participant_id,
    )
