"""Programmes, their phases and updates, and calls with numbered questions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, when_field


class Programme(SQLModel, table=True):
    __tablename__ = "programme"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()


class Phase(SQLModel, table=True):
    __tablename__ = "phase"
    __table_args__ = (UniqueConstraint("programme_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    position: int
    name: str = Field(max_length=80)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    starts_at: datetime | None = when_field()
    ends_at: datetime | None = when_field()


class ProgrammeUpdate(SQLModel, table=True):
    """A public "you said, we did" update."""

    __tablename__ = "programme_update"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    published_at: datetime = required_when_field()
    you_said: str = Field(sa_column=Column(Text, nullable=False))
    we_did: str = Field(sa_column=Column(Text, nullable=False))


class CallKind(StrEnum):
    ADVICE = "advice"
    EVIDENCE = "evidence"
    IDEAS = "ideas"


class Call(SQLModel, table=True):
    __tablename__ = "call"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    kind: CallKind = Field(max_length=20)
    title: str = Field(max_length=200)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    opens_at: datetime = required_when_field()
    closes_at: datetime = required_when_field(index=True)


class Question(SQLModel, table=True):
    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("call_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", index=True, ondelete="CASCADE")
    number: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    hint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
