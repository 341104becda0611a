"""Staff accounts and their roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field, when_field
from app.personal_data import PersonalData


class Role(StrEnum):
    ADMIN = "admin"
    FACILITATOR = "facilitator"
    MODERATOR = "moderator"
    REVIEWER = "reviewer"
    ANALYST = "analyst"
    SAFEGUARDING_LEAD = "safeguarding_lead"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    display_name: str = Field(max_length=120)
    active: bool = True
    created_at: datetime = created_at_field()
    last_sign_in_at: datetime | None = when_field()
    # Single sign-on: the provider's `sub` for this person, kept at their first sign-in. A
    # later sign-in with the same email but another `sub` (a reused or reassigned address at
    # the provider) is refused.
    oidc_subject: str | None = Field(default=None, max_length=255, unique=True)

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="id",
        fields=("email", "display_name", "last_sign_in_at", "oidc_subject"),
        purpose="To let staff sign in and to show who did what.",
        erase="anonymise",
        replacements={"email": "removed-{id}@invalid", "display_name": "Former staff member"},
    )


class StaffRole(SQLModel, table=True):
    """A role held by a staff member, everywhere (programme_id empty) or in one programme."""

    __tablename__ = "staff_role"
    __table_args__ = (UniqueConstraint("staff_id", "role", "programme_id"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    role: Role = Field(max_length=40)
    programme_id: int | None = Field(default=None, foreign_key="programme.id", ondelete="CASCADE")
    created_at: datetime = created_at_field()

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="staff",
        link="staff_id",
        fields=("role", "programme_id", "created_at"),
        purpose="To know what each member of staff may do.",
        export=False,
    )


STAFF_SIGN_IN_RETENTION = timedelta(days=7)
