"""Spaces for participants: the questions, a thread's posts (live), writing, replying,
changing and deleting your own post, "Me too" and "Something wrong?".

Everyone in the workshop's room may take part, including people who joined with the code
and have no account (rooms.room_for decides, as for the room itself). Anyone else gets a
"not found"; someone a moderator removed gets a kind page saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app import events, routing, uploads
from app.config import Settings
from app.deps import FormDataDep, NowDep, SessionDep, SettingsDep, SignedInParticipant
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import (
    Participant,
    Post,
    Space,
    SpaceMode,
    Thread,
)
from app.services import rooms, space_views, spaces
from app.templating import render

router = routing.router()

# Ids in addresses: a number a database can hold (anything else is "not found", never a 500).
DbId = Annotated[int, Path(gt=0, le=2**31 - 1)]
QueryId = Annotated[int, Query(ge=0, le=2**31 - 1)]
_SMALL_NUMBER = re.compile(r"[0-9]{1,9}")


def form_id(value: object) -> int | None:
    """A posted id (a hidden field), if it is one: a plain number a database can hold."""
    text = value if isinstance(value, str) else ""
    return int(text) if _SMALL_NUMBER.fullmatch(text) else None


@dataclass
class Member:
    """Someone in a space (or, with `problem`, someone who may not take part right now)."""

    space: Space
    participant: Participant
    problem: spaces.Problem | None

    @property
    def id(self) -> int:
        assert self.participant.id is not None
        return self.participant.id


def in_space(
    request: Request, space_id: DbId, settings: SettingsDep, who: SignedInParticipant
) -> Member:
    """The space, if this participant is in it: anyone else gets "not found". Looked up in a
    short read of its own, so a post's write (one at a time on SQLite) starts only when the
    post has been screened."""
    participant = who.participant
    assert participant is not None
    with reading(request) as reader:
        space = reader.get(Space, space_id)
        if space is None:
            raise HTTPException(status_code=404)
        problem = spaces.problem(reader, settings, space, participant)
    if problem == "not_here":
        raise HTTPException(status_code=404)
    return Member(space, participant, problem)


InSpace = Annotated[Member, Depends(in_space)]


def reading(request: Request) -> Session:
    """A short read of its own (its rows stay usable, detached, once it closes)."""
    reader: Session = request.app.state.open_session(False)
    return reader


class PostForm(FormModel):
    body: str = ""


def cannot(request: Request, member: Member) -> Response | None:
    """A kind page for someone removed from the space, or not allowed in yet."""
    if member.problem is None:
        return None
    return render(
        request,
        "spaces/cannot.html",
        {"space": member.space, "problem": member.problem},
        status_code=403,
    )


def thread_of(session: Any, space: Space, thread_id: int) -> Thread:
    thread = session.get(Thread, thread_id)
    if thread is None or thread.space_id != space.id:
        raise HTTPException(status_code=404)
    return thread


def picture_response(settings: Settings, thread: Thread) -> Response:
    """A thread's picture: the cleaned copy kept outside the web root, never sniffed as
    anything but the picture it is."""
    path = uploads.picture_path(settings, thread.picture_key)
    if path is None or thread.picture_key is None:
        raise HTTPException(status_code=404)
    return FileResponse(
        path,
        media_type=uploads.content_type(thread.picture_key),
        headers={
            # A key names one picture for ever: a phone keeps it rather than fetch it again.
            "Cache-Control": "private, max-age=31536000, immutable",
            "Content-Disposition": "inline",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


def own_or_visible(session: Any, member: Member, post_id: int, *, own: bool = False) -> Post:
    try:
        if own:
            return spaces.own_post(session, member.space, post_id, member.participant)
        return spaces.visible_post(session, member.space, post_id, member.id)
    except spaces.NotHereError:
        raise HTTPException(status_code=404) from None


def back(member: Member, post: Post, **query: int) -> str:
    extra = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/spaces/{member.space.id}/threads/{post.thread_id}" + (f"?{extra}" if extra else "")


# --- the space and a thread ----------------------------------------------------------------


@router.get("/workshops/{slug}/space", response_class=HTMLResponse)
def workshop_space(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    who: SignedInParticipant,
) -> Response:
    """The room's way into its space (the room page links here, needing no id)."""
    participant = who.participant
    assert participant is not None
    entry = rooms.room_for(session, settings, slug[:80], participant)
    if entry is None:
        raise HTTPException(status_code=404)
    space = spaces.for_workshop(session, entry.workshop.id or 0)
    if space is not None:
        return RedirectResponse(f"/spaces/{space.id}", status_code=303)
    return render(request, "spaces/none.html", {"workshop": entry.workshop})


