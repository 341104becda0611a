"""What each person sees in a space: a thread's posts (their own whatever their state, and
everyone's shared ones), each with its replies, and a version that changes whenever that view
does (a live stream compares it). Popularity never orders anything: posts are by time."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, or_, select

from app.models import Participant, Post, PostState, Reaction
from app.models.spaces import EDIT_WINDOW


@dataclass
class PostView:
    post: Post
    author: str
    mine: bool
    me_too: bool = False
    replies: list[PostView] = field(default_factory=list)
    # Not shown itself (deleted, or hidden) but kept as a heading for replies that are.
    gone: bool = False
    can_change: bool = False

    @property
    def key(self) -> str:
        reply_keys = ",".join(reply.key for reply in self.replies)
        p = self.post
        flags = f"{int(self.gone)}{int(self.me_too)}{int(self.can_change)}"
        return f"{p.id}.{p.version}.{p.state}.{flags}[{reply_keys}]"


def shown_to(post: Post, viewer_id: int | None) -> bool:
    if post.deleted_at is not None:
        return False
    return post.state == PostState.SHARED or post.participant_id == viewer_id


def thread_view(session: Session, thread_id: int, viewer_id: int, now: datetime) -> list[PostView]:
    """Posts newest first (by time, never by popularity), each with its replies oldest first."""
    rows = session.exec(
        select(Post, Participant.display_name)
        .join(Participant, col(Participant.id) == col(Post.participant_id))
        .where(
            Post.thread_id == thread_id,
            or_(Post.state == PostState.SHARED, Post.participant_id == viewer_id),
        )
        .order_by(col(Post.created_at), col(Post.id))
    ).all()
    return _views(session, list(rows), viewer_id, now)


@dataclass
class Family:
    """A post and its replies in every state, with who said "me too" to each: read once, then
    seen by each person in the space through `seen_by` (a live stream's read, shared)."""

    rows: list[tuple[Post, str]]
    reactions: dict[int, set[int]] = field(default_factory=dict)


def read_families(session: Session, post_ids: list[int]) -> dict[int, Family | None]:
    """Each post's family (its own, or its post's if it is a reply), in two queries."""
    targets = session.exec(select(Post).where(col(Post.id).in_(post_ids))).all()
    top_of = {p.id or 0: p.parent_id or p.id or 0 for p in targets}
    tops = set(top_of.values())
    rows = session.exec(
        select(Post, Participant.display_name)
        .join(Participant, col(Participant.id) == col(Post.participant_id))
        .where(or_(col(Post.id).in_(tops), col(Post.parent_id).in_(tops)))
        .order_by(col(Post.created_at), col(Post.id))
    ).all()
    families: dict[int, Family] = {top: Family([]) for top in tops}
    for post, name in rows:
        families[post.parent_id or post.id or 0].rows.append((post, name))
    reacted = session.exec(
        select(Reaction.post_id, Reaction.participant_id).where(
            col(Reaction.post_id).in_([post.id for post, _ in rows])
        )
    ).all()
    who: dict[int, set[int]] = {}
    for post_id, person in reacted:
        who.setdefault(post_id, set()).add(person)
    for family in families.values():
        family.reactions = {p.id or 0: who.get(p.id or 0, set()) for p, _ in family.rows}
    return {pid: families.get(top_of.get(pid, 0)) for pid in post_ids}


def seen_by(family: Family | None, post_id: int, viewer_id: int, now: datetime) -> PostView | None:
    """One post as this person sees it (with its replies), or None if they can't see it."""
    if family is None:
        return None
    rows = [
        (post, name)
        for post, name in family.rows
        if post.state == PostState.SHARED or post.participant_id == viewer_id
    ]
    mine_too = {pid for pid, people in family.reactions.items() if viewer_id in people}
    views = _build(rows, viewer_id, now, mine_too)
    if not views:
        return None
    if views[0].post.id == post_id:
        return views[0]
    return next((r for r in views[0].replies if r.post.id == post_id), None)


def post_view(session: Session, post_id: int, viewer_id: int, now: datetime) -> PostView | None:
    return seen_by(read_families(session, [post_id])[post_id], post_id, viewer_id, now)


def _views(
    session: Session, rows: list[tuple[Post, str]], viewer_id: int, now: datetime
) -> list[PostView]:
    ids = [post.id for post, _ in rows]
    mine_too = set(
        session.exec(
            select(Reaction.post_id).where(
                Reaction.participant_id == viewer_id, col(Reaction.post_id).in_(ids)
            )
        ).all()
    )
    return _build(rows, viewer_id, now, mine_too)


def _build(
    rows: list[tuple[Post, str]], viewer_id: int, now: datetime, mine_too: set[int]
) -> list[PostView]:
    top: dict[int, PostView] = {}
    replies: list[PostView] = []
    for post, name in rows:
        assert post.id is not None
        view = PostView(
            post,
            name,
            mine=post.participant_id == viewer_id,
            me_too=post.id in mine_too,
            gone=not shown_to(post, viewer_id),
            can_change=may_change(post, viewer_id, now),
        )
        if post.parent_id:
            replies.append(view)
        else:
            top[post.id] = view
    for reply in replies:
        parent = top.get(reply.post.parent_id or 0)
        if parent is not None and not reply.gone:
            parent.replies.append(reply)
    kept = [v for v in top.values() if not v.gone or v.replies]
    return kept[::-1]


def may_change(post: Post, viewer_id: int, now: datetime) -> bool:
    return (
        post.participant_id == viewer_id
        and post.deleted_at is None
        and post.state not in {PostState.REMOVED, PostState.CONCERN, PostState.HIDDEN}
        and now - post.created_at <= EDIT_WINDOW
    )


def version(views: list[PostView]) -> str:
    """Changes whenever what this person sees in the thread changes (a stream compares it)."""
    return hashlib.sha256("|".join(v.key for v in views).encode()).hexdigest()[:16]
