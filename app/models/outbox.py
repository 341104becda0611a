"""Every email Heard sends is first a row here, written with whatever caused it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.personal_data import PersonalData


class OutboxEmail(SQLModel, table=True):
    __tablename__ = "outbox_email"
    # How many emails one mailbox was sent lately (app/services/outbox.py, the per-recipient
    # limit), counted without reading every row.
    __table_args__ = (
        Index("ix_outbox_email_recipient_key_created_at", "recipient_key", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254)
    # A hash of the mailbox (case, +tags and Gmail's dots made one): see outbox.recipient_key.
    recipient_key: str | None = Field(default=None, max_length=64)
    subject: str = Field(max_length=200)
    body_text: str = Field(sa_column=Column(Text, nullable=False))
    # The same words as HTML (app/emails.py); sent as multipart/alternative after the text.
    # None for emails queued before there was one: those go as text only.
    body_html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # [{"filename": ..., "content_type": ..., "content_b64": ...}]
    attachments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Extra headers a flow asked for ({"List-Unsubscribe": ...}), only names outbox.py allows.
    headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # A key that makes "send this once" true even if the job that queues it runs twice.
    dedupe_key: str | None = Field(default=None, max_length=200, unique=True)
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()
    status: str = Field(
        default="pending", max_length=20, index=True
    )  # pending, sending, sent, failed
    attempts: int = 0
    next_attempt_at: datetime | None = when_field(index=True)
    sent_at: datetime | None = when_field()
    last_error: str | None = Field(default=None, max_length=500)

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("to_address", "recipient_key", "subject", "body_text", "body_html"),
        purpose="To send you the emails you asked for.",
        retention=timedelta(days=30),
        export=False,
    )
