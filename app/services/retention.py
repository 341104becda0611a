"""Retention: `heard jobs run` erases what has been kept for longer than its declared period.

Periods come from the personal-data declarations (a Settings value may override one, e.g.
`HEARD_PARTICIPANT_INACTIVE_DAYS`). A participant whose own period runs out (no activity) is
erased whole, exactly as if they had pressed "Delete me"; other rows get their table's action.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, SQLModel, col, select

from app.config import Settings
from app.personal_data import PersonalData, declarations, declared_models
from app.services import jobs, my_data


def period(settings: Settings, decl: PersonalData) -> timedelta | None:
    if decl.retention_setting:
        return timedelta(days=int(getattr(settings, decl.retention_setting)))
    return decl.retention


def _expired(
    session: Session, model: type[SQLModel], decl: PersonalData, cutoff: datetime
) -> list[SQLModel]:
    query = select(model).where(col(getattr(model, decl.retention_from)) < cutoff)
    for name, value in decl.where.items():
        query = query.where(col(getattr(model, name)) == value)
    if decl.erase != "delete" and decl.link != "id":
        # Already anonymised rows are done.
        query = query.where(col(getattr(model, decl.link)).is_not(None))
    return list(session.exec(query).all())


@jobs.register("retention")
def enforce(session: Session, settings: Settings, now: datetime) -> int:
    """Apply every declared retention period. Returns how many rows were changed."""
    changed = 0
    # Whole people first, so their rows go the way a "Delete me" would take them.
    for model in declared_models():
        for decl in declarations(model):
            keep_for = period(settings, decl)
            if keep_for is None or decl.link != "id":
                continue
            for row in _expired(session, model, decl, now - keep_for):
                person_id = getattr(row, "id", None)
                if person_id is None:
                    continue
                if decl.subject == "participant":
                    counts = my_data.erase(session, "participant", person_id, reason="retention")
                    changed += sum(counts.values())
                else:
                    changed += my_data.apply_erasure(session, model, decl, [row])
    for model in declared_models():
        for decl in declarations(model):
            keep_for = period(settings, decl)
            if keep_for is None or decl.link == "id":
                continue
            rows = _expired(session, model, decl, now - keep_for)
            changed += my_data.apply_erasure(session, model, decl, rows)
    return changed
