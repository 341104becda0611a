"""Each model that holds personal data declares it here, beside the model.

A declaration says how a row links to a person, which fields are personal, what erasure does
and how long rows are kept. Export, erasure and retention read only these declarations, so
a new table is covered the moment it is declared, and a test fails when one is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from sqlmodel import SQLModel

Subject = Literal["participant", "staff"]
Erasure = Literal["delete", "anonymise", "keep"]


@dataclass(frozen=True)
class PersonalData:
    """What a table holds about people.

    subject: whose data it is; link: the column naming that person.
    fields: the personal fields (exported for the person; blanked or replaced on anonymise).
    erase: on erasure, delete the row, anonymise its fields (replacement values below),
        or keep it (only for records the law makes us keep, e.g. consents; fields still blank).
    retention: how long after `retention_from` a row may be kept at all (None: as long as
        its person's account); the retention job applies `erase` when it runs out.
    """

    subject: Subject
    link: str
    fields: tuple[str, ...]
    purpose: str
    erase: Erasure = "delete"
    replacements: dict[str, Any] = field(default_factory=dict)
    retention: timedelta | None = None
    retention_from: str = "created_at"
    export: bool = True
    # Only rows that match these column values belong to this subject (e.g. audit entries
    # whose actor_type is "participant"). A model may declare a tuple of declarations.
    where: dict[str, Any] = field(default_factory=dict)
    # A Settings attribute (a number of days) that overrides `retention`, when an
    # organisation chooses its own period (e.g. participant_inactive_days).
    retention_setting: str | None = None
    # What a person reads as the heading of this part of their download.
    title: str = ""


def declared_models() -> list[type[SQLModel]]:
    import app.models  # noqa: F401  (imports every model module)

    found: list[type[SQLModel]] = []
    for mapper in SQLModel._sa_registry.mappers:
        cls = mapper.class_
        if getattr(cls, "personal_data", None) is not None:
            found.append(cls)
    return sorted(found, key=lambda c: str(c.__tablename__))


def declaration(model: type[SQLModel]) -> PersonalData | None:
    found = declarations(model)
    return found[0] if found else None


def declarations(model: type[SQLModel]) -> list[PersonalData]:
    """Every declaration a model makes (one, or a tuple for tables about several kinds)."""
    value = getattr(model, "personal_data", None)
    if value is None:
        return []
    if isinstance(value, PersonalData):
        return [value]
    return list(value)
