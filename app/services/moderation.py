"""Moderation: the queue (urgent first, then held, then reported, then waiting), decisions on
posts, removing someone from a space, and the screening words staff add.

Two moderators acting on one post at once get one decision: every decision is a conditional
UPDATE naming the post's version the moderator saw (and the states it may move from); the
second finds nothing to update and is told someone else decided. Every decision is audited,
with ids and choices only, never what was written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import and_, func, true, update
from sqlmodel import Session, col, or_, select

from app import events
from app.config import Settings
from app.forms import FormModel
from app.models import (
    Concern,
    ConcernSource,
    Post,
    PostState,
    Report,
    Role,
    Space,
    SpaceRemoval,
    WorkshopFacilitator,
)
from app.permissions import can_moderate, can_see_concerns
from app.services import audit, safeguarding
from app.services.identity import Identity

# The kind reasons a moderator can give when they don't share a post (the author reads them).
REASONS: dict[str, str] = {
    "personal": (
        "It had personal details in it, like a name, a school or a phone number. "
        "Please leave those out and try again."
    ),
    "unkind": "It could upset or hurt someone. Please be kind to each other.",
    "topic": "It was not about this question. You are welcome to try again.",
    "other": "A moderator decided not to share it this time.",
}
ACTIONS = ("approve", "reject", "hide", "concern")
# The most posts "Share the posts you chose" shares at once.
MANY = 200
_TO = {
    "approve": PostState.SHARED,
    "reject": PostState.REMOVED,
    "hide": PostState.HIDDEN,
    "concern": PostState.CONCERN,
}
_FROM = {
    "approve": {PostState.WAITING, PostState.HELD, PostState.HIDDEN, PostState.CONCERN},
    "reject": {PostState.WAITING, PostState.HELD, PostState.HIDDEN, PostState.SHARED},
    "hide": {PostState.WAITING, PostState.HELD, PostState.SHARED, PostState.CONCERN},
    "concern": {
        PostState.WAITING,
        PostState.HELD,
        PostState.HIDDEN,
        PostState.SHARED,
        PostState.REMOVED,
    },
}


class AlreadyDecidedError(Exception):
    """Someone else decided about this post first (or it changed since it was shown)."""


class ModerationError(Exception):
    """A decision that can't be made as asked (no reason given, an unknown action); `field`
    is the form field the message belongs beside."""

    def __init__(self, message: str, field: str = "action") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- live updates --------------------------------------------------------------------------


def announce(session: Session, post: Post, *, new: bool = False) -> None:
    """Tell the space's pages and the moderation queues that a post changed (ids only).

    A new post nobody else sees yet (waiting, held, a concern) changes no one's page but its
    author's, who is looking at it already: the space hears of it when it is shared.
    """
    shared = post.state == PostState.SHARED and post.deleted_at is None
    if shared or not new:
        events.record(
            session,
            "space.post",
            topic=safeguarding.space_topic(post.space_id),
            post_id=post.id,
            thread_id=post.thread_id,
            author_id=post.participant_id,
            version=post.version,
            # Shared now: everyone's page may change. Otherwise only its author's, and the
            # pages that show it already (it was shared until now).
            shared=shared,
        )
    events.record(
        session, "moderation.changed", topic=safeguarding.MODERATION_TOPIC, space_id=post.space_id
    )


# --- who moderates what --------------------------------------------------------------------


def space_scope(session: Session, identity: Identity) -> Any:
    """A condition on Space: the spaces this member of staff may moderate (the same rule as
    `can_moderate`, for a query)."""
    everywhere = (Role.MODERATOR, Role.SAFEGUARDING_LEAD, Role.ADMIN)
    if any(identity.has_role(role) for role in everywhere):
        return true()
    programmes: set[int] = set()
    for role in everywhere:
        programmes |= identity.programmes_where(role)
    conditions = [col(Space.programme_id).in_(programmes or {-1})]
    if identity.staff is not None and identity.has_any_role(Role.FACILITATOR):
        runs = select(WorkshopFacilitator.workshop_id).where(
            WorkshopFacilitator.staff_id == identity.staff.id
        )
        assigned: Any = col(Space.workshop_id).in_(runs)
        if not identity.has_role(Role.FACILITATOR):
            facilitated = identity.programmes_where(Role.FACILITATOR)
            assigned = assigned & col(Space.programme_id).in_(facilitated)
        conditions.append(assigned)
    return or_(*conditions)


def facilitator_ids(session: Session, space: Space) -> set[int]:
    if space.workshop_id is None:
        return set()
    rows = session.exec(
        select(WorkshopFacilitator.staff_id).where(
            WorkshopFacilitator.workshop_id == space.workshop_id
        )
    ).all()
    return set(rows)


def may_moderate(session: Session, identity: Identity, space: Space) -> bool:
    return can_moderate(identity, space.programme_id, facilitator_ids(session, space))


def post_for(session: Session, post_id: int, identity: Identity) -> tuple[Post, Space] | None:
    """A post this member of staff may moderate. A concern's post: safeguarding leads only."""
    post = session.get(Post, post_id)
    if post is None or post.deleted_at is not None:
        return None
    space = session.get(Space, post.space_id)
    if space is None or not may_moderate(session, identity, space):
        return None
    if post.state == PostState.CONCERN and not can_see_concerns(identity, space.programme_id):
        return None
    return post, space


