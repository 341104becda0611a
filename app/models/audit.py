"""The audit log: append-only, what staff (and the system) did to which record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import created_at_field
from app.personal_data import PersonalData


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entry"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = created_at_field()
    actor_type: str = Field(max_length=20)  # staff, participant, system, anonymous
    actor_id: int | None = Field(default=None, index=True)
    actor_label: str | None = Field(default=None, max_length=254)
    action: str = Field(max_length=80, index=True)
    record_type: str | None = Field(default=None, max_length=60)
    record_id: str | None = Field(default=None, max_length=64)
    request_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))

    # Audit entries outlive people: erasure keeps the entry but removes who it was.
    personal_data: ClassVar[tuple[PersonalData, ...]] = (
        PersonalData(
            subject="staff",
            link="actor_id",
            fields=("actor_label",),
            purpose="To show who did what, so staff actions can be checked.",
            erase="anonymise",
            replacements={"actor_label": None, "actor_id": None},
            retention=timedelta(days=365 * 2),
            retention_from="at",
            export=False,
            where={"actor_type": "staff"},
        ),
        PersonalData(
            subject="participant",
            link="actor_id",
            fields=("actor_label",),
            purpose="To show what was done, so it can be checked.",
            erase="anonymise",
            replacements={"actor_label": None, "actor_id": None},
            retention=timedelta(days=365 * 2),
            retention_from="at",
            export=False,
            where={"actor_type": "participant"},
        ),
    )
