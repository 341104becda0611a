"""Recruitment rounds for a group (e.g. the experts-by-experience group): applications with a
closing time, blind reviews and decisions.

Enums are strings with a CHECK constraint (app.models.calls.string_enum). Questions are the
same kinds as a call's (QuestionKind), with one more flag: `identifying`, for answers
reviewers must not see (they review blind).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, utc_column, when_field
from app.models.calls import QuestionKind, string_enum
from app.personal_data import PersonalData
from app.windows import Window


class RoundStatus(StrEnum):
    DRAFT = "draft"  # only admins see it
    OPEN = "open"  # takes applications while its window is open
    CLOSED = "closed"  # reviewing
    DECIDED = "decided"  # every application has a decision


class Outcome(StrEnum):
    SHORTLIST = "shortlist"
    OFFER = "offer"
    WAITING_LIST = "waiting_list"
    DECLINE = "decline"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.SHORTLIST: "Shortlist",
    Outcome.OFFER: "Offer a place",
    Outcome.WAITING_LIST: "Waiting list",
    Outcome.DECLINE: "Decline",
}


class Group(SQLModel, table=True):
    """A group people are recruited to, e.g. the experts-by-experience group."""

    __tablename__ = "recruit_group"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, unique=True)
    name: str = Field(max_length=200)
    summary: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    created_at: datetime = created_at_field()


class Round(SQLModel, table=True):
    __tablename__ = "recruit_round"

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="recruit_group.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(sa_column=Column(Text, nullable=False))  # what the group does
    time_asked: str = Field(sa_column=Column(Text, nullable=False))
    in_return: str = Field(sa_column=Column(Text, nullable=False))  # vouchers, expenses …
    min_age: int = 16
    max_age: int = 25
    who_can_apply: str = Field(sa_column=Column(Text, nullable=False))  # lived experience
    how_info_used: str = Field(sa_column=Column(Text, nullable=False))
    adjustments_question: str = Field(
        default="Is there anything that would help you take part?", max_length=500
    )
    criteria: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Two reviewers' scores for one criterion further apart than this are flagged.
    disagreement: int = Field(default=2, sa_column_kwargs={"server_default": "2"})
    opens_at: datetime = required_when_field()
    closes_at: datetime = required_when_field(index=True)
    status: RoundStatus = Field(
        default=RoundStatus.DRAFT, sa_column=string_enum(RoundStatus, "status", "draft")
    )
    # Outcome email wording, per outcome, editable by admins ({name}, {round}, {reason}).
    templates: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    keep_days: int = Field(default=180, sa_column_kwargs={"server_default": "180"})
    decided_at: datetime | None = when_field()

    @property
    def window(self) -> Window:
        return Window(self.opens_at, self.closes_at)


class RoundQuestion(SQLModel, table=True):
    __tablename__ = "round_question"
    __table_args__ = (UniqueConstraint("round_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="recruit_round.id", index=True, ondelete="CASCADE")
    number: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    hint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    kind: QuestionKind = Field(
        default=QuestionKind.LONG_TEXT, sa_column=string_enum(QuestionKind, "kind", "long_text")
    )
    options: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    young_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    young_hint: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    max_chars: int | None = None
    # Its answer could say who someone is (their school, their town): reviewers never see it.
    identifying: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    WITHDRAWN = "withdrawn"


class Application(SQLModel, table=True):
    """One person's application, sent once (its repeat-submit token is unique).

    Name, email and age are identifying and live only in their own columns; `answers` marks
    each answer's `identifying` flag, so the blind view can leave those out.
    """

    __tablename__ = "application"
    __table_args__ = (UniqueConstraint("round_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="recruit_round.id", index=True, ondelete="CASCADE")
    number: int  # the pseudonymous number reviewers know it by ("Applicant 12")
    reference: str = Field(max_length=12, unique=True)
    submit_token_hash: str = Field(max_length=64, unique=True)
    manage_token_hash: str = Field(max_length=64, unique=True)
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    age: int
    answers: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    adjustments: str = Field(default="", sa_column=Column(Text, nullable=False))
    declaration: bool = False
    consent: bool = False
    consent_wording: str = Field(sa_column=Column(Text, nullable=False))
    status: ApplicationStatus = Field(
        default=ApplicationStatus.SUBMITTED,
        sa_column=string_enum(ApplicationStatus, "status", "submitted"),
    )
    submitted_at: datetime = required_when_field(index=True)
    withdrawn_at: datetime | None = when_field()
    erase_after: datetime | None = when_field(index=True)

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=(
            "reference",
            "name",
            "email",
            "age",
            "answers",
            "adjustments",
            "declaration",
            "consent",
            "consent_wording",
            "status",
            "submitted_at",
            "withdrawn_at",
        ),
        purpose="To choose people for the group fairly, and to tell you what we decided.",
        retention=timedelta(0),  # erase_after: set when the round is decided, plus keep_days
        retention_from="erase_after",
        title="Your applications to join a group",
    )


class RoundExtension(SQLModel, table=True):
    """More time for one person's unsent draft, granted by staff after the closing time."""

    __tablename__ = "round_extension"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="recruit_round.id", index=True, ondelete="CASCADE")
    draft_id: int = Field(foreign_key="journey_draft.id", unique=True, ondelete="CASCADE")
    until: datetime = Field(sa_column=utc_column())
    granted_by: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="granted_by",
        fields=(),
        purpose="To show which member of staff gave someone more time.",
        erase="anonymise",
        export=False,
    )


class Review(SQLModel, table=True):
    """One reviewer's scores for one application (blind: they never saw who it was)."""

    __tablename__ = "application_review"
    __table_args__ = (UniqueConstraint("application_id", "reviewer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", index=True, ondelete="CASCADE")
    reviewer_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True, ondelete="SET NULL"
    )
    scores: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="reviewer_id",
        fields=(),
        purpose="To show who scored an application (erased with the application).",
        erase="anonymise",
        export=False,
    )


class Decision(SQLModel, table=True):
    __tablename__ = "application_decision"

    id: int | None = Field(default=None, primary_key=True)
    application_id: int = Field(foreign_key="application.id", unique=True, ondelete="CASCADE")
    outcome: Outcome = Field(sa_column=string_enum(Outcome, "outcome"))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    decided_by: int | None = Field(default=None, foreign_key="staff_user.id", ondelete="SET NULL")
    decided_at: datetime = required_when_field()
    emailed_at: datetime | None = when_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="decided_by",
        fields=(),
        purpose="To show who made a decision (erased with the application).",
        erase="anonymise",
        export=False,
    )
