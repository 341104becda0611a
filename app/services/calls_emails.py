"""The emails a call sends: a link to come back to saved answers, and a receipt."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app import emails
from app.config import Settings
from app.models import Call, CallResponse
from app.services import outbox


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
    mail = emails.render(
        "calls/resume_link",
        settings,
        now,
        call=call,
        url=url,
        closes=call.window.closes_words(settings.timezone),
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
    mail = emails.render(
        "calls/receipt",
        settings,
        now,
        call=call,
        name=response.display_name,
        submitted_at=response.submitted_at,
        reference=response.reference,
        answers=response.answers,
        quote_consent=response.quote_consent,
        what_next=what_next,
    )
    outbox.queue(
        db,
        to=response.email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        dedupe_key=f"call-receipt-{response.id}",
        participant_id=response.participant_id,
    )
