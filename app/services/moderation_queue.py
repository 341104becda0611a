"""The moderation queue: urgent first (possible harm), then held by screening, then reported,
then waiting to be checked, for the spaces this member of staff may moderate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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

    @property
    def total(self) -> int:
        return len(self.urgent) + len(self.held) + len(self.reported) + len(self.waiting)

    @property
    def words(self) -> str:
        if not self.total and not self.urgent_elsewhere:
            return "Nothing to check"
        parts = [
            f"{len(self.urgent)} urgent" if self.urgent else "",
            f"{len(self.held)} held" if self.held else "",
            f"{len(self.reported)} reported" if self.reported else "",
            f"{len(self.waiting)} waiting" if self.waiting else "",
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
        parts += [f"e{self.urgent_elsewhere}", f"a{len(self.alerts)}"]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


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
    items: dict[PostState, list[QueueItem]] = {state: [] for state in PostState}
    wanted = [PostState.CONCERN, PostState.HELD, PostState.WAITING, PostState.HIDDEN]
    for post, name, title, prompt in session.exec(base.where(col(Post.state).in_(wanted))):
        items[post.state].append(
            QueueItem(post, name, title, prompt, open_reports.get(post.id or 0, []))
        )
    reported = [i for i in items[PostState.HIDDEN] if i.reports]
    shown_ids = {i.post.id for i in reported}
    if open_reports:
        ids = [pid for pid in open_reports if pid not in shown_ids]
        for post, name, title, prompt in session.exec(
            base.where(col(Post.id).in_(ids), Post.state == PostState.SHARED)
        ):
            reported.append(QueueItem(post, name, title, prompt, open_reports[post.id or 0]))
    urgent = [i for i in items[PostState.CONCERN] if i.post.decided_at is None or i.reports]
    readable = [i for i in urgent if can_see_concerns(identity, _programme(session, i))]
    return Queue(
        urgent=readable,
        held=items[PostState.HELD],
        reported=reported,
        waiting=items[PostState.WAITING],
        urgent_elsewhere=len(urgent) - len(readable),
        alerts=safeguarding.recent_alerts(session, _workshops_run(session, identity), now),
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
