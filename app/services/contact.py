"""The "Contact us" form: store the message and email the team, in one transaction."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator
from sqlmodel import Session

from app import emails
from app.config import Settings
from app.forms import EmailAddress, FormModel
from app.models import ContactMessage
from app.services import outbox

MESSAGE_MAX = 2000
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

TOPICS = [
    ("question", "A question about taking part"),
    ("problem", "Something is not working"),
    ("data", "My information (see it, change it or delete it)"),
    ("other", "Something else"),
]


class ContactForm(FormModel):
    topic: Literal["question", "problem", "data", "other"]
    name: str | None = Field(default=None, max_length=100)
    email: EmailAddress | None = Field(default=None, max_length=254)
    message: str = Field(max_length=MESSAGE_MAX)

    messages = {
        "topic": {"missing": "Choose what your message is about"},
        "name": {"too_long": "Your name must be 100 characters or fewer"},
        "email": {
            "too_long": "Your email address must be 254 characters or fewer",
        },
        "message": {
            "missing": "Enter your message",
            "too_long": f"Your message must be {MESSAGE_MAX:,} characters or fewer",
        },
    }

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Enter your message")
        return value


def new_reference() -> str:
    return "C-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def send_message(
    session: Session,
    settings: Settings,
    form: ContactForm,
    now: datetime,
    participant_id: int | None = None,
) -> ContactMessage:
    message = ContactMessage(
        reference=new_reference(),
        topic=form.topic,
        name=form.name,
        email=str(form.email) if form.email else None,
        message=form.message,
        participant_id=participant_id,
        created_at=now,
    )
    session.add(message)
    session.flush()
    topic = dict(TOPICS)[form.topic]
    mail = emails.render(
        "contact/message",
        settings,
        now,
        reference=message.reference,
        topic=topic,
        name=message.name,
        reply_to=message.email,
        message=message.message,
    )
    outbox.queue(
        session,
        to=settings.contact_email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        # The organisation's own inbox: the form's per-address limit keeps it sane, and a
        # busy day's messages must all arrive.
        limited=False,
    )
    return message


def looks_like_reference(value: str) -> bool:
    return (
        len(value) == 8
        and value.startswith("C-")
        and all(ch in REFERENCE_ALPHABET for ch in value[2:])
    )
