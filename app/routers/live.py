"""Live updates: server-sent event streams that keep a page up to date (htmx's SSE extension).

Each stream belongs to a page and is let in exactly as that page is: the same policy, the
same rule about the object (the room's `rooms.room_for`, the staff pages' `run_workshop`),
checked by one short read when it opens. That read's database session is closed before the
first byte is streamed, so a held-open stream holds no connection and no worker thread: it
waits on its broker queue, in the event loop.

What a stream sends: `live` at once (the page knows the stream works; see heard.js), then
HTML fragments (blocks of the page's own template) under the event name the page's
`sse-swap` listens to, a comment every ~15 s (proxies and phones keep the connection), and
`fallback` when live updates can't be trusted (Redis down): the page then polls. It ends when
the browser goes away, or with `ended` when the web session has ended (checked every ~30 s).

Limits: a few streams per browser session and some per address (a school shares one), so a
client opening 1,000 streams gets 429s, not 1,000 held connections; and at most a couple of
streams do their database reads at once, inside the spare connections of the pool.
"""

from __future__ import annotations

import asyncio
import math
import random
import weakref
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

import anyio
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from app import events, routing
from app.db import utcnow
from app.deps import Facilitator, SessionDep, SettingsDep, SignedInParticipant
from app.models import Workshop, WorkshopStatus
from app.ratelimit import client_key
from app.routers.staff_workshops import RunWorkshop, attendee_list_context
from app.security import browser_token, token_hash
from app.services import identity as identity_service
from app.services import rooms
from app.templating import render

router = routing.router()

# Defaults; each can be set as a HEARD_ setting of the same name in lower case.
LIVE_STREAMS_PER_SESSION = 4
LIVE_STREAMS_PER_ADDRESS = 50
LIVE_HEARTBEAT_SECONDS = 15.0
LIVE_SESSION_CHECK_SECONDS = 30.0
LIVE_READS_AT_ONCE = 2
# Staff lists are re-read once for a burst of joins (a class typing the code together).
GATHER_SECONDS = 0.25
RETRY_MILLISECONDS = 5000
GONE = "live.gone"  # the browser went away


def _setting(request: Request, name: str, default: Any) -> Any:
    return getattr(request.app.state.settings, name, default)


# --- at the door: how many streams, and one database read at a time ----------------------


class Slot:
    """One open stream, counted against its browser session and its address."""

    def __init__(self, slots: StreamSlots, session_key: str, address_key: str) -> None:
        self.slots = slots
        self.keys = (session_key, address_key)
        self.streaming = False
        self.released = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.slots.give_back(self)


class StreamSlots:
    def __init__(self) -> None:
        self.per_session: Counter[str] = Counter()
        self.per_address: Counter[str] = Counter()

    def take(self, request: Request) -> Slot | None:
        session_key = token_hash(browser_token(request))
        address_key = client_key(request)
        if self.per_session[session_key] >= _setting(
            request, "live_streams_per_session", LIVE_STREAMS_PER_SESSION
        ) or self.per_address[address_key] >= _setting(
            request, "live_streams_per_address", LIVE_STREAMS_PER_ADDRESS
        ):
            return None
        self.per_session[session_key] += 1
        self.per_address[address_key] += 1
        return Slot(self, session_key, address_key)

    def give_back(self, slot: Slot) -> None:
        session_key, address_key = slot.keys
        for counter, key in ((self.per_session, session_key), (self.per_address, address_key)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]

    @property
    def open(self) -> int:
        return sum(self.per_session.values())


def stream_slots(app: Any) -> StreamSlots:
    slots: StreamSlots | None = getattr(app.state, "live_slots", None)
    if slots is None:
        slots = app.state.live_slots = StreamSlots()
    return slots


def _reads(app: Any) -> asyncio.Semaphore:
    gate: asyncio.Semaphore | None = getattr(app.state, "live_reads", None)
    if gate is None:
        at_once = int(getattr(app.state.settings, "live_reads_at_once", LIVE_READS_AT_ONCE))
        gate = app.state.live_reads = asyncio.Semaphore(max(at_once, 1))
    return gate


async def _door(request: Request) -> AsyncIterator[Slot]:
    """Before anything else: a slot for this stream (or 429, before any database work), and
    a turn to read, given back as soon as the route's function returns (scope "function").
    The route's unit of work is closed then too (HeardRoute finishes it before the response
    is sent), so nothing of the database is held while the stream runs."""
    slot = stream_slots(request.app).take(request)
    if slot is None:
        raise HTTPException(status_code=429)
    try:
        async with _reads(request.app):
            yield slot
    finally:
        if not slot.streaming:
            slot.release()


Door = Annotated[Slot, Depends(_door, scope="function")]


# --- the workshop room ---------------------------------------------------------------------


@dataclass
class RoomAtOpen:
    workshop: Workshop  # detached: what the room shows, kept up to date by events
    participant_id: int


