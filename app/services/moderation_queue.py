"""The moderation queue: urgent first (possible harm), then held by screening, then reported,
then waiting to be checked, for the spaces this member of staff may moderate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import (
    Participant,
    Post,
    PostState,
    Report,
    ReportReason,
    Space,
    Thread,
    WorkshopFacilitator,
)
from app.permissions import can_see_concerns
from app.services import safeguarding
from app.services.identity import Identity
from app.services.moderation import space_scope


@dataclass
class QueueItem:
    post: Post
    author: str
    space: str
    prompt: str
    reports: list[ReportReason] = field(default_factory=list)


@dataclass
class Queue:
    urgent: list[QueueItem]
    held: list[QueueItem]
    reported: list[QueueItem]
    waiting: list[QueueItem]
    # Posts with safeguarding leads that this person may not read.
    urgent_elsewhere: int = 0
    alerts: list[tuple[datetime, str]] = field(default_factory=list)
    # How many are held and waiting in all (each list shows the oldest SHOWN of them).
    held_total: int = 0
    waiting_total: int = 0

    @property
    def total(self) -> int:
        return len(self.urgent) + self.held_total + len(self.reported) + self.waiting_total

    @property
    def words(self) -> str:
        if not self.total and not self.urgent_elsewhere:
            return "Nothing to check"
        parts = [
            f"{len(self.urgent)} urgent" if self.urgent else "",
            f"{self.held_total} held" if self.held_total else "",
            f"{len(self.reported)} reported" if self.reported else "",
            f"{self.waiting_total} waiting" if self.waiting_total else "",
            f"{self.urgent_elsewhere} with a safeguarding lead" if self.urgent_elsewhere else "",
        ]
        return ", ".join(p for p in parts if p) or "Nothing to check"

    @property
    def version(self) -> str:
        parts = [
            f"{name}:{item.post.id}:{item.post.version}:{len(item.reports)}"
            for name, items in (
                ("u", self.urgent),
                ("h", self.held),
                ("r", self.reported),
                ("w", self.waiting),
            )
            for item in items
        ]
        parts += [
            f"e{self.urgent_elsewhere}",
            f"a{len(self.alerts)}",
            f"t{self.held_total}.{self.waiting_total}",
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


# Each list shows the oldest this many: a page a moderator can act on, whatever the backlog
# (the counts say how many in all).
SHOWN = 50


def queue(session: Session, identity: Identity, now: datetime) -> Queue:
    scope = space_scope(session, identity)
    base = (
        select(Post, Participant.display_name, Space.title, Thread.prompt)
        .join(Participant, col(Participant.id) == col(Post.participant_id))
        .join(Space, col(Space.id) == col(Post.space_id))
        .join(Thread, col(Thread.id) == col(Post.thread_id))
        .where(scope, col(Post.deleted_at).is_(None))
        .order_by(col(Post.created_at), col(Post.id))
    )
    open_reports = _open_reports(session, scope)

    def items(*conditions: Any, limit: int = SHOWN) -> list[QueueItem]:
        rows = session.exec(base.where(*conditions).limit(limit)).all()
        return [
            QueueItem(post, name, title, prompt, open_reports.get(post.id or 0, []))
            for post, name, title, prompt in rows
        ]

    totals = dict(
        session.exec(
            select(Post.state, func.count())
            .join(Space, col(Space.id) == col(Post.space_id))
            .where(scope, col(Post.deleted_at).is_(None))
            .where(col(Post.state).in_([PostState.HELD, PostState.WAITING]))
            .group_by(col(Post.state))
        ).all()
    )
    reported = items(
        col(Post.id).in_(list(open_reports)),
        col(Post.state).in_([PostState.HIDDEN, PostState.SHARED]),
    )
    concern = items(Post.state == PostState.CONCERN, limit=500)
    urgent = [i for i in concern if i.post.decided_at is None or i.reports]
    readable = [i for i in urgent if can_see_concerns(identity, _programme(session, i))]
    return Queue(
        urgent=readable,
        held=items(Post.state == PostState.HELD),
        reported=reported,
        waiting=items(Post.state == PostState.WAITING),
        urgent_elsewhere=len(urgent) - len(readable),
        alerts=safeguarding.recent_alerts(session, _workshops_run(session, identity), now),
        held_total=int(totals.get(PostState.HELD, 0)),
        waiting_total=int(totals.get(PostState.WAITING, 0)),
    )


def _programme(session: Session, item: QueueItem) -> int:
    space = session.get(Space, item.post.space_id)
    return space.programme_id if space else -1


def _open_reports(session: Session, scope: Any) -> dict[int, list[ReportReason]]:
    rows = session.exec(
        select(Report.post_id, Report.reason)
        .join(Post, col(Post.id) == col(Report.post_id))
        .join(Space, col(Space.id) == col(Post.space_id))
        .where(scope, col(Report.reviewed_at).is_(None), col(Post.deleted_at).is_(None))
        .order_by(col(Report.id))
    ).all()
    found: dict[int, list[ReportReason]] = {}
    for post_id, reason in rows:
        found.setdefault(post_id, []).append(ReportReason(reason))
    return found


def _workshops_run(session: Session, identity: Identity) -> set[int]:
    if identity.staff is None:
        return set()
    rows = session.exec(
        select(WorkshopFacilitator.workshop_id).where(
            WorkshopFacilitator.staff_id == identity.staff.id
        )
    ).all()
    return set(rows)
