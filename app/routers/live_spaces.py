"""Live updates for spaces and the moderation queue, made like app/routers/live.py's streams:
let in exactly as their pages are, one short read at the door, nothing of the database held
while a stream waits, and polling when live updates are off.

A thread's stream sends only what changed, as out-of-band swaps of single posts (a new post
is added at the top, a changed one replaced, one no longer shown taken out), so a busy space
costs each listener one small read and one post's HTML per change, not the whole thread.
A burst of changes is gathered for a moment and read together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import events, routing
from app.db import utcnow
from app.deps import SessionDep, allow
from app.models import Space, SpaceMode, Thread
from app.permissions import MODERATE
from app.routers.live import GATHER_SECONDS, Door, _reads, _respond, fragment
from app.routers.spaces import DbId, InSpace, posts_words
from app.security import csrf_token
from app.services import moderation_queue, safeguarding, space_views
from app.services.identity import Identity

router = routing.router()
T = TypeVar("T")


class _Reader:
    """A stream's reads: one at a time per process (live.py's gate), in a short session."""

    request: Request

    async def read(self, work: Callable[[Session], T]) -> T:
        async with _reads(self.request.app):
            return await run_in_threadpool(self._in_session, work)

    def _in_session(self, work: Callable[[Session], T]) -> T:
        with self.request.app.state.open_session(False) as session:
            return work(session)


# --- a thread ------------------------------------------------------------------------------


@dataclass
class ThreadAtOpen:
    space: Space  # detached
    thread_id: int
    participant_id: int


def _thread_at_open(thread_id: DbId, member: InSpace, session: SessionDep) -> ThreadAtOpen:
    """The thread page's own rule (in_space), for its stream."""
    thread = session.get(Thread, thread_id)
    if thread is None or thread.space_id != member.space.id:
        raise HTTPException(status_code=404)
    if member.problem is not None:
        raise HTTPException(status_code=403)
    return ThreadAtOpen(member.space, thread_id, member.id)  # the space is detached already


@router.get("/live/spaces/{space_id}/threads/{thread_id}")
async def thread_stream(
    request: Request,
    slot: Door,
    opened: Annotated[ThreadAtOpen, Depends(_thread_at_open)],
    v: str = "",
) -> Response:
    """New posts appear for everyone in the space; a post's author sees it change ("Waiting
    to be checked" → "Shared")."""
    stream = ThreadStream(request, opened, shown=v[:32])
    return _respond(request, slot, stream, ("participant", opened.participant_id))


@dataclass
class Change:
    kind: str  # add, replace, remove
    post_id: int
    view: space_views.PostView | None = None
    where: str = ""  # for add: the list it goes into


