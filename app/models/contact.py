"""Messages sent with the "Contact us" form."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field
from app.personal_data import PersonalData


class ContactMessage(SQLModel, table=True):
    __tablename__ = "contact_message"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    topic: str = Field(max_length=40)
    name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    message: str = Field(sa_column=Column(Text, nullable=False))
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="SET NULL"
    )
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("reference", "topic", "name", "email", "message", "created_at"),
        purpose="To answer the message you sent us.",
        retention=timedelta(days=180),
    )
