"""Spaces for participants: who may take part, what each person sees, writing a post (screened
before anyone else sees it), changing or deleting your own, "Me too" and "Something wrong?".

Who sees a post: everyone in the space once it is shared; its author always (with where it
is up to: "Waiting to be checked", "Shared", a moderator's kind reason, or help when it went
to a safeguarding lead). Moderators see posts through moderation.py, and a post that became
a concern only through the safeguarding leads' pages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.config import Settings
from app.models import (
    ConcernSource,
    Participant,
    Post,
    PostState,
    Reaction,
    Report,
    ReportReason,
    Space,
    SpaceKind,
    SpaceMode,
    SpaceRemoval,
    Thread,
    Workshop,
    WorkshopAttendance,
)
from app.services import audit, moderation, rooms, safeguarding, screen_terms
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.services.space_views import may_change, shown_to
from app.text.screening import Screening, screen

PERSONAL_DETAILS_NOTE = (
    "Please don't share personal details like phone numbers. A moderator will check your post."
)

Problem = Literal["not_here", "removed", "take_part", "parent"]


class SpaceError(Exception):
    """Something a person tried that the space doesn't allow; `message` says why, kindly."""

    message = "You can't do that here."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class NotHereError(SpaceError):
    message = "We could not find that post."


class ClosedError(SpaceError):
    message = "This discussion is closed. You can read it, but you can't add to it."


class TooFastError(SpaceError):
    message = "You are posting very quickly. Wait a minute, then send your post again."


class TooLateError(SpaceError):
    message = "You can only change a post in the first 10 minutes after you send it."


class PostError(SpaceError):
    """What was typed can't be posted (empty, too long)."""


# --- who takes part ------------------------------------------------------------------------


def problem(
    session: Session, settings: Settings, space: Space, participant: Participant
) -> Problem | None:
    """Why this person can't take part in this space now, or None if they can. For a workshop's
    space: anyone in its room (by code or sign-up), as the room itself lets in."""
    if space.kind != SpaceKind.WORKSHOP or space.workshop_id is None:
        return "not_here"  # groups' and programmes' members come with groups
    workshop = session.get(Workshop, space.workshop_id)
    entry = rooms.room_for(session, settings, workshop.slug, participant) if workshop else None
    if entry is None:
        return "not_here"
    if entry.problem is not None:
        return entry.problem
    removed = session.exec(
        select(SpaceRemoval.id).where(
            SpaceRemoval.space_id == space.id, SpaceRemoval.participant_id == participant.id
        )
    ).first()
    return "removed" if removed is not None else None


def for_workshop(session: Session, workshop_id: int) -> Space | None:
    return session.exec(select(Space).where(Space.workshop_id == workshop_id)).first()


def room_url(session: Session, space: Space) -> str | None:
    workshop = session.get(Workshop, space.workshop_id) if space.workshop_id else None
    return f"/workshops/{workshop.slug}/room" if workshop else None


def threads(session: Session, space_id: int) -> list[Thread]:
    return list(
        session.exec(
            select(Thread).where(Thread.space_id == space_id).order_by(col(Thread.id))
        ).all()
    )


# --- writing -------------------------------------------------------------------------------


def _checked_body(settings: Settings, body: str) -> str:
    body = body.strip()
    if not body:
        raise PostError("Write something before you send it")
    most = settings.space_post_max_chars
    if len(body) > most:
        raise PostError(
            f"Your post must be {most} characters or fewer. "
            f"You have {len(body) - most} characters too many."
        )
    return body


def known_names(session: Session, space: Space) -> list[str]:
    """The names Heard knows in this space (people in the room, its staff): a post naming
    one is held, so nobody's real name is shared by mistake."""
    if space.workshop_id is None:
        return []
    names = session.exec(
        select(Participant.display_name)
        .join(WorkshopAttendance, col(WorkshopAttendance.participant_id) == col(Participant.id))
        .where(WorkshopAttendance.workshop_id == space.workshop_id)
    ).all()
    staff = workshop_service.facilitators(session, space.workshop_id)
    # Only the words of a name: "Lee 13" must not make every "13" in a post someone's name.
    words = (
        " ".join(part for part in name.split() if any(ch.isalpha() for ch in part))
        for name in [*names, *(person.display_name for person in staff)]
    )
    return [name for name in words if name]


def screening(session: Session, space: Space, body: str) -> Screening:
    """What screening makes of a post's words in this space. It only reads, so a route can
    run it before its write begins (SQLite has one writer: screening is the slow part)."""
    return screen(
        body.strip(),
        known_names=known_names(session, space),
        extra_terms=screen_terms.for_screening(session),
    )


def _screen_into(
    session: Session,
    settings: Settings,
    space: Space,
    post: Post,
    now: datetime,
    found: Screening | None = None,
) -> None:
    """Screen before anything is visible: a possible disclosure goes to a safeguarding lead;
    personal details and abuse wait for a moderator; the rest follows the space's mode."""
    found = found or screening(session, space, post.body)
    post.screen_reasons = [r for r in found.reasons if r != "empty"]
    if found.action == "concern":
        post.state = PostState.CONCERN
    elif found.action == "hold":
        post.state = PostState.HELD
    elif space.mode == SpaceMode.POST_MODERATED:
        post.state = PostState.SHARED
    else:
        post.state = PostState.WAITING
    session.add(post)
    session.flush()
    if found.action == "concern":
        safeguarding.raise_concern(
            session,
            settings,
            post=post,
            space=space,
            source=ConcernSource.SCREENING,
            now=now,
            signals=found.signals,
        )