# --- decisions -----------------------------------------------------------------------------


def decide(
    session: Session,
    settings: Settings,
    post: Post,
    space: Space,
    action: str,
    seen_version: int,
    actor: Identity,
    now: datetime,
    *,
    reason: str = "",
) -> Post:
    """Approve, reject (with a kind reason its author reads), hide, or send to a safeguarding
    lead. Raises AlreadyDecidedError when someone else decided first."""
    if action not in ACTIONS:
        raise ModerationError("Choose what to do with this post")
    if action == "reject" and reason not in REASONS:
        raise ModerationError("Choose a reason to tell the person who wrote it", "reason")
    if post.state == PostState.CONCERN and not can_see_concerns(actor, space.programme_id):
        raise AlreadyDecidedError
    values: dict[str, Any] = {
        "state": _TO[action],
        "version": col(Post.version) + 1,
        "decided_at": now,
        "reason": REASONS[reason] if action == "reject" else None,
    }
    result = session.execute(
        update(Post)
        .where(
            col(Post.id) == post.id,
            col(Post.version) == seen_version,
            col(Post.state).in_(_FROM[action]),
            col(Post.deleted_at).is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyDecidedError
    session.refresh(post)
    if action == "approve":
        _reports_reviewed(session, post, now)
    if action == "concern":
        safeguarding.raise_concern(
            session, settings, post=post, space=space, source=ConcernSource.STAFF, now=now,
            actor=actor,
        )  # fmt: skip
    audit.record(
        session,
        actor,
        f"post.{action}",
        record_type="post",
        record_id=post.id,
        space_id=space.id,
        reason=reason or None,
    )
    announce(session, post)
    return post


def approve_many(
    session: Session,
    settings: Settings,
    picks: list[tuple[int, int]],
    actor: Identity,
    now: datetime,
) -> tuple[int, int]:
    """Share each (post id, version seen) this person may moderate, in one conditional
    UPDATE (the write is short however many are chosen). A post someone else decided first,
    or that changed, is left alone; a concern's post is decided on its own page, never in
    bulk. Returns (shared, not shared)."""
    picks = list(dict(picks).items())[:MANY]
    if not picks:
        return 0, 0
    spaces = select(Space.id).where(space_scope(session, actor))
    result = session.execute(
        update(Post)
        .where(
            or_(*(and_(col(Post.id) == pid, col(Post.version) == seen) for pid, seen in picks)),
            col(Post.state).in_([PostState.WAITING, PostState.HELD, PostState.HIDDEN]),
            col(Post.deleted_at).is_(None),
            col(Post.space_id).in_(spaces),
        )
        .values(state=PostState.SHARED, version=col(Post.version) + 1, decided_at=now, reason=None)
        .returning(col(Post.id))
        .execution_options(synchronize_session=False)
    )
    done = [int(pid) for pid in result.scalars().all()]
    if done:
        session.execute(
            update(Report)
            .where(col(Report.post_id).in_(done), col(Report.reviewed_at).is_(None))
            .values(reviewed_at=now)
            .execution_options(synchronize_session=False)
        )
        fresh = select(Post).where(col(Post.id).in_(done)).order_by(col(Post.id))
        for post in session.exec(fresh.execution_options(populate_existing=True)).all():
            audit.record(
                session,
                actor,
                "post.approve",
                record_type="post",
                record_id=post.id,
                space_id=post.space_id,
                several=True,
            )
            announce(session, post)
    return len(done), len(picks) - len(done)


class EditForm(FormModel):
    body: str = ""
    note: str = Field(default="", max_length=200)
    version: int = Field(default=0, ge=0, le=2**31 - 1)
    messages = {"note": {"too_long": "The note must be 200 characters or fewer"}}


def edit(
    session: Session, settings: Settings, post: Post, form: EditForm, actor: Identity, now: datetime
) -> Post:
    """Change a post's words (to take out a surname, say) with a note its readers see."""
    if not form.body:
        raise ModerationError("The post can't be empty. To remove it, don't share it", "body")
    if len(form.body) > settings.space_post_max_chars:
        raise ModerationError(
            f"The post must be {settings.space_post_max_chars} characters or fewer", "body"
        )
    if not form.note:
        raise ModerationError("Say what you changed, for example: Took out a surname", "note")
    result = session.execute(
        update(Post)
        .where(
            col(Post.id) == post.id,
            col(Post.version) == form.version,
            col(Post.deleted_at).is_(None),
        )
        .values(body=form.body, edit_note=form.note, version=col(Post.version) + 1, edited_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyDecidedError
    session.refresh(post)
    audit.record(session, actor, "post.edited_by_moderator", record_type="post", record_id=post.id)
    announce(session, post)
    return post


def _reports_reviewed(session: Session, post: Post, now: datetime) -> None:
    session.execute(
        update(Report)
        .where(col(Report.post_id) == post.id, col(Report.reviewed_at).is_(None))
        .values(reviewed_at=now)
        .execution_options(synchronize_session=False)
    )


def remove_author(
    session: Session, post: Post, space: Space, actor: Identity, now: datetime
) -> bool:
    """Remove the post's author from its space at once. Returns False if already removed."""
    assert space.id is not None
    existing = session.exec(
        select(SpaceRemoval.id).where(
            SpaceRemoval.space_id == space.id, SpaceRemoval.participant_id == post.participant_id
        )
    ).first()
    if existing is not None:
        return False
    session.add(SpaceRemoval(space_id=space.id, participant_id=post.participant_id, created_at=now))
    session.flush()
    audit.record(
        session,
        actor,
        "space.participant_removed",
        record_type="space",
        record_id=space.id,
        participant_id=post.participant_id,
        post_id=post.id,
    )
    events.record(
        session,
        "space.removed",
        topic=safeguarding.space_topic(space.id),
        participant_id=post.participant_id,
    )
    return True


def possible(post: Post) -> dict[str, bool]:
    """Which decisions can be made about this post now (the buttons a moderator sees)."""
    return {action: post.state in _FROM[action] for action in ACTIONS}


def post_state(session: Session, post_id: int | None) -> Post | None:
    """The post a concern is about, as it is now (None once deleted or erased)."""
    post = session.get(Post, post_id) if post_id else None
    return post if post is not None and post.deleted_at is None else None


def latest_concern_id(session: Session, post_id: int) -> int | None:
    return session.exec(
        select(Concern.id).where(Concern.post_id == post_id).order_by(col(Concern.id).desc())
    ).first()


def reports_for(session: Session, post_id: int) -> list[Report]:
    return list(
        session.exec(select(Report).where(Report.post_id == post_id).order_by(col(Report.id))).all()
    )


def open_report_count(session: Session, post_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Report)
            .where(Report.post_id == post_id, col(Report.reviewed_at).is_(None))
        ).one()
    )
