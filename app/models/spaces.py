"""Spaces: where discussion happens. Threads of posts, "Me too", "Something wrong?" reports,
what moderators decided, and concerns for safeguarding leads.

Enums are stored as strings with a CHECK constraint (see `string_enum`). Who decided what is
in the audit log (app/services/audit.py), never in these rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.models.calls import string_enum
from app.personal_data import PersonalData


class SpaceKind(StrEnum):
    WORKSHOP = "workshop"  # a workshop's room (later: a live session's breakout group)
    GROUP = "group"  # a group's private space (an experts-by-experience group)
    PROGRAMME = "programme"


class SpaceMode(StrEnum):
    PRE_MODERATED = "pre_moderated"  # seen by its author and moderators until approved
    POST_MODERATED = "post_moderated"  # seen at once; moderators can hide it
    CLOSED = "closed"  # read-only

    @property
    def label(self) -> str:
        return SPACE_MODE_LABELS[self]


SPACE_MODE_LABELS = {
    SpaceMode.PRE_MODERATED: "Checked first: a moderator approves each post before others see it",
    SpaceMode.POST_MODERATED: "Shared at once: moderators can hide a post afterwards",
    SpaceMode.CLOSED: "Closed: people can read but not write",
}


class Space(SQLModel, table=True):
    __tablename__ = "space"

    id: int | None = Field(default=None, primary_key=True)
    kind: SpaceKind = Field(sa_column=string_enum(SpaceKind, "kind"))
    # One space per workshop room.
    workshop_id: int | None = Field(
        default=None, foreign_key="workshop.id", unique=True, ondelete="CASCADE"
    )
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    title: str = Field(max_length=200)
    mode: SpaceMode = Field(
        default=SpaceMode.PRE_MODERATED,
        sa_column=string_enum(SpaceMode, "mode", "pre_moderated"),
    )
    # Anyone under 18 may take part: pre-moderation can't be switched off.
    under_18s: bool = Field(default=True)
    created_at: datetime = created_at_field()


class Thread(SQLModel, table=True):
    """A prompt staff open a discussion with ("What would have made moving home easier?")."""

    __tablename__ = "thread"

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="space.id", index=True, ondelete="CASCADE")
    prompt: str = Field(sa_column=Column(Text, nullable=False))
    # An optional picture with the prompt (app/uploads.py: the key of the cleaned file kept
    # outside the web root) and the words that say what it shows.
    picture_key: str | None = Field(default=None, max_length=40)
    picture_alt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    picture_width: int | None = Field(default=None)
    picture_height: int | None = Field(default=None)
    created_at: datetime = created_at_field()


class PostState(StrEnum):
    WAITING = "waiting"  # pre-moderated: its author and moderators see it
    SHARED = "shared"  # everyone in the space sees it
    HELD = "held"  # screening found personal details or abuse: a moderator looks first
    HIDDEN = "hidden"  # hidden by a moderator, or by reports until someone reviews it
    REMOVED = "removed"  # rejected: its author sees the kind reason
    CONCERN = "concern"  # a possible disclosure: its author and safeguarding leads only


# How long after posting its author may still change a post.
EDIT_WINDOW = timedelta(minutes=10)


class Post(SQLModel, table=True):
    """A post in a thread, or a reply to one (one level). Plain text with line breaks."""

    __tablename__ = "post"
    __table_args__ = (Index("ix_post_state", "state"),)  # the moderation queue

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="space.id", index=True, ondelete="CASCADE")
    thread_id: int = Field(foreign_key="thread.id", index=True, ondelete="CASCADE")
    # A reply's post. A reply whose post is erased with its author stays, as a post.
    parent_id: int | None = Field(
        default=None, foreign_key="post.id", index=True, ondelete="SET NULL"
    )
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: PostState = Field(sa_column=string_enum(PostState, "state"))
    # Why screening held it: personal_details, abuse, disclosure (no text, no words matched).
    screen_reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The kind reason its author sees when a moderator rejects or hides it.
    reason: str | None = Field(default=None, max_length=300)
    # What a moderator changed ("Took out a surname"), shown with the post.
    edit_note: str | None = Field(default=None, max_length=300)
    # Goes up with every change: a moderator's decision names the version they saw, so two
    # moderators acting on one post at once get one decision.
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    edited_at: datetime | None = when_field()
    deleted_at: datetime | None = when_field()
    decided_at: datetime | None = when_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("body", "state", "created_at", "edited_at", "deleted_at"),
        purpose="To show what you wrote to the people in the space, and to check it is safe.",
        title="What you wrote in discussions",
    )

    @property
    def is_reply(self) -> bool:
        return self.parent_id is not None


class Reaction(SQLModel, table=True):
    """ "Me too". Nobody sees how many: no like counts, no ranking by popularity."""

    __tablename__ = "reaction"
    __table_args__ = (UniqueConstraint("post_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True, ondelete="CASCADE")
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("post_id", "created_at"),
        purpose="To remember which posts you said 'me too' to.",
        title="Posts you said 'me too' to",
    )


class ReportReason(StrEnum):
    UPSETTING = "upsetting"
    PERSONAL_DETAILS = "personal_details"
    BULLYING = "bullying"
    WORRIED = "worried"  # worried about someone: a concern for a safeguarding lead
    OTHER = "other"

    @property
    def label(self) -> str:
        return REPORT_REASON_LABELS[self]


REPORT_REASON_LABELS = {
    ReportReason.UPSETTING: "It is upsetting",
    ReportReason.PERSONAL_DETAILS: "It shares someone's personal details",
    ReportReason.BULLYING: "It is bullying or unkind",
    ReportReason.WORRIED: "I am worried about someone",
    ReportReason.OTHER: "Something else",
}


class Report(SQLModel, table=True):
    """Someone pressed "Something wrong?" on a post. One report per person per post."""

    __tablename__ = "report"
    __table_args__ = (UniqueConstraint("post_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True, ondelete="CASCADE")
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    reason: ReportReason = Field(sa_column=string_enum(ReportReason, "reason"))
    detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()
    reviewed_at: datetime | None = when_field(index=True)

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("reason", "detail", "created_at"),
        purpose="To check a post you told us about.",
        retention=timedelta(days=365),
        title="Posts you told us about",
    )


class SpaceRemoval(SQLModel, table=True):
    """A participant a moderator removed from a space: they can't read or write there."""

    __tablename__ = "space_removal"
    __table_args__ = (UniqueConstraint("space_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="space.id", index=True, ondelete="CASCADE")
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("space_id", "created_at"),
        purpose="To keep someone out of a discussion after a moderator removed them.",
        title="Discussions you were removed from",
    )


class ScreenTermKind(StrEnum):
    DISCLOSURE = "disclosure"  # goes to a safeguarding lead
    ABUSE = "abuse"  # held for a moderator


class ScreenTerm(SQLModel, table=True):
    """A word or phrase staff added to the screening lists (who added it: the audit log)."""

    __tablename__ = "screen_term"
    __table_args__ = (UniqueConstraint("kind", "phrase"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: ScreenTermKind = Field(sa_column=string_enum(ScreenTermKind, "kind"))
    phrase: str = Field(max_length=100)
    created_at: datetime = created_at_field()


class ConcernStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    REFERRED = "referred"  # passed to children's services, the police or a school
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return CONCERN_STATUS_LABELS[self]


CONCERN_STATUS_LABELS = {
    ConcernStatus.NEW: "New",
    ConcernStatus.IN_PROGRESS: "In progress",
    ConcernStatus.REFERRED: "Referred",
    ConcernStatus.CLOSED: "Closed",
}


class ConcernSource(StrEnum):
    SCREENING = "screening"  # the post's words, found by screening
    REPORT = "report"  # someone said "I am worried about someone"
    STAFF = "staff"  # a moderator raised it from a post

    @property
    def label(self) -> str:
        return {
            "screening": "Found by screening",
            "report": "Someone said they were worried",
            "staff": "Raised by staff",
        }[self.value]


class Concern(SQLModel, table=True):
    """A safeguarding record, seen only by safeguarding leads; every view is audited.

    It keeps its own copy of what was written and by whom (`post_text`, `about_name`): the
    post may be edited, deleted or erased, and the record must still say what happened.
    """

    __tablename__ = "concern"
    __table_args__ = (Index("ix_concern_status", "status"),)  # the urgent queue

    id: int | None = Field(default=None, primary_key=True)
    status: ConcernStatus = Field(
        default=ConcernStatus.NEW, sa_column=string_enum(ConcernStatus, "status", "new")
    )
    source: ConcernSource = Field(sa_column=string_enum(ConcernSource, "source"))
    space_id: int | None = Field(
        default=None, foreign_key="space.id", index=True, ondelete="SET NULL"
    )
    post_id: int | None = Field(
        default=None, foreign_key="post.id", index=True, ondelete="SET NULL"
    )
    workshop_id: int | None = Field(
        default=None, foreign_key="workshop.id", index=True, ondelete="SET NULL"
    )
    programme_id: int | None = Field(
        default=None, foreign_key="programme.id", index=True, ondelete="SET NULL"
    )
    # Who wrote the post (erasing them cuts this link; the record stays).
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="SET NULL"
    )
    about_name: str = Field(max_length=60)
    post_text: str = Field(sa_column=Column(Text, nullable=False))
    # What screening saw ("suicide", "physical", "model") or the report said; no text.
    signals: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Someone's words from "Something wrong?" ("worried about someone"), if they wrote any.
    report_detail: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    opened_at: datetime | None = when_field(index=True)
    escalated_at: datetime | None = when_field()
    closed_at: datetime | None = when_field()

    # Kept for HEARD_CONCERN_RETENTION_DAYS (safeguarding law), whatever "Delete me" says:
    # erasure only cuts the link to the person (nothing is blanked), and the retention job
    # in app/services/safeguarding.py deletes concerns when their period runs out.
    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=(),
        purpose="To keep a safeguarding record, as the law says we must.",
        erase="keep",
        export=False,
        title="Safeguarding records",
    )


class NoteKind(StrEnum):
    NOTE = "note"
    ACTION = "action"  # something done: a call made, a referral sent
    STATUS = "status"  # the status changed (written by Heard)

    @property
    def label(self) -> str:
        return {"note": "Note", "action": "Action taken", "status": "Status"}[self.value]


class ConcernNote(SQLModel, table=True):
    """A note, an action taken, or a change of status on a concern."""

    __tablename__ = "concern_note"

    id: int | None = Field(default=None, primary_key=True)
    concern_id: int = Field(foreign_key="concern.id", index=True, ondelete="CASCADE")
    staff_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True, ondelete="SET NULL"
    )
    author_name: str | None = Field(default=None, max_length=120)
    kind: NoteKind = Field(sa_column=string_enum(NoteKind, "kind"))
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="staff_id",
        fields=("author_name",),
        purpose="To show which safeguarding lead wrote each note.",
        erase="anonymise",
        replacements={"author_name": "Former staff member"},
        export=False,
    )


__all__ = [
    "EDIT_WINDOW",
    "Concern",
    "ConcernNote",
    "ConcernSource",
    "ConcernStatus",
    "NoteKind",
    "Post",
    "PostState",
    "Reaction",
    "Report",
    "ReportReason",
    "ScreenTerm",
    "ScreenTermKind",
    "Space",
    "SpaceKind",
    "SpaceMode",
    "SpaceRemoval",
    "Thread",
]