@router.get("/spaces/{space_id}", response_class=HTMLResponse)
def space_page(request: Request, member: InSpace, session: SessionDep) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    assert member.space.id is not None
    return render(
        request,
        "spaces/space.html",
        {
            "space": member.space,
            "threads": spaces.threads(session, member.space.id),
            "room_url": spaces.room_url(session, member.space),
        },
    )


def _thread_page(
    request: Request,
    session: Any,
    member: Member,
    thread: Thread,
    now: datetime,
    form: FormState[Any],
    *,
    after: dict[str, Any] | None = None,
) -> HTMLResponse:
    views = space_views.thread_view(session, thread.id or 0, member.id, now)
    version = space_views.version(views)
    base = f"/spaces/{member.space.id}/threads/{thread.id}"
    return render(
        request,
        "spaces/thread.html",
        {
            "space": member.space,
            "thread": thread,
            "views": views,
            "news": posts_words(views),
            "form": form,
            "after": after or {},
            "max_chars": request.app.state.settings.space_post_max_chars,
            "closed": member.space.mode == SpaceMode.CLOSED,
            "live": events.live_link(
                request.app,
                stream=f"/live{base}?v={version}",
                poll=base,
                target="thread-posts",
            ),
        },
        fragments={"thread-posts": "posts"},
    )


def posts_words(views: list[space_views.PostView]) -> str:
    shown = sum(1 + len(v.replies) for v in views if not v.gone) + sum(
        len(v.replies) for v in views if v.gone
    )
    return "No posts yet" if shown == 0 else f"{shown} post{'s' if shown != 1 else ''}"


def _after(session: Any, member: Member, sent: int, reported: int) -> dict[str, Any]:
    """What to say at the top after writing or reporting: read from the person's own post or
    report (never from the address alone), so a link can't make the page claim anything."""
    found: dict[str, Any] = {}
    post = session.get(Post, sent) if sent else None
    if post is not None and post.participant_id == member.id and post.deleted_at is None:
        found["sent"] = post
    report = spaces.my_report(session, reported, member.id) if reported else None
    if report is not None:
        found["reported"] = report
    return found


@router.get("/spaces/{space_id}/threads/{thread_id}", response_class=HTMLResponse)
def thread_page(
    request: Request,
    thread_id: DbId,
    member: InSpace,
    session: SessionDep,
    now: NowDep,
    sent: QueryId = 0,
    reported: QueryId = 0,
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    thread = thread_of(session, member.space, thread_id)
    after = _after(session, member, sent, reported)
    return _thread_page(request, session, member, thread, now, empty_form(PostForm), after=after)


@router.get("/spaces/{space_id}/threads/{thread_id}/picture")
def thread_picture(
    thread_id: DbId, member: InSpace, session: SessionDep, settings: SettingsDep
) -> Response:
    """The picture with a thread's prompt, for the people in its space."""
    if member.problem is not None:
        raise HTTPException(status_code=404)
    return picture_response(settings, thread_of(session, member.space, thread_id))


@router.post("/spaces/{space_id}/threads/{thread_id}", response_class=HTMLResponse)
def write_post(
    request: Request,
    thread_id: DbId,
    member: InSpace,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    form = parse_form(PostForm, data)
    with reading(request) as reader:
        thread = thread_of(reader, member.space, thread_id)
        screened = spaces.screening(reader, member.space, form.values["body"])
    try:
        post = spaces.write(
            session,
            settings,
            member.space,
            thread,
            member.participant,
            form.values["body"],
            now,
            screened=screened,
        )
    except spaces.SpaceError as error:
        form.add_error("body", error.message)
        return _thread_page(request, session, member, thread, now, form)
    return redirect(request, back(member, post, sent=post.id or 0))
