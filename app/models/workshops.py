"""Workshops people sign up to and join on the day with a code."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, when_field


class WorkshopMode(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    BOTH = "both"


class WorkshopStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class Workshop(SQLModel, table=True):
    __tablename__ = "workshop"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    audience: str = Field(max_length=40)  # children, young_people, young_adults, parents
    age_range: str = Field(max_length=40)  # e.g. "13 to 17"
    mode: WorkshopMode = Field(max_length=20)
    place: str | None = Field(default=None, max_length=300)
    access_info: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    online_link: str | None = Field(default=None, max_length=500)
    starts_at: datetime = required_when_field(index=True)
    ends_at: datetime = required_when_field()
    capacity: int = 0
    reserved_places: int = 0
    sign_up_opens_at: datetime | None = when_field()
    sign_up_closes_at: datetime | None = when_field()
    status: WorkshopStatus = Field(default=WorkshopStatus.DRAFT, max_length=20)
    join_code: str | None = Field(default=None, max_length=6, unique=True)
    created_at: datetime = created_at_field()