def _room_at_open(
    slug: str, session: SessionDep, settings: SettingsDep, who: SignedInParticipant
) -> RoomAtOpen:
    """The room page's own rule (rooms.room_for), for its stream."""
    participant = who.participant
    assert participant is not None and participant.id is not None
    entry = rooms.room_for(session, settings, slug, participant)
    if entry is None:
        raise HTTPException(status_code=404)
    if entry.problem is not None:
        raise HTTPException(status_code=403)
    session.expunge(entry.workshop)
    return RoomAtOpen(entry.workshop, participant.id)


@router.get("/live/workshops/{slug}/room")
async def room_stream(
    request: Request,
    slot: Door,
    room: Annotated[RoomAtOpen, Depends(_room_at_open)],
    state: str = "",
) -> Response:
    """The participant's room: "starts soon" becomes "has started" at the start time (no
    polling of the database: a timer from the start time) or when a facilitator presses
    Start (an event)."""
    stream = RoomStream(request, room.workshop, shown=state)
    return _respond(request, slot, stream, ("participant", room.participant_id))


class RoomStream:
    event_name = "room-status"

    def __init__(self, request: Request, workshop: Workshop, shown: str) -> None:
        assert workshop.id is not None
        self.request = request
        self.workshop = workshop
        self.shown = shown
        self.topic = events.workshop_topic(workshop.id)

    async def opened(self) -> str | None:
        return self._if_changed()

    def on_event(self, happened: events.Event) -> str | None:
        data = happened.data
        if happened.name == "workshop.started":
            self.workshop.started_at = datetime.fromisoformat(data["started_at"])
        elif happened.name == "workshop.changed":
            self.workshop.starts_at = datetime.fromisoformat(data["starts_at"])
            self.workshop.ends_at = datetime.fromisoformat(data["ends_at"])
            self.workshop.status = WorkshopStatus(data["status"])
        elif happened.name == "workshop.cancelled":
            self.workshop.status = WorkshopStatus.CANCELLED
        else:
            return None
        return self._if_changed()

    def due(self) -> float | None:
        """Seconds until the room changes by itself (its start, then its end), if it will."""
        now = utcnow()
        if rooms.room_state(self.workshop, now) != self.shown:
            return 0.0
        change = rooms.next_change(self.workshop, now)
        return None if change is None else (change - now).total_seconds()

    async def tick(self) -> str | None:
        return self._if_changed()

    def _if_changed(self) -> str | None:
        state = rooms.room_state(self.workshop, utcnow())
        if state == self.shown:
            return None
        self.shown = state
        context = {"workshop": self.workshop, "state": state, "news": rooms.ROOM_NEWS[state]}
        return fragment(self.request, "workshops/room.html", "room-status", "status", context)


# --- the staff attendee list ---------------------------------------------------------------


@dataclass
class AttendeesAtOpen:
    workshop: Workshop
    context: dict[str, Any]
    staff_id: int


def _attendees_at_open(
    workshop: RunWorkshop, session: SessionDep, settings: SettingsDep, who: Facilitator
) -> AttendeesAtOpen:
    """The staff workshop page's own rule (run_workshop: its admins and facilitators)."""
    assert who.staff is not None and who.staff.id is not None
    context = attendee_list_context(session, settings, workshop)
    session.expunge_all()
    return AttendeesAtOpen(workshop, context, who.staff.id)


@router.get("/live/staff/workshops/{workshop_id}/attendees")
async def attendee_stream(
    request: Request,
    slot: Door,
    opened: Annotated[AttendeesAtOpen, Depends(_attendees_at_open)],
    state: str = "",
) -> Response:
    """The staff attendee list: "N of M here" and the list follow joins and check-ins."""
    stream = AttendeeStream(request, opened, shown=state)
    return _respond(request, slot, stream, ("staff", opened.staff_id))


class AttendeeStream:
    event_name = "attendee-list"
    follows = frozenset({"participant.joined", "attendee.checked_in", "attendee.check_in_undone"})

    def __init__(self, request: Request, opened: AttendeesAtOpen, shown: str) -> None:
        assert opened.workshop.id is not None
        self.request = request
        self.workshop = opened.workshop
        self.context = opened.context
        self.shown = shown
        self.topic = events.workshop_topic(opened.workshop.id)
        self.reload_at: float | None = None

    async def opened(self) -> str | None:
        return self._if_changed(self.context)

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
        async with _reads(self.request.app):
            return await run_in_threadpool(self._reload)

    def _reload(self) -> str | None:
        settings = self.request.app.state.settings
        with self.request.app.state.open_session(False) as session:
            context = attendee_list_context(session, settings, self.workshop)
            return self._if_changed(context)

    def _if_changed(self, context: dict[str, Any]) -> str | None:
        version = context["attendance"].version
        if version == self.shown:
            return None
        self.shown = version
        return fragment(
            self.request,
            "staff/workshops/detail.html",
            "attendee-list",
            "attendee_list",
            context,
        )


# --- streaming -----------------------------------------------------------------------------


