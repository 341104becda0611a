"""Spaces for the staff who run workshops: a workshop room's space (pre-moderated from the
start), its threads, and how posts are checked."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app.models import Space, SpaceKind, SpaceMode, Thread, Workshop
from app.services import audit
from app.services.identity import Identity
from app.services.spaces import PostError, for_workshop

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


def add_thread(
    session: Session, space: Space, prompt: str, actor: Identity, now: datetime
) -> Thread:
    prompt = " ".join(prompt.split())
    if not prompt:
        raise PostError("Write the question or prompt people will answer")
    if len(prompt) > 300:
        raise PostError("The prompt must be 300 characters or fewer")
    assert space.id is not None
    thread = Thread(space_id=space.id, prompt=prompt, created_at=now)
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