class Shared:
    """What every thread stream of this process needs, made once: each post an event names,
    read once at that version however many listen (and however their bursts of events were
    gathered), and each changed post's HTML, rendered once for everyone who sees it the same
    way (only the CSRF token differs)."""

    KEEP_SECONDS = 30.0
    MAX_RENDERS = 5000

    def __init__(self) -> None:
        # post id -> (the version read, its family, when it was read)
        self.families: dict[int, tuple[int, space_views.Family | None, float]] = {}
        # post id -> (the version being read, the read)
        self.reading: dict[int, tuple[int, asyncio.Task[dict[int, Any]]]] = {}
        self.renders: dict[Any, tuple[str, str]] = {}

    async def families_at(
        self, wanted: dict[int, int], load: Callable[[list[int]], Awaitable[dict[int, Any]]]
    ) -> dict[int, space_views.Family | None]:
        """Each wanted post's family, at least at the version wanted (read if not yet)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for old in [k for k, v in self.families.items() if now - v[2] > self.KEEP_SECONDS]:
            del self.families[old]
        for done in [k for k, (_, task) in self.reading.items() if task.done()]:
            del self.reading[done]  # stored by whoever awaited it (or failed: read again)
        missing = [
            pid for pid, at in wanted.items() if self.families.get(pid, (-1, None, 0.0))[0] < at
        ]
        to_read = [pid for pid in missing if self.reading.get(pid, (-1, None))[0] < wanted[pid]]
        if to_read:
            task = asyncio.ensure_future(load(to_read))
            for pid in to_read:
                self.reading[pid] = (wanted[pid], task)
        for task in {self.reading[pid][1] for pid in missing}:
            # Shielded: a listener leaving mid-read must not cancel it for the others.
            found = await asyncio.shield(task)
            for pid, family in found.items():
                read_at = _version_in(family, pid)
                if self.families.get(pid, (-1, None, 0.0))[0] <= read_at:
                    self.families[pid] = (read_at, family, loop.time())
        return {pid: self.families.get(pid, (0, None, 0.0))[1] for pid in wanted}

    def render(self, key: Any, token: str, make: Callable[[], str]) -> str:
        found = self.renders.get(key)
        if found is None:
            if len(self.renders) >= self.MAX_RENDERS:
                self.renders.clear()
            found = (make(), token)
            self.renders[key] = found
        html, made_with = found
        return html if made_with == token else html.replace(made_with, token)


def _version_in(family: space_views.Family | None, post_id: int) -> int:
    """The version of a post as read (gone: as new as can be, nothing will change it)."""
    if family is None:
        return 2**31
    return next((p.version for p, _ in family.rows if p.id == post_id), 2**31)


def shared(app: Any) -> Shared:
    found: Shared | None = getattr(app.state, "space_streams", None)
    if found is None:
        found = app.state.space_streams = Shared()
    return found


class ThreadStream(_Reader):
    event_name = "thread-update"

    def __init__(self, request: Request, opened: ThreadAtOpen, shown: str) -> None:
        assert opened.space.id is not None
        self.request = request
        self.space = opened.space
        self.thread_id = opened.thread_id
        self.viewer = opened.participant_id
        self.page_version = shown
        self.topic = safeguarding.space_topic(opened.space.id)
        self.token = csrf_token(request)
        # Every post on the page -> the post it replies to (None: a post, not a reply).
        self.parent_of: dict[int, int | None] = {}
        self.pending: dict[int, int] = {}  # post id -> its version, from the events
        self.reload_at: float | None = None
        self.arrived = 0
        self.news = ""
        self.removed = False
        # The page says "Nobody has posted yet" (it had no posts): taken away with the first.
        self.placeholder = shown == space_views.version([])

    async def opened(self) -> str | None:
        views = await self.read(
            lambda db: space_views.thread_view(db, self.thread_id, self.viewer, utcnow())
        )
        self._remember(views)
        self.news = posts_words(views)
        if space_views.version(views) == self.page_version:
            return None
        # The thread changed between the page and its stream: send it whole, once.
        return self._whole(views)

    def _remember(self, views: list[space_views.PostView]) -> None:
        self.parent_of = {}
        for view in views:
            self._hang(view)

    def on_event(self, happened: events.Event) -> str | None:
        data = happened.data
        if self.removed:
            return None
        if happened.name == "space.removed" and data.get("participant_id") == self.viewer:
            self.removed = True
            self.news = "A moderator has removed you from this discussion"
            self.parent_of = {}
            return self._whole([])
        if happened.name == "space.post" and data.get("thread_id") == self.thread_id:
            post_id = int(data["post_id"])
            if not (
                data.get("shared", True)
                or data.get("author_id") == self.viewer
                or self._on_page(post_id)
            ):
                return None  # someone else's post that nobody else sees: nothing changes here
            self.pending[post_id] = int(data.get("version") or 0)
            if self.reload_at is None:
                self.reload_at = asyncio.get_running_loop().time() + GATHER_SECONDS
        return None

    def due(self) -> float | None:
        if self.reload_at is None:
            return None
        return self.reload_at - asyncio.get_running_loop().time()

    async def tick(self) -> str | None:
        pending, self.pending, self.reload_at = self.pending, {}, None
        if not pending or self.removed:
            return None
        ids = sorted(pending)

        async def load(some: list[int]) -> dict[int, Any]:
            return await self.read(lambda db: space_views.read_families(db, some))

        # Every listener of this process wants the same posts at the same versions now.
        families = await shared(self.request.app).families_at(pending, load)
        now = utcnow()
        changes = [
            change
            for pid in ids
            for change in self._change(
                pid, space_views.seen_by(families[pid], pid, self.viewer, now)
            )
        ]
        return self._incremental(changes) if changes else None

    def _on_page(self, pid: int) -> bool:
        return pid in self.parent_of

    def _hang(self, view: space_views.PostView) -> None:
        """Note a post (and its replies) as on the page."""
        top = view.post.id or 0
        self.parent_of[top] = None
        for reply in view.replies:
            self.parent_of[reply.post.id or 0] = top

    def _change(self, pid: int, view: space_views.PostView | None) -> list[Change]:
        on_page = pid in self.parent_of
        if view is None:
            if on_page and self.parent_of.pop(pid) is None:
                # A post taken away takes its replies with it.
                for child in [c for c, p in self.parent_of.items() if p == pid]:
                    del self.parent_of[child]
            return [Change("remove", pid)] if on_page else []
        parent = view.post.parent_id
        if parent is None:
            self._hang(view)
            if on_page:
                return [Change("replace", pid, view)]
            self.arrived += 0 if view.mine else 1
            return [Change("add", pid, view, "afterbegin:#posts-list")]
        if self.parent_of.get(parent, 0) is not None:
            return []  # its post is not on this page: nothing to hang it from
        self.parent_of[pid] = parent
        if on_page:
            return [Change("replace", pid, view)]
        self.arrived += 0 if view.mine else 1
        return [Change("add", pid, view, f"beforeend:#replies-{parent}")]

    def _context(self, **more: Any) -> dict[str, Any]:
        if self.arrived:
            self.news = f"{self.arrived} new post{'s' if self.arrived != 1 else ''}"
        drop = self.placeholder and bool(self.parent_of)
        self.placeholder = self.placeholder and not self.parent_of
        closed = self.space.mode == SpaceMode.CLOSED or self.removed
        return {
            "space": self.space,
            "news": self.news,
            "drop_placeholder": drop,
            "closed": closed,
            **more,
        }

    def _whole(self, views: list[space_views.PostView]) -> str:
        context = self._context(full=views)
        return fragment(self.request, "spaces/_update.html", "thread-news", "update", context)

    def _incremental(self, changes: list[Change]) -> str:
        context = self._context()
        cache = shared(self.request.app)
        news_key = ("news", context["news"], context["drop_placeholder"])
        parts = [cache.render(news_key, self.token, partial(self._block, "news", context))]
        for change in changes:
            view = change.view
            key = (
                self.space.id,
                change.kind,
                change.post_id,
                change.where,
                view.key if view else "",
                view.mine if view else False,
                context["closed"],
            )
            one = {**context, "change": change}
            parts.append(cache.render(key, self.token, partial(self._block, "one", one)))
        return "\n".join(parts)

    def _block(self, block: str, context: dict[str, Any]) -> str:
        return fragment(self.request, "spaces/_update.html", "thread-news", block, context)


# --- the moderation queue ------------------------------------------------------------------


Moderator = Annotated[Identity, allow(MODERATE)]


@router.get("/live/moderation")
async def queue_stream(
    request: Request,
    slot: Door,
    who: Moderator,
    v: str = "",
) -> Response:
    """The queue's counts follow new posts, decisions and concerns as they happen."""
    assert who.staff is not None and who.staff.id is not None
    stream = QueueStream(request, who, shown=v[:32])
    return _respond(request, slot, stream, ("staff", who.staff.id))


class QueueStream(_Reader):
    event_name = "queue-counts"
    follows = frozenset({"moderation.changed", "concern.raised", "concern.changed"})

    def __init__(self, request: Request, who: Identity, shown: str) -> None:
        self.request = request
        self.who = who
        self.shown = shown
        self.topic = safeguarding.MODERATION_TOPIC
        self.reload_at: float | None = None

    async def opened(self) -> str | None:
        return await self.tick()

    def on_event(self, happened: events.Event) -> str | None:
        if happened.name in self.follows and self.reload_at is None:
            self.reload_at = asyncio.get_running_loop().time() + GATHER_SECONDS
        return None

    def due(self) -> float | None:
        if self.reload_at is None:
            return None
        return self.reload_at - asyncio.get_running_loop().time()

    async def tick(self) -> str | None:
        self.reload_at = None
        found = await self.read(lambda db: moderation_queue.queue(db, self.who, utcnow()))
        if found.version == self.shown:
            return None
        self.shown = found.version
        context = {"queue": found}
        return fragment(self.request, "moderation/queue.html", "queue-counts", "counts", context)
