"""Workshops people sign up to and join on the day with a code."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, required_when_field, when_field
from app.personal_data import PersonalData


class WorkshopMode(StrEnum):
    IN_PERSON = "in_person"
    ONLINE = "online"
    BOTH = "both"

    @property
    def label(self) -> str:
        return {"in_person": "In person", "online": "Online", "both": "In person or online"}[
            self.value
        ]


class WorkshopStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


# Who a workshop is for: the value stored in Workshop.audience, and its words.
AUDIENCES: dict[str, str] = {
    "children": "Children aged 8 to 12",
    "young_people": "Young people aged 13 to 17",
    "young_adults": "Young adults aged 18 to 25",
    "parents": "Parents and carers",
}
AUDIENCE_AGE_RANGES: dict[str, str] = {
    "children": "8 to 12",
    "young_people": "13 to 17",
    "young_adults": "18 to 25",
    "parents": "parents and carers",
}


# The age bands (AgeBand values) who may sign up for each audience themselves.
AUDIENCE_AGE_BANDS: dict[str, tuple[str, ...]] = {
    "children": ("under_13",),
    "young_people": ("13_15", "16_17"),
    "young_adults": ("18_25",),
    "parents": ("18_25", "26_plus"),
}
# Who may take part in someone's place, in words (an attendee's chosen way to come).
ATTEND_MODES: dict[str, str] = {"in_person": "In person", "online": "Online"}


class Workshop(SQLModel, table=True):
    __tablename__ = "workshop"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True, ondelete="CASCADE")
    slug: str = Field(max_length=80, unique=True)
    title: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    audience: str = Field(max_length=40)  # a key of AUDIENCES
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
    cancelled_at: datetime | None = when_field()
    # When a facilitator pressed "Start the workshop now" (None: it starts at `starts_at`).
    started_at: datetime | None = when_field()
    # What people in the room read, when staff write it: the plan for today, where the
    # toilets and the quiet space are.
    today_plan: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    toilets: str | None = Field(default=None, max_length=300)
    quiet_space: str | None = Field(default=None, max_length=300)
    # The organisation pays people's travel: sign-up asks who needs it.
    pays_travel: bool = Field(default=False, sa_column_kwargs={"server_default": false()})

    @property
    def bookable_places(self) -> int:
        """Places people can sign up for: reserved places are kept back by staff."""
        return max(self.capacity - self.reserved_places, 0)

    @property
    def audience_label(self) -> str:
        return AUDIENCES.get(self.audience, self.age_range)

    def welcomes(self, age_band: str | None) -> bool:
        """Whether someone of this age may sign up themselves (its audience decides)."""
        return age_band in AUDIENCE_AGE_BANDS.get(self.audience, ())

    @property
    def for_children(self) -> bool:
        """A workshop for children or young people: a parent or carer may sign a child up."""
        return self.audience in {"children", "young_people"}

    @property
    def is_online(self) -> bool:
        return self.mode in {WorkshopMode.ONLINE, WorkshopMode.BOTH}

    @property
    def is_in_person(self) -> bool:
        return self.mode in {WorkshopMode.IN_PERSON, WorkshopMode.BOTH}


class WorkshopFacilitator(SQLModel, table=True):
    """A staff member who runs a workshop: they see its attendees and check people in."""

    __tablename__ = "workshop_facilitator"
    __table_args__ = (UniqueConstraint("workshop_id", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workshop_id: int = Field(foreign_key="workshop.id", index=True, ondelete="CASCADE")
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="staff_id",
        fields=("workshop_id",),
        purpose="To know which workshops a member of staff runs, so only they see its attendees.",
    )


class SignUpStatus(StrEnum):
    CONFIRMED = "confirmed"
    WAITING = "waiting"  # on the waiting list
    CANCELLED = "cancelled"  # they said they can't come (or declined a place)
    WORKSHOP_CANCELLED = "workshop_cancelled"


ACTIVE_SIGN_UP = (SignUpStatus.CONFIRMED, SignUpStatus.WAITING)

# Long enough for a workshop months ahead and its follow-up; then the retention job deletes it.
SIGN_UP_RETENTION = timedelta(days=365)


class SignUp(SQLModel, table=True):
    """One person's place (or place in the queue) at a workshop.

    `contact_key` (the email, lower-cased) is unique per workshop, so signing up twice can
    never make two rows, however the requests race. Links in emails carry a token made from
    `token_nonce` and the secret key; only hashes of the tokens are stored.
    """

    __tablename__ = "sign_up"
    __table_args__ = (UniqueConstraint("workshop_id", "contact_key"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=12, unique=True)
    workshop_id: int = Field(foreign_key="workshop.id", index=True, ondelete="CASCADE")
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    display_name: str = Field(max_length=60)
    age_band: str = Field(max_length=20)
    contact_email: str = Field(max_length=254)
    contact_key: str = Field(max_length=254)
    contact_is_parent: bool = False
    access_needs: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    anything_else: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: SignUpStatus = Field(max_length=20, index=True)
    token_nonce: str = Field(max_length=64)
    manage_token_hash: str = Field(max_length=64, unique=True)
    check_in_token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = created_at_field()
    waiting_since: datetime | None = when_field()
    confirmed_at: datetime | None = when_field()
    cancelled_at: datetime | None = when_field()
    checked_in_at: datetime | None = when_field()
    # Staff gave this person one of the workshop's reserved places (not a public one).
    reserved: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Why staff gave it (needed when the person is outside the workshop's audience).
    reserved_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # For a workshop in person or online: how they will come.
    attend_mode: str | None = Field(default=None, max_length=20)  # a key of ATTEND_MODES
    # For a workshop that pays travel: whether they need their travel paid (None: not asked).
    wants_travel_costs: bool | None = None

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=(
            "reference",
            "display_name",
            "age_band",
            "contact_email",
            "contact_is_parent",
            "access_needs",
            "anything_else",
            "status",
            "reserved",
            "reserved_reason",
            "attend_mode",
            "wants_travel_costs",
            "created_at",
            "checked_in_at",
        ),
        purpose="To keep your place at a workshop, get ready for what you need and remind you.",
        retention=SIGN_UP_RETENTION,
    )


class SignUpDraft(SQLModel, table=True):
    """Answers so far, kept on the server (keyed to this browser) so nothing is lost."""

    __tablename__ = "sign_up_draft"
    __table_args__ = (UniqueConstraint("browser_key", "workshop_id"),)

    id: int | None = Field(default=None, primary_key=True)
    browser_key: str = Field(max_length=64, index=True)  # a hash of the browser's cookie
    workshop_id: int = Field(foreign_key="workshop.id", index=True, ondelete="CASCADE")
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("answers", "updated_at"),
        purpose="To keep your answers while you sign up, so nothing is lost.",
        retention=timedelta(days=7),
        retention_from="updated_at",
        export=False,
    )


class WorkshopAttendance(SQLModel, table=True):
    """Someone who joined the workshop's room on the day (by code, or from their sign-up)."""

    __tablename__ = "workshop_attendance"
    __table_args__ = (UniqueConstraint("workshop_id", "participant_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workshop_id: int = Field(foreign_key="workshop.id", index=True, ondelete="CASCADE")
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    sign_up_id: int | None = Field(
        default=None, foreign_key="sign_up.id", index=True, ondelete="SET NULL"
    )
    joined_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("workshop_id", "joined_at"),
        purpose="To let you into your workshop's room.",
        retention=SIGN_UP_RETENTION,
        retention_from="joined_at",
    )


class WorkshopSeen(SQLModel, table=True):
    """When a member of staff last looked at a workshop's page ("new since you last looked")."""

    __tablename__ = "workshop_seen"
    __table_args__ = (UniqueConstraint("workshop_id", "staff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    workshop_id: int = Field(foreign_key="workshop.id", index=True, ondelete="CASCADE")
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    seen_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="staff_id",
        fields=("workshop_id", "seen_at"),
        purpose="To show staff what is new on a workshop since they last looked.",
    )


class ErasedLink(SQLModel, table=True):
    """A link of a person who asked to be deleted: only a hash of its random token, so an old
    email's link can say why it no longer works. Nothing here says whose it was."""

    __tablename__ = "erased_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    erased_at: datetime = created_at_field()