def write(
    session: Session,
    settings: Settings,
    space: Space,
    thread: Thread,
    participant: Participant,
    body: str,
    now: datetime,
    *,
    reply_to: Post | None = None,
    screened: Screening | None = None,
) -> Post:
    """A new post (or a reply: one level, so a reply to a reply joins its post). `screened`:
    `screening` of exactly these words, if the caller ran it already."""
    assert space.id is not None and thread.id is not None and participant.id is not None
    if space.mode == SpaceMode.CLOSED:
        raise ClosedError
    text = _checked_body(settings, body)
    recent = session.exec(
        select(func.count())
        .select_from(Post)
        .where(
            Post.space_id == space.id,
            Post.participant_id == participant.id,
            col(Post.created_at) > now - timedelta(minutes=1),
        )
    ).one()
    if recent >= settings.space_posts_per_minute:
        raise TooFastError
    parent_id = None
    if reply_to is not None:
        parent_id = reply_to.parent_id or reply_to.id
        parent = session.get(Post, parent_id)
        if parent is None or not shown_to(parent, None) or parent.thread_id != thread.id:
            raise NotHereError
    post = Post(
        space_id=space.id,
        thread_id=thread.id,
        parent_id=parent_id,
        participant_id=participant.id,
        body=text,
        state=PostState.WAITING,
        created_at=now,
    )
    _screen_into(session, settings, space, post, now, screened)
    moderation.announce(session, post, new=True)
    return post


def own_post(session: Session, space: Space, post_id: int, participant: Participant) -> Post:
    post = session.get(Post, post_id)
    if (
        post is None
        or post.space_id != space.id
        or post.participant_id != participant.id
        or post.deleted_at is not None
    ):
        raise NotHereError
    return post


def visible_post(session: Session, space: Space, post_id: int, viewer_id: int) -> Post:
    post = session.get(Post, post_id)
    if post is None or post.space_id != space.id or not shown_to(post, viewer_id):
        raise NotHereError
    return post


def change(
    session: Session, settings: Settings, space: Space, post: Post, body: str, now: datetime
) -> Post:
    """The author changes their post, in its first 10 minutes. It is screened again, and in a
    pre-moderated space waits to be checked again."""
    if not may_change(post, post.participant_id, now):
        raise TooLateError
    if space.mode == SpaceMode.CLOSED:
        raise ClosedError
    post.body = _checked_body(settings, body)
    post.edited_at = now
    post.version += 1
    post.reason = None
    _screen_into(session, settings, space, post, now)
    moderation.announce(session, post)
    return post


def delete(session: Session, post: Post, now: datetime) -> None:
    """Gone at once, for everyone, words and all (a concern keeps its own copy)."""
    post.deleted_at = now
    post.body = ""
    post.version += 1
    session.add(post)
    session.flush()
    moderation.announce(session, post)


def me_too(session: Session, post: Post, participant: Participant, now: datetime) -> bool:
    """Say "me too", or take it back. Returns whether it is on now. Nobody sees a count."""
    if post.participant_id == participant.id or post.state != PostState.SHARED:
        return False
    existing = session.exec(
        select(Reaction).where(
            Reaction.post_id == post.id, Reaction.participant_id == participant.id
        )
    ).first()
    if existing is not None:
        session.delete(existing)
        session.flush()
        return False
    assert post.id is not None and participant.id is not None
    session.add(Reaction(post_id=post.id, participant_id=participant.id, created_at=now))
    session.flush()
    return True


def report(
    session: Session,
    settings: Settings,
    space: Space,
    post: Post,
    participant: Participant,
    reason: ReportReason,
    detail: str,
    now: datetime,
) -> Report:
    """ "Something wrong?". Worried about someone: a concern for a safeguarding lead, and the
    post hidden from everyone else. Reported by enough people: hidden until reviewed."""
    assert post.id is not None and participant.id is not None
    existing = session.exec(
        select(Report).where(Report.post_id == post.id, Report.participant_id == participant.id)
    ).first()
    if existing is not None:
        return existing
    row = Report(
        post_id=post.id,
        participant_id=participant.id,
        reason=reason,
        detail=detail.strip()[:500] or None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        Identity(participant=participant),
        "post.reported",
        record_type="post",
        record_id=post.id,
        reason=reason.value,
    )
    if reason == ReportReason.WORRIED:
        if post.state != PostState.CONCERN:
            post.state = PostState.CONCERN
            post.version += 1
            session.add(post)
            session.flush()
        safeguarding.raise_concern(
            session,
            settings,
            post=post,
            space=space,
            source=ConcernSource.REPORT,
            now=now,
            signals=["worried_report"],
            report_detail=row.detail,
        )
    elif (
        post.state == PostState.SHARED
        and moderation.open_report_count(session, post.id) >= settings.space_reports_to_hide
    ):
        post.state = PostState.HIDDEN
        post.version += 1
        session.add(post)
        session.flush()
    moderation.announce(session, post)
    return row


def my_report(session: Session, post_id: int, participant_id: int) -> Report | None:
    return session.exec(
        select(Report).where(Report.post_id == post_id, Report.participant_id == participant_id)
    ).first()
