"""Sign-in links and server-side web sessions, for staff and participants alike."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, when_field
from app.personal_data import PersonalData


class SignInToken(SQLModel, table=True):
    """A one-time link. Only the SHA-256 of the token is stored."""

    __tablename__ = "sign_in_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=40)  # staff_sign_in, participant_sign_in, parent_consent
    staff_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True, ondelete="CASCADE"
    )
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    created_at: datetime = created_at_field()
    expires_at: datetime = required_when_field()
    used_at: datetime | None = when_field()

    personal_data: ClassVar[tuple[PersonalData, ...]] = (
        PersonalData(
            subject="participant",
            link="participant_id",
            fields=("created_at", "used_at"),
            purpose="To send you a link that signs you in without a password.",
            retention=timedelta(days=7),
            export=False,
        ),
        PersonalData(
            subject="staff",
            link="staff_id",
            fields=("created_at", "used_at"),
            purpose="To send staff a link that signs them in.",
            retention=timedelta(days=7),
            export=False,
        ),
    )


class WebSession(SQLModel, table=True):
    """A signed-in browser. Deleting the row signs that browser out at once."""

    __tablename__ = "web_session"

    id: str = Field(primary_key=True, max_length=64)  # SHA-256 of the cookie value
    staff_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True, ondelete="CASCADE"
    )
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    created_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()
    expires_at: datetime = required_when_field(index=True)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    personal_data: ClassVar[tuple[PersonalData, ...]] = (
        PersonalData(
            subject="participant",
            link="participant_id",
            fields=("created_at", "last_seen_at"),
            purpose="To keep you signed in on this phone.",
            retention=timedelta(days=90),
            retention_from="last_seen_at",
            export=False,
        ),
        PersonalData(
            subject="staff",
            link="staff_id",
            fields=("created_at", "last_seen_at"),
            purpose="To keep staff signed in while they work.",
            retention=timedelta(days=1),
            retention_from="last_seen_at",
            export=False,
        ),
    )
