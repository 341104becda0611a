"""Calls for advice, evidence and ideas: numbered questions, responses, and staff themes.

Enums are stored as strings with a CHECK constraint (a new kind never needs `ALTER TYPE`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import JSON, Column, Text, UniqueConstraint, false, true
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, utc_column, when_field
from app.personal_data import PersonalData
from app.windows import Window


def string_enum(enum: type[StrEnum], name: str, default: str | None = None) -> Column[Any]:
    """A VARCHAR holding the enum's values, checked by a CHECK constraint."""
    kind = sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
    return Column(kind, nullable=False, server_default=default)


class CallKind(StrEnum):
    ADVICE = "advice"
    EVIDENCE = "evidence"
    IDEAS = "ideas"

    @property
    def label(self) -> str:
        return f"Call for {self.value}"


class CallStatus(StrEnum):
    DRAFT = "draft"  # only staff see it
    PUBLISHED = "published"


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
    status: CallStatus = Field(
        default=CallStatus.PUBLISHED, sa_column=string_enum(CallStatus, "status", "published")
    )
    # People may answer without giving a name or an email address.
    allow_anonymous: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # People may answer some questions and leave others.
    allow_skip: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    # How long responses are kept after the call closes; then the retention job erases them.
    keep_days: int = Field(default=365, sa_column_kwargs={"server_default": "365"})

    @property
    def window(self) -> Window:
        return Window(self.opens_at, self.closes_at)

    @property
    def is_published(self) -> bool:
        return self.status == CallStatus.PUBLISHED


class QuestionKind(StrEnum):
    SHORT_TEXT = "short_text"
    LONG_TEXT = "long_text"
    ONE_CHOICE = "one_choice"
    SEVERAL_CHOICES = "several_choices"
    YES_NO = "yes_no"
    SCALE = "scale"

    @property
    def label(self) -> str:
        return QUESTION_KIND_LABELS[self]


QUESTION_KIND_LABELS = {
    QuestionKind.SHORT_TEXT: "Short answer (one line)",
    QuestionKind.LONG_TEXT: "Long answer, with a limit",
    QuestionKind.ONE_CHOICE: "Choose one",
    QuestionKind.SEVERAL_CHOICES: "Choose one or more",
    QuestionKind.YES_NO: "Yes or no",
    QuestionKind.SCALE: "A scale from 1 to 5",
}


class Question(SQLModel, table=True):
    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("call_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", index=True, ondelete="CASCADE")
    number: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    hint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    kind: QuestionKind = Field(
        default=QuestionKind.LONG_TEXT,
        sa_column=string_enum(QuestionKind, "kind", "long_text"),
    )
    # The choices (one or several), or a scale's words for its two ends.
    options: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    # The young person's version of the wording, shown by a toggle.
    young_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    young_hint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The most characters a long answer may have (None: the standard limit).
    max_chars: int | None = None


# Responses are erased this long after the call closes unless the call says otherwise.
DEFAULT_KEEP = timedelta(days=365)


class CallResponse(SQLModel, table=True):
    """One person's answers to a call, sent once.

    `submit_token_hash` is the journey's repeat-submit token: unique, so a double tap, the
    back button, two tabs or a replayed POST can only ever make this one row.
    `answers` is a copy of what they sent, worded as they saw it (their receipt and their
    download); the CallAnswer rows are the same answers, one per question, for staff.
    """

    __tablename__ = "call_response"

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", index=True, ondelete="CASCADE")
    reference: str = Field(max_length=12, unique=True)
    submit_token_hash: str = Field(max_length=64, unique=True)
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    display_name: str | None = Field(default=None, max_length=60)
    email: str | None = Field(default=None, max_length=254)
    age_band: str | None = Field(default=None, max_length=20)
    answers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # Consent to be quoted: separate, never ticked for them, with the exact words and version.
    quote_consent: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    quote_wording: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    quote_version: str | None = Field(default=None, max_length=20)
    quote_consent_at: datetime | None = when_field()
    quote_withdrawn_at: datetime | None = when_field()
    submitted_at: datetime = required_when_field(index=True)
    erase_after: datetime = Field(sa_column=utc_column(index=True))

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=(
            "reference",
            "display_name",
            "email",
            "age_band",
            "answers",
            "quote_consent",
            "quote_wording",
            "quote_version",
            "quote_consent_at",
            "quote_withdrawn_at",
            "submitted_at",
        ),
        purpose="To read what you told us in answer to a call, and to send you a copy.",
        # Kept until the date the call set (its closing time plus its keep_days).
        retention=timedelta(0),
        retention_from="erase_after",
        title="Your answers to calls",
    )


class CallAnswer(SQLModel, table=True):
    """One answer to one question, for reading per question, searching and exporting."""

    __tablename__ = "call_answer"
    __table_args__ = (UniqueConstraint("response_id", "question_id"),)

    id: int | None = Field(default=None, primary_key=True)
    response_id: int = Field(foreign_key="call_response.id", index=True, ondelete="CASCADE")
    question_id: int = Field(foreign_key="question.id", index=True, ondelete="CASCADE")
    text: str = Field(sa_column=Column(Text, nullable=False))  # the answer in words
    choices: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class CallTheme(SQLModel, table=True):
    """A theme staff tag responses with (e.g. "keeping the same social worker")."""

    __tablename__ = "call_theme"
    __table_args__ = (UniqueConstraint("call_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: int = Field(foreign_key="call.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=80)
    created_at: datetime = created_at_field()


class CallResponseTheme(SQLModel, table=True):
    __tablename__ = "call_response_theme"

    response_id: int = Field(foreign_key="call_response.id", primary_key=True, ondelete="CASCADE")
    theme_id: int = Field(
        foreign_key="call_theme.id", primary_key=True, ondelete="CASCADE", index=True
    )
