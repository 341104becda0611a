"""Participants (people taking part, no passwords ever) and their consents."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.personal_data import PersonalData


class AgeBand(StrEnum):
    UNDER_13 = "under_13"
    FROM_13_TO_15 = "13_15"
    FROM_16_TO_17 = "16_17"
    FROM_18_TO_25 = "18_25"
    OVER_25 = "26_plus"

    @property
    def label(self) -> str:
        return AGE_BAND_LABELS[self]

    @property
    def under_18(self) -> bool:
        return self in {AgeBand.UNDER_13, AgeBand.FROM_13_TO_15, AgeBand.FROM_16_TO_17}

    @property
    def youngest_age(self) -> int:
        return {"under_13": 0, "13_15": 13, "16_17": 16, "18_25": 18, "26_plus": 26}[self.value]


AGE_BAND_LABELS = {
    AgeBand.UNDER_13: "Under 13",
    AgeBand.FROM_13_TO_15: "13 to 15",
    AgeBand.FROM_16_TO_17: "16 or 17",
    AgeBand.FROM_18_TO_25: "18 to 25",
    AgeBand.OVER_25: "26 or over",
}


class Participant(SQLModel, table=True):
    __tablename__ = "participant"

    id: int | None = Field(default=None, primary_key=True)
    display_name: str = Field(max_length=60)
    age_band: AgeBand | None = Field(default=None, max_length=20)
    contact_email: str | None = Field(default=None, max_length=254, index=True)
    contact_is_parent: bool = False
    role_words: str | None = Field(default=None, max_length=120)
    created_at: datetime = created_at_field()
    last_active_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="id",
        fields=(
            "display_name",
            "age_band",
            "contact_email",
            "contact_is_parent",
            "role_words",
            "created_at",
            "last_active_at",
        ),
        purpose="To know what to call you and, if you gave one, how to reach you.",
        retention=timedelta(days=365 * 2),
        retention_from="last_active_at",
        retention_setting="participant_inactive_days",
        title="About you",
    )


class ConsentPurpose(StrEnum):
    TAKE_PART = "take_part"
    BE_QUOTED = "be_quoted"
    BE_CONTACTED_AGAIN = "be_contacted_again"
    BE_PAID = "be_paid"
    PARENT_CONSENT = "parent_consent"


class ConsentState(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"
    WAITING = "waiting"  # a parent or carer has been asked and has not answered yet


class Consent(SQLModel, table=True):
    """One purpose, the exact words shown, their version, and when it was given or withdrawn."""

    __tablename__ = "consent"

    id: int | None = Field(default=None, primary_key=True)
    participant_id: int = Field(foreign_key="participant.id", index=True, ondelete="CASCADE")
    purpose: ConsentPurpose = Field(max_length=40)
    wording: str = Field(sa_column=Column(Text, nullable=False))
    version: str = Field(max_length=20)
    state: ConsentState = Field(default=ConsentState.GIVEN, max_length=20)
    given_by: str = Field(default="self", max_length=20)  # self, parent
    # How it was given: by an emailed link, during sign-up, or (recorded by staff) in person
    # or on paper. None for older records and the usual self-given ones.
    given_how: str | None = Field(default=None, max_length=20)
    recorded_by_staff_id: int | None = Field(
        default=None, foreign_key="staff_user.id", index=True, ondelete="SET NULL"
    )
    parent_email: str | None = Field(default=None, max_length=254)
    created_at: datetime = created_at_field()
    given_at: datetime | None = when_field()
    withdrawn_at: datetime | None = when_field()

    personal_data: ClassVar[tuple[PersonalData, ...]] = (
        PersonalData(
            subject="participant",
            link="participant_id",
            fields=(
                "purpose",
                "wording",
                "version",
                "state",
                "given_by",
                "given_how",
                "parent_email",
                "given_at",
                "withdrawn_at",
            ),
            purpose="To prove what you agreed to, and when, and to stop when you say stop.",
            title="What you agreed to",
        ),
        # A parent's yes that staff recorded (given in person or on paper): who recorded it.
        PersonalData(
            subject="staff",
            link="recorded_by_staff_id",
            fields=(),
            purpose="To show which member of staff recorded a parent or carer's yes.",
            erase="anonymise",
            export=False,
        ),
    )
