"""Domain events: recorded in a unit of work, published once it commits, delivered live.

A service records what happened, in the glossary's words::

    events.record(db, "workshop.started", workshop_id=workshop.id)

The event waits in the session (`db.info`) and is published only after that session commits;
a rollback drops it, so nobody is ever told about something that did not happen. Publishing
goes to the broker of the process (started and stopped in the app's lifespan):

- without HEARD_REDIS_URL, straight to the subscribers in this process (one asyncio queue
  each, fanned out by topic, e.g. ``workshop:12``);
- with it, through Redis pub/sub, so every process hears every event. Each process holds one
  Redis subscription and fans messages out to its own subscribers, never one Redis
  connection per stream.

Redis down (or going down) never breaks a page: publishing never raises, events still reach
this process's subscribers, the log says so once, subscribers are told to fall back (their
pages poll instead), and the broker reconnects when Redis is back.

Events carry ids and times only, never anything a person wrote or their contact details.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger("heard.events")

PENDING = "heard_events"
CHANNEL = "heard:events"
# Signals a subscriber may get besides events (their `name`).
FALLBACK = "live.fallback"  # live updates can't be trusted now: pages should poll
CLOSED = "live.closed"  # the broker stopped, or this subscriber fell too far behind
QUEUE_SIZE = 256
RECONNECT_MAX_SECONDS = 5.0
FIRST_CONNECT_SECONDS = 3.0
STOP_SECONDS = 2.0


@dataclass(frozen=True)
class Event:
    name: str
    topic: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "topic": self.topic, "data": self.data})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        value = json.loads(raw)
        return cls(str(value["name"]), str(value["topic"]), dict(value.get("data") or {}))


def workshop_topic(workshop_id: int) -> str:
    return f"workshop:{workshop_id}"


# --- recording, and publishing after commit ----------------------------------------------


def record(db: Session, name: str, *, topic: str | None = None, **data: Any) -> Event:
    """Add an event to this unit of work: published after it commits, dropped on rollback.

    The topic is the workshop's (``workshop_id=``) unless given. Values must be ids, flags
    or times (times are sent as ISO 8601 text).
    """
    if topic is None:
        if "workshop_id" not in data:
            raise ValueError("an event needs a topic or a workshop_id")
        topic = workshop_topic(int(data["workshop_id"]))
    values = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}
    happened = Event(name, topic, values)
    if not db.in_transaction():
        db.begin()  # so a rollback before any query still drops it
    transaction = db.get_nested_transaction() or db.get_transaction()
    db.info.setdefault(PENDING, []).append((happened, transaction))
    return happened


def pending(db: Session) -> list[Event]:
    """Events recorded in this session and not yet published (for tests)."""
    return [happened for happened, _ in db.info.get(PENDING, [])]


@sa_event.listens_for(Session, "after_commit")
def _publish_after_commit(db: Session) -> None:
    if db.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    waiting = db.info.pop(PENDING, None)
    if not waiting:
        return
    broker = _broker_for(db)
    if broker is None:
        return  # no live updates in this process (a command, a job): nobody is listening
    for happened, _ in waiting:
        broker.publish(happened)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(db: Session, previous: SessionTransaction) -> None:
    """A rollback drops the events recorded inside what was rolled back (a savepoint drops
    only its own; the whole transaction, all of them)."""
    waiting = db.info.get(PENDING)
    if not waiting:
        return
    if previous.parent is None:
        db.info.pop(PENDING, None)
        return
    db.info[PENDING] = [
        (happened, where) for happened, where in waiting if not _inside(where, previous)
    ]


def _inside(where: SessionTransaction | None, rolled_back: SessionTransaction) -> bool:
    while where is not None:
        if where is rolled_back:
            return True
        where = where.parent
    return False


# Which broker publishes for which database: sessions find it through the engine they are
# bound to (a test's session may be bound to a connection of that engine).
_BROKERS: dict[str, Broker] = {}


def _engine_key(bind: Any) -> str:
    engine = getattr(bind, "engine", bind)
    return engine.url.render_as_string(hide_password=False)


def _broker_for(db: Session) -> Broker | None:
    if not _BROKERS:
        return None
    try:
        return _BROKERS.get(_engine_key(db.get_bind()))
    except Exception:
        return None


# --- the broker ----------------------------------------------------------------------------


class Subscription:
    """One listener's queue of events on one topic. Use it as a context manager."""

    def __init__(self, broker: Broker, topic: str) -> None:
        self.broker = broker
        self.topic = topic
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)

    def offer(self, happened: Event) -> None:
        """Queue an event; a listener that fell this far behind is closed (it reconnects and
        gets the current state) rather than allowed to hold ever more memory."""
        try:
            self.queue.put_nowait(happened)
        except asyncio.QueueFull:
            self.broker.unsubscribe(self)
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(Event(CLOSED, self.topic))

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds pass first."""
        try:
            async with asyncio.timeout(timeout):
                return await self.queue.get()
        except TimeoutError:
            return None

    def close(self) -> None:
        self.broker.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Broker:
    """Fan-out by topic in this process, and through Redis between processes when configured.

    Everything but `publish` runs on the event loop the broker was started on; `publish` may
    be called from any thread (a sync route's worker thread commits, and publishes).
    """

    def __init__(
        self, redis_url: str | None = None, *, channel: str = CHANNEL, alone: bool = True
    ) -> None:
        self.redis_url = redis_url
        self.channel = channel
        # In-process only, while other web processes serve the same database: their events
        # never arrive here, so pages poll instead of trusting the stream.
        self.alone = alone
        self._topics: dict[str, set[Subscription]] = {}
        self._listeners: dict[str, list[Callable[[Event], None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._redis: Any = None
        self._outgoing: asyncio.Queue[Event] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._redis_up = False
        self._said_down = False
        self._first_try = asyncio.Event()

    # -- state

    @property
    def live(self) -> bool:
        """Whether a subscriber hears every event now (pages poll when not)."""
        if self._loop is None:
            return False
        return self._redis_up if self.redis_url else self.alone

    @property
    def subscribers(self) -> int:
        return sum(len(subs) for subs in self._topics.values())

    # -- lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        if self.redis_url is None:
            return
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(
            self.redis_url,
            socket_connect_timeout=2,
            socket_timeout=5,
            socket_keepalive=True,
            health_check_interval=10,
        )
        self._outgoing = asyncio.Queue()
        self._tasks = [
            asyncio.create_task(self._listen(), name="heard-events-listen"),
            asyncio.create_task(self._send(), name="heard-events-send"),
        ]
        # Know at once whether Redis answers, so the first pages say the right thing.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_CONNECT_SECONDS):
                await self._first_try.wait()

    async def stop(self) -> None:
        # Bounded: closing a Redis subscription mid-read can hang in the client library, and a
        # stopping server (or a test's shutdown) must never wait on it.
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_SECONDS)
        self._tasks = []
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._redis.aclose(), STOP_SECONDS)
            self._redis = None
        self._signal_all(CLOSED)
        self._topics.clear()
        self._loop = None

    # -- subscribing

    def subscribe(self, topic: str) -> Subscription:
        subscription = Subscription(self, topic)
        self._topics.setdefault(topic, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subs = self._topics.get(subscription.topic)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._topics[subscription.topic]

    # -- publishing

    def publish(self, happened: Event) -> None:
        """Publish from any thread. Never raises: a page must not fail for live updates."""
        loop = self._loop
        if loop is None:
            return
        try:
            if threading.get_ident() == self._thread:
                self._publish_here(happened)
            else:
                loop.call_soon_threadsafe(self._publish_here, happened)
        except RuntimeError:
            pass  # the loop has closed: the process is stopping

    def _publish_here(self, happened: Event) -> None:
        if self._outgoing is None:
            self.deliver(happened)
        elif not self._redis_up:
            self.deliver(happened)  # this process at least; the others' pages poll
        else:
            self._outgoing.put_nowait(happened)  # Redis brings it back to us too

    def deliver(self, happened: Event) -> None:
        """Hand an event to this process's subscribers of its topic."""
        for subscription in list(self._topics.get(happened.topic, ())):
            subscription.offer(happened)
        for listener in self._listeners.get(happened.topic, ()):
            listener(happened)

    def listen(self, topic: str, listener: Callable[[Event], None]) -> None:
        """Call `listener` on the event loop for every event of `topic` (no stream needed)."""
        self._listeners.setdefault(topic, []).append(listener)

    def _signal_all(self, name: str) -> None:
        for subs in list(self._topics.values()):
            for subscription in list(subs):
                subscription.offer(Event(name, subscription.topic))

    # -- Redis

    async def _listen(self) -> None:
        """The one subscription of this process; reconnects, more slowly each time."""
        delay = 0.25
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._up()
                delay = 0.25
                while True:
                    message = await pubsub.get_message(timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        self._received(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), STOP_SECONDS)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    async def _send(self) -> None:
        """Publish in order, one at a time, from one task."""
        assert self._outgoing is not None
        while True:
            happened = await self._outgoing.get()
            try:
                await self._redis.publish(self.channel, happened.to_json())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._down(exc)
                self.deliver(happened)

    def _received(self, raw: str | bytes) -> None:
        try:
            happened = Event.from_json(raw)
        except (ValueError, KeyError, TypeError):
            log.warning("live updates: ignored a message that is not an event")
            return
        self.deliver(happened)

    def _up(self) -> None:
        if not self._redis_up and self._said_down:
            log.info("live updates: Redis is back at %s; live updates are on again", self._where)
        self._redis_up = True
        self._said_down = False
        self._first_try.set()

    def _down(self, exc: BaseException) -> None:
        was_up = self._redis_up
        self._redis_up = False
        self._first_try.set()
        if not self._said_down:
            # Once per outage, not once per event or per reconnection attempt.
            log.warning(
                "live updates: Redis at %s is unreachable (%s); pages fall back to polling "
                "until it is back",
                self._where,
                type(exc).__name__,
            )
            self._said_down = True
        if was_up:
            self._signal_all(FALLBACK)

    @property
    def _where(self) -> str:
        parts = urlsplit(self.redis_url or "")
        return f"{parts.hostname}:{parts.port or 6379}"


# --- the app's broker ----------------------------------------------------------------------


def attach(engine: Any, broker: Broker) -> None:
    """Publish what commits on this database through `broker`."""
    _BROKERS[_engine_key(engine)] = broker


def detach(engine: Any, broker: Broker) -> None:
    key = _engine_key(engine)
    if _BROKERS.get(key) is broker:
        del _BROKERS[key]


def channel_for(settings: Any) -> str:
    """The Redis channel of one deployment: every process on the same database shares it,
    and another deployment (or a test run) using the same Redis never hears it."""
    explicit = getattr(settings, "live_redis_channel", None)
    if explicit:
        return str(explicit)
    url = make_url(settings.database_url)
    where = f"{url.host or ''}:{url.port or ''}/{url.database or ''}"
    return f"{CHANNEL}:{hashlib.sha256(where.encode()).hexdigest()[:12]}"


async def start_broker(app: Any) -> Broker:
    """Start this app's broker (from its lifespan) and route its database's events to it."""
    settings = app.state.settings
    processes = int(getattr(settings, "web_workers", 1) or 1)
    broker = Broker(settings.redis_url, channel=channel_for(settings), alone=processes <= 1)
    if not settings.redis_url and processes > 1:
        log.warning(
            "live updates: %d web processes and no HEARD_REDIS_URL, so events can't reach "
            "every page; pages poll instead. Set HEARD_REDIS_URL to share them.",
            processes,
        )
    await broker.start()
    app.state.broker = broker
    attach(app.state.engine, broker)
    return broker


async def stop_broker(app: Any) -> None:
    broker: Broker | None = getattr(app.state, "broker", None)
    if broker is None:
        return
    detach(app.state.engine, broker)
    app.state.broker = None
    await broker.stop()


def broker_of(app: Any) -> Broker | None:
    broker: Broker | None = getattr(app.state, "broker", None)
    return broker


@dataclass(frozen=True)
class LiveLink:
    """How a page part follows live updates: a stream, or (when they are off) polling."""

    stream: str  # the event-stream address
    poll: str  # the page itself: its fragment for `target` is fetched when polling
    target: str  # the id of the part that changes
    on: bool  # False: Redis is down (or no broker), so the page polls from the start
    every: int = 10  # seconds between polls


def live_link(app: Any, *, stream: str, poll: str, target: str) -> LiveLink:
    broker = broker_of(app)
    every = int(getattr(app.state.settings, "live_poll_seconds", 10))
    return LiveLink(stream, poll, target, on=broker is not None and broker.live, every=every)
