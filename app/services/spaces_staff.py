"""Spaces for the staff who run workshops: a workshop room's space (pre-moderated from the
start), its threads, and how posts are checked."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app import uploads
from app.config import Settings
from app.models import Space, SpaceKind, SpaceMode, Thread, Workshop
from app.services import audit, jobs
from app.services.identity import Identity
from app.services.spaces import PostError, for_workshop
from app.uploads import StoredPicture

ADULT_AUDIENCES = {"young_adults", "parents"}


def open_for_workshop(
    session: Session, workshop: Workshop, actor: Identity, now: datetime
) -> Space:
    """The workshop room's space (made once). Pre-moderated from the start, always."""
    assert workshop.id is not None
    space = for_workshop(session, workshop.id)
    if space is not None:
        return space
    space = Space(
        kind=SpaceKind.WORKSHOP,
        workshop_id=workshop.id,
        programme_id=workshop.programme_id,
        title=workshop.title,
        mode=SpaceMode.PRE_MODERATED,
        under_18s=workshop.audience not in ADULT_AUDIENCES,
        created_at=now,
    )
    session.add(space)
    session.flush()
    audit.record(session, actor, "space.opened", record_type="space", record_id=space.id)
    return space


def thread_problems(prompt: str, alt: str, has_picture: bool) -> dict[str, str]:
    """What is wrong with a new thread's words, all at once (field: what to do)."""
    problems: dict[str, str] = {}
    prompt = " ".join(prompt.split())
    if not prompt:
        problems["prompt"] = "Write the question or prompt people will answer"
    elif len(prompt) > 300:
        problems["prompt"] = "The prompt must be 300 characters or fewer"
    alt = " ".join(alt.split())
    if has_picture and not alt:
        problems["picture_alt"] = "Say what the picture shows, for people who cannot see it"
    elif len(alt) > 250:
        problems["picture_alt"] = "The description must be 250 characters or fewer"
    elif alt and not has_picture:
        problems["picture"] = "Choose the picture, or leave the description empty"
    return problems


def add_thread(
    session: Session,
    space: Space,
    prompt: str,
    actor: Identity,
    now: datetime,
    *,
    picture: StoredPicture | None = None,
    picture_alt: str = "",
) -> Thread:
    problems = thread_problems(prompt, picture_alt, picture is not None)
    if problems:
        raise PostError(next(iter(problems.values())))
    assert space.id is not None
    thread = Thread(space_id=space.id, prompt=" ".join(prompt.split()), created_at=now)
    if picture is not None:
        thread.picture_key = picture.key
        thread.picture_alt = " ".join(picture_alt.split())
        thread.picture_width, thread.picture_height = picture.width, picture.height
    session.add(thread)
    session.flush()
    audit.record(session, actor, "thread.opened", record_type="thread", record_id=thread.id)
    return thread


def set_mode(session: Session, space: Space, mode: str, actor: Identity) -> None:
    if mode not in SpaceMode._value2member_map_:
        raise PostError("Choose how posts are checked")
    if mode == SpaceMode.POST_MODERATED and space.under_18s:
        raise PostError("Posts must be checked first where anyone under 18 can take part")
    space.mode = SpaceMode(mode)
    session.add(space)
    session.flush()
    audit.record(
        session, actor, "space.mode_changed", record_type="space", record_id=space.id, mode=mode
    )


@jobs.register("unused pictures")
def sweep_pictures(session: Session, settings: Settings, now: datetime) -> int:
    """Pictures no thread points at any more (a space or thread was deleted, or a form with a
    picture was never finished), once they are a day old."""
    keep = {
        key
        for key in session.exec(
            select(Thread.picture_key).where(col(Thread.picture_key).is_not(None))
        )
        if key
    }
    return uploads.sweep(settings, keep, older_than=now - timedelta(days=1))
