"""Programmes, their phases and "you said, we did" updates. Calls live in calls.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.models.calls import Call, CallKind, Question
from app.windows import Window

__all__ = ["Call", "CallKind", "Phase", "Programme", "ProgrammeUpdate", "Question"]


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

    @property
    def window(self) -> Window:
        return Window(self.starts_at, self.ends_at)


class ProgrammeUpdate(SQLModel, table=True):
    """A "you said, we did" update: a draft until staff publish it (then public), and
    emailed to the programme's confirmed subscribers at most once each."""

    __tablename__ = "programme_update"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    published_at: datetime | None = when_field()  # None: a draft only staff see
    you_said: str = Field(sa_column=Column(Text, nullable=False))
    we_did: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()
    # When staff first sent it to subscribers. Emails are queued a batch at a time (the
    # request, then the worker each minute) in subscription order: the last subscription
    # queued so far, or None once every confirmed subscriber has it queued.
    emailed_at: datetime | None = when_field()
    queued_up_to: int | None = None
