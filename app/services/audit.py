"""The one way to write to the audit log."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from app.log import request_id_var
from app.models import AuditEntry
from app.services.identity import Identity


def record(
    session: Session,
    actor: Identity | None,
    action: str,
    *,
    record_type: str | None = None,
    record_id: object = None,
    **detail: Any,
) -> AuditEntry:
    """Add an audit entry to the current unit of work (it commits with what it describes).

    `detail` must never hold post text, disclosures or contact details: ids and choices only.
    """
    actor_type, actor_id, label = "anonymous", None, None
    if actor is not None and actor.staff is not None:
        actor_type, actor_id, label = "staff", actor.staff.id, actor.staff.email
    elif actor is not None and actor.participant is not None:
        actor_type, actor_id = "participant", actor.participant.id
    elif actor is None:
        actor_type = "system"
    entry = AuditEntry(
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=label,
        action=action,
        record_type=record_type,
        record_id=None if record_id is None else str(record_id),
        request_id=request_id_var.get(),
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


PAGE_SIZE = 50


def recent(
    session: Session, *, before: int | None = None, action: str = "", limit: int = PAGE_SIZE
) -> list[AuditEntry]:
    """The newest entries first (older ones: `before` the last id shown), optionally only the
    actions that start with `action` (e.g. "workshop.")."""
    from sqlmodel import col, select

    query = select(AuditEntry)
    if before is not None:
        query = query.where(col(AuditEntry.id) < before)
    if action:
        query = query.where(col(AuditEntry.action).startswith(action[:80], autoescape=True))
    return list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit)).all())