class LiveStream(Protocol):
    event_name: str
    topic: str

    async def opened(self) -> str | None: ...

    def on_event(self, happened: events.Event) -> str | None: ...

    def due(self) -> float | None:
        """Seconds until `tick` should run (None: nothing planned)."""

    async def tick(self) -> str | None: ...


def fragment(
    request: Request, template: str, target: str, block: str, context: dict[str, Any]
) -> str:
    """One block of a page's template, rendered as the page's own HTMX fragment would be
    (the same `render`, so the same CSRF token, identity and time zone)."""
    headers = [
        (key, value)
        for key, value in request.scope["headers"]
        if key not in {b"hx-request", b"hx-target", b"hx-history-restore-request"}
    ]
    headers += [(b"hx-request", b"true"), (b"hx-target", target.encode())]
    as_htmx = Request({**request.scope, "headers": headers}, request.receive)
    response = render(as_htmx, template, context, fragments={target: block})
    return bytes(response.body).decode()


def frame(event: str, data: str) -> str:
    lines = data.splitlines() or [""]
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


class EventStream(StreamingResponse):
    """A text/event-stream response that always cleans up when it ends, however it ends.

    Starlette leaves a body generator suspended where it was when the browser goes away or
    the response is cancelled; closing it here runs its `finally` at once (unsubscribe, give
    the slot back) instead of whenever it is garbage-collected.
    """

    def __init__(self, body: AsyncGenerator[str, None], slot: Slot) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
        self.generator = body
        self.slot = slot
        # Given back even if the response is never sent (the browser left at once).
        weakref.finalize(self, slot.release)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.generator.aclose()
            self.slot.release()


def _respond(request: Request, slot: Slot, stream: LiveStream, who: tuple[str, int]) -> Response:
    broker = events.broker_of(request.app)
    slot.streaming = True
    if broker is None or not broker.live:
        return EventStream(_fall_back(), slot)
    return EventStream(_stream(request, slot, broker, stream, who), slot)


async def _fall_back() -> AsyncGenerator[str, None]:
    """Live updates are off (Redis down): the page polls instead."""
    yield f"retry: {RETRY_MILLISECONDS}\n\n" + frame("fallback", "poll")


async def _stream(
    request: Request,
    slot: Slot,
    broker: events.Broker,
    stream: LiveStream,
    who: tuple[str, int],
) -> AsyncGenerator[str, None]:
    heartbeat = float(_setting(request, "live_heartbeat_seconds", LIVE_HEARTBEAT_SECONDS))
    check = float(_setting(request, "live_session_check_seconds", LIVE_SESSION_CHECK_SECONDS))
    loop = asyncio.get_running_loop()
    try:
        with broker.subscribe(stream.topic) as subscription:
            watcher = asyncio.create_task(_watch_for_leaving(request.receive, subscription))
            try:
                yield f"retry: {RETRY_MILLISECONDS}\n\n" + frame("live", "on")
                first = await stream.opened()
                if first:
                    yield frame(stream.event_name, first)
                next_beat = loop.time() + heartbeat
                # Spread out, so hundreds of streams opened together don't all check at once.
                next_check = loop.time() + check * random.uniform(0.5, 1.0)
                while True:
                    now = loop.time()
                    left = stream.due()
                    wait = min(
                        next_beat - now, next_check - now, math.inf if left is None else left
                    )
                    happened = await subscription.get(max(wait, 0))
                    if happened is None:
                        now = loop.time()
                        left = stream.due()
                        if left is not None and left <= 0:
                            html = await stream.tick()
                            if html:
                                yield frame(stream.event_name, html)
                                next_beat = now + heartbeat
                        if now >= next_check:
                            if not await _still_signed_in(request, who):
                                yield frame("ended", "signed-out")
                                return
                            next_check = now + check
                        if now >= next_beat:
                            yield ": still here\n\n"
                            next_beat = now + heartbeat
                        continue
                    if happened.name in {GONE, events.CLOSED}:
                        return
                    if happened.name == events.FALLBACK:
                        yield frame("fallback", "poll")
                        return
                    html = stream.on_event(happened)
                    if html:
                        yield frame(stream.event_name, html)
                        next_beat = loop.time() + heartbeat
            finally:
                watcher.cancel()
    finally:
        slot.release()


async def _watch_for_leaving(receive: Receive, subscription: events.Subscription) -> None:
    """Notice at once when the browser goes away (not only at the next heartbeat)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            subscription.offer(events.Event(GONE, subscription.topic))
            return


async def _still_signed_in(request: Request, who: tuple[str, int]) -> bool:
    """Whether the browser's web session still belongs to the person the stream opened for
    (it ends when they sign out, time out or are removed)."""
    token = browser_token(request)

    def check() -> bool:
        with request.app.state.open_session(False) as session:
            identity = identity_service.load_identity(session, token, utcnow())
        kind, person_id = who
        person = identity.participant if kind == "participant" else identity.staff
        return person is not None and person.id == person_id

    async with _reads(request.app):
        return await run_in_threadpool(check)
