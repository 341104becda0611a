""" "Keep me updated": people who asked for a programme's "you said, we did" updates by email.

An address is only used once its owner confirms it by a link (double opt-in). The confirm
link's token is stored hashed; the unsubscribe link's token is worked out from the secret
key and a random value on the row, so every email can carry it, and only its hash is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.models.calls import string_enum
from app.personal_data import PersonalData

# How long a pending (never confirmed) address is kept after its last confirm email.
PENDING_KEEP = timedelta(days=7)


class SubscriptionStatus(StrEnum):
    PENDING = "pending"  # asked, not yet confirmed by the link
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class Subscription(SQLModel, table=True):
    __tablename__ = "programme_subscription"
    # One row per mailbox per programme: asking again never makes a second one.
    __table_args__ = (UniqueConstraint("programme_id", "email_key"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    # Normalised (app.forms.valid_email, then in small letters).
    email: str = Field(max_length=254)
    # One key per mailbox (outbox.recipient_key): a +tag or Gmail's dots are the same inbox.
    email_key: str = Field(max_length=64, index=True)
    status: SubscriptionStatus = Field(
        default=SubscriptionStatus.PENDING,
        sa_column=string_enum(SubscriptionStatus, "subscription_status", "pending"),
    )
    # Set when someone signed in as a participant asks: their download and "Delete me" see it.
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="SET NULL"
    )
    confirm_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    confirm_expires_at: datetime | None = when_field()
    confirm_sent_at: datetime | None = when_field()
    confirmed_at: datetime | None = when_field()
    unsubscribed_at: datetime | None = when_field()
    # The unsubscribe token is HMAC(secret key, nonce); its hash finds the row.
    nonce: str = Field(max_length=64)
    unsubscribe_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()

    personal_data: ClassVar[tuple[PersonalData, ...]] = (
        PersonalData(
            subject="participant",
            link="participant_id",
            fields=("email", "status", "created_at", "confirmed_at", "unsubscribed_at"),
            purpose="To email you the programme's updates you asked for.",
            title="Programme updates by email",
            # Kept a while after unsubscribing, as a record that they asked us to stop.
            retention=timedelta(days=30),
            retention_from="unsubscribed_at",
            retention_setting="subscription_keep_days",
        ),
        PersonalData(
            subject="participant",
            link="participant_id",
            fields=("email",),
            purpose="To check it is your email address before we send you anything.",
            retention=PENDING_KEEP,
            retention_from="confirm_sent_at",
            where={"status": SubscriptionStatus.PENDING},
            export=False,
        ),
    )
