"""Personal-data rights, driven only by the declarations in app/personal_data.py.

`export` gathers everything Heard holds about one person; `erase` deletes or anonymises it;
the retention job (app/services/retention.py) applies the same actions when a period runs out.
A table is covered the moment its model declares its personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Table
from sqlmodel import Session, SQLModel, col, delete, select

from app.db import metadata
from app.models import Participant, StaffUser
from app.personal_data import PersonalData, Subject, declarations, declared_models
from app.services import audit, consent, identity


@dataclass
class Section:
    """One part of a person's download: a table's rows, personal fields only."""

    table: str
    title: str
    purpose: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def ordered_declarations(subject: Subject) -> list[tuple[type[SQLModel], PersonalData]]:
    """Declarations for one kind of person, tables that point at others before those others.

    Erasing in this order never leaves a row pointing at one already deleted.
    """
    position = {table.name: i for i, table in enumerate(metadata.sorted_tables)}
    found = [
        (model, decl)
        for model in declared_models()
        for decl in declarations(model)
        if decl.subject == subject
    ]
    return sorted(found, key=lambda pair: -position.get(_table(pair[0]).name, 0))


def _table(model: type[SQLModel]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _rows(session: Session, model: type[SQLModel], decl: PersonalData, person_id: int) -> Any:
    query = select(model).where(col(getattr(model, decl.link)) == person_id)
    for name, value in decl.where.items():
        query = query.where(col(getattr(model, name)) == value)
    pk = next(iter(_table(model).primary_key.columns)).name
    return session.exec(query.order_by(col(getattr(model, pk)))).all()


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _title(model: type[SQLModel], decl: PersonalData) -> str:
    return decl.title or _table(model).name.replace("_", " ").capitalize()


def export(session: Session, participant_id: int) -> list[Section]:
    """Everything Heard holds about a participant that is theirs to see."""
    sections = []
    for model, decl in ordered_declarations("participant")[::-1]:
        if not decl.export:
            continue
        rows = [
            {name: getattr(row, name) for name in decl.fields}
            for row in _rows(session, model, decl, participant_id)
        ]
        sections.append(Section(_table(model).name, _title(model, decl), decl.purpose, rows))
    return sections


def export_json(session: Session, participant_id: int, now: datetime) -> dict[str, Any]:
    return {
        "about": "Everything Heard holds about you.",
        "made_at": now.isoformat(),
        "sections": {
            s.table: {
                "title": s.title,
                "why_we_keep_it": s.purpose,
                "records": [{k: _plain(v) for k, v in row.items()} for row in s.rows],
            }
            for s in export(session, participant_id)
        },
    }


def apply_erasure(session: Session, model: type[SQLModel], decl: PersonalData, rows: Any) -> int:
    """Delete or anonymise rows as their declaration says. Returns how many rows changed."""
    count = 0
    own_table = decl.link == "id"
    for row in rows:
        if decl.erase == "delete":
            session.delete(row)
        else:
            row_id = getattr(row, "id", None)
            for name in decl.fields:
                value = decl.replacements.get(name)
                if isinstance(value, str):
                    value = value.format(id=row_id)
                setattr(row, name, value)
            for name, value in decl.replacements.items():
                if name not in decl.fields:
                    setattr(row, name, value.format(id=row_id) if isinstance(value, str) else value)
            if not own_table:
                # The row stays (others rely on it) but no longer says whose it was.
                setattr(row, decl.link, None)
            session.add(row)
        count += 1
    session.flush()
    return count


def erase(
    session: Session, subject: Subject, person_id: int, *, reason: str, actor: Any = None
) -> dict[str, int]:
    """Erase one person, table by table as declared. Others' records stay intact.

    The erasure itself is audited, without naming the person beyond their old record id.
    """
    if subject == "participant":
        participant = session.get(Participant, person_id)
        if participant is not None:
            consent.run_erase_hooks(session, participant)
        identity.end_all_sessions(session, participant_id=person_id)
    else:
        identity.end_all_sessions(session, staff_id=person_id)
    counts: dict[str, int] = {}
    for model, decl in ordered_declarations(subject):
        changed = apply_erasure(session, model, decl, _rows(session, model, decl, person_id))
        if changed:
            name = _table(model).name
            counts[name] = counts.get(name, 0) + changed
    if subject == "participant":
        # Anything the registry did not delete that still points at the row goes with it
        # (ON DELETE rules), so the participant row itself goes last.
        session.exec(delete(Participant).where(col(Participant.id) == person_id))
    else:
        member = session.get(StaffUser, person_id)
        if member is not None:
            member.active = False
            session.add(member)
    session.flush()
    audit.record(
        session,
        actor,
        f"{subject}.erased",
        record_type="participant" if subject == "participant" else "staff_user",
        record_id=person_id,
        reason=reason,
        tables=counts,
    )
    return counts
