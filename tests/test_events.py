"""Events and live updates (issue 8, section 5).

- Events recorded in a unit of work are published only after it commits, never after a
  rollback (a savepoint's rollback drops only its own).
- The broker fans out in-process, from any thread; through Redis, two brokers (two
  processes) both hear an event; Redis down never raises, is logged once, tells pages to
  poll, and the broker comes back by itself.
- The streams: let in like their pages (the role matrix walks them too), limited per browser
  session and per address, holding no database connection while open, sending the room's
  "it has started" at the start time and when staff press Start, the staff list's "N of M
  here" when someone joins, and ending when the web session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from app import events
from app.cli import upgrade_database
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.models import Participant, Role, WebSession, Workshop
from app.routers import live
from app.security import new_token
from app.services import identity, rooms
from app.services import workshops as workshop_service
from tests.conftest import PG_URL, REDIS_URL, Client, build_workshop, require
from tests.factories import COOKIE, make_staff, sign_in

# --- helpers -----------------------------------------------------------------------------


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))


def join_by_code(session: Session, workshop: Workshop, name: str, now: datetime) -> Participant:
    form = rooms.JoinForm(display_name=name, agree=["yes"])
    return rooms.enter(session, workshop, form, now, None)


def session_cookie(session: Session, now: datetime, **who: Any) -> dict[str, str]:
    """A new signed-in web session; the Cookie header a browser with it would send."""
    token = new_token()
    identity.start_session(session, token, now, timedelta(days=1), **who)
    session.commit()
    return {"Cookie": f"{COOKIE}={token}"}


@dataclass
class Frame:
    event: str = ""
    data: str = ""
    comment: str = ""


class Frames:
    """Reads a streamed response in a thread, so a test can wait for a frame with a timeout
    (and fail, rather than hang, when it never comes)."""

    def __init__(self, response: Any) -> None:
        self.response = response
        self.frames: queue.Queue[Frame] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        current = Frame()
        with contextlib.suppress(Exception):
            for line in self.response.iter_lines():
                if line == "":
                    if current.event or current.data or current.comment:
                        self.frames.put(current)
                    current = Frame()
                elif line.startswith(":"):
                    current.comment = line[1:].strip()
                elif line.startswith("event:"):
                    current.event = line[6:].strip()
                elif line.startswith("data:"):
                    current.data += ("\n" if current.data else "") + line[5:].removeprefix(" ")

    def next(self, event: str | None = None, timeout: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event or 'frame'} within {timeout} s")
            try:
                frame = self.frames.get(timeout=left)
            except queue.Empty:
                continue
            if event is None or frame.event == event:
                return frame


@contextlib.contextmanager
def stream(client: Client, path: str, headers: dict[str, str] | None = None) -> Iterator[Any]:
    with client.stream("GET", path, headers=headers or {}) as response:
        yield response


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Quick heartbeats and session checks, so the tests need not wait 15 or 30 seconds.
    return settings.model_copy(
        update={
            "live_heartbeat_seconds": 0.3,
            # Tests here share one connection between threads: no background reads by default.
            "live_session_check_seconds": 600,
            # With HEARD_REDIS_URL set, the streams go through Redis: a channel of our own.
            "live_redis_channel": _redis_channel(),
        }
    )


# --- published after commit --------------------------------------------------------------


def test_an_event_is_published_only_after_its_unit_of_work_commits(engine, connection):
    async def scenario() -> None:
        broker = events.Broker()
        await broker.start()
        events.attach(engine, broker)
        try:
            with (
                broker.subscribe("workshop:7") as heard,
                Session(bind=connection, join_transaction_mode="create_savepoint") as db,
            ):
                events.record(db, "workshop.started", workshop_id=7)
                db.flush()
                assert await heard.get(0.2) is None  # not before the commit
                db.commit()
                got = await heard.get(2)
                assert got is not None and got.name == "workshop.started"
                assert got.topic == "workshop:7" and got.data == {"workshop_id": 7}
        finally:
            events.detach(engine, broker)
            await broker.stop()

    run(scenario())


def test_a_rollback_drops_its_events_and_a_savepoint_only_its_own(engine, connection):
    async def scenario() -> None:
        broker = events.Broker()
        await broker.start()
        events.attach(engine, broker)
        try:
            with (
                broker.subscribe("workshop:8") as heard,
                Session(bind=connection, join_transaction_mode="create_savepoint") as db,
            ):
                events.record(db, "participant.joined", workshop_id=8, participant_id=1)
                db.rollback()
                db.commit()
                assert await heard.get(0.3) is None

                events.record(db, "participant.joined", workshop_id=8, participant_id=2)
                inner = db.begin_nested()
                events.record(db, "participant.joined", workshop_id=8, participant_id=3)
                inner.rollback()
                db.commit()
                got = await heard.get(2)
                assert got is not None and got.data["participant_id"] == 2
                assert await heard.get(0.3) is None
        finally:
            events.detach(engine, broker)
            await broker.stop()

    run(scenario())


def test_a_commit_with_no_broker_is_fine(connection):
    """A command or a job (no live updates in that process) records events harmlessly."""
    with Session(bind=connection, join_transaction_mode="create_savepoint") as db:
        events.record(db, "workshop.started", workshop_id=1)
        db.commit()
        assert events.pending(db) == []


# --- the broker --------------------------------------------------------------------------


def test_in_process_fan_out_by_topic_from_any_thread():
    async def scenario() -> None:
        broker = events.Broker()
        await broker.start()
        try:
            mine = [broker.subscribe("workshop:1") for _ in range(3)]
            other = broker.subscribe("workshop:2")
            # A sync route publishes from a worker thread once its unit of work commits.
            sent = events.Event("attendee.checked_in", "workshop:1", {"sign_up_id": 5})
            await asyncio.to_thread(broker.publish, sent)
            for subscription in mine:
                assert await subscription.get(2) == sent
            assert await other.get(0.2) is None
            for subscription in [*mine, other]:
                subscription.close()
            assert broker.subscribers == 0
        finally:
            await broker.stop()

    run(scenario())


def test_a_listener_that_falls_far_behind_is_closed_not_kept():
    async def scenario() -> None:
        broker = events.Broker()
        await broker.start()
        try:
            slow = broker.subscribe("workshop:1")
            for n in range(events.QUEUE_SIZE + 10):
                broker.deliver(events.Event("participant.joined", "workshop:1", {"n": n}))
            assert broker.subscribers == 0
            names = set()
            while (got := await slow.get(0.05)) is not None:
                names.add(got.name)
            assert events.CLOSED in names
        finally:
            await broker.stop()

    run(scenario())


def _redis_channel() -> str:
    return f"heard:test-events:{secrets.token_hex(4)}"


def test_redis_fans_out_across_two_brokers():
    if not REDIS_URL:
        require("Redis", "HEARD_REDIS_URL is not set")

    async def scenario() -> None:
        channel = _redis_channel()
        first, second = (
            events.Broker(REDIS_URL, channel=channel),
            events.Broker(REDIS_URL, channel=channel),
        )
        await first.start()
        await second.start()
        try:
            assert first.live and second.live
            here = [first.subscribe("workshop:3") for _ in range(2)]
            there = [second.subscribe("workshop:3") for _ in range(2)]
            sent = events.Event("workshop.started", "workshop:3", {"workshop_id": 3})
            await asyncio.to_thread(first.publish, sent)
            for subscription in [*here, *there]:
                assert await subscription.get(3) == sent
                assert await subscription.get(0.2) is None  # once each, not twice
        finally:
            await first.stop()
            await second.stop()

    run(scenario())


def _dead_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def test_redis_down_never_raises_and_is_logged_once(caplog):
    async def scenario() -> None:
        broker = events.Broker(_dead_redis_url(), channel=_redis_channel())
        await broker.start()
        try:
            assert not broker.live
            with broker.subscribe("workshop:4") as heard:
                for n in range(50):
                    broker.publish(events.Event("participant.joined", "workshop:4", {"n": n}))
                # This process's own listeners still hear it.
                got = await heard.get(2)
                assert got is not None and got.data == {"n": 0}
            await asyncio.sleep(1.5)  # several reconnection attempts
        finally:
            await broker.stop()

    with caplog.at_level(logging.INFO, logger="heard.events"):
        run(scenario())
    said = [r for r in caplog.records if r.name == "heard.events"]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "unreachable" in said[0].getMessage() and "polling" in said[0].getMessage()


class Proxy:
    """A TCP proxy in front of Redis that a test can take down and bring back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        self.pipes.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def test_redis_going_down_falls_back_once_and_comes_back(caplog):
    if not REDIS_URL:
        require("Redis", "HEARD_REDIS_URL is not set")
    target = make_url(REDIS_URL.replace("redis://", "postgresql://"))

    async def scenario() -> None:
        proxy = Proxy((target.host or "127.0.0.1", target.port or 6379))
        await proxy.up()
        broker = events.Broker(
            f"redis://127.0.0.1:{proxy.port}/{target.database or 0}", channel=_redis_channel()
        )
        await broker.start()
        try:
            assert broker.live
            heard = broker.subscribe("workshop:5")
            await proxy.down()
            got = await heard.get(5)
            assert got is not None and got.name == events.FALLBACK  # streams tell pages to poll
            for n in range(20):  # publishing while down: no exception, one log line
                broker.publish(events.Event("participant.joined", "workshop:5", {"n": n}))
            await asyncio.sleep(1)
            assert not broker.live
            await proxy.up()  # the same port
            for _ in range(100):
                if broker.live:
                    break
                await asyncio.sleep(0.1)
            assert broker.live
            again = broker.subscribe("workshop:5")
            broker.publish(events.Event("workshop.started", "workshop:5", {}))
            got = await again.get(3)
            assert got is not None and got.name == "workshop.started"
        finally:
            await broker.stop()
            with contextlib.suppress(Exception):
                await proxy.down()

    with caplog.at_level(logging.INFO, logger="heard.events"):
        run(scenario())
    said = [r.getMessage() for r in caplog.records if r.name == "heard.events"]
    assert len([m for m in said if "unreachable" in m]) == 1, said
    assert len([m for m in said if "Redis is back" in m]) == 1, said


def test_with_redis_down_pages_work_and_poll_instead(session, settings, engine, connection, clock):
    """HEARD_REDIS_URL set, Redis down: the room page works, is marked up to poll, and its
    stream says `fallback`."""
    from app.ratelimit import RateLimits

    down = settings.model_copy(update={"redis_url": _dead_redis_url()})
    app = create_app(down, engine=engine)
    app.state.open_session = lambda write: Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    app.state.rate_limits = RateLimits(None)
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    with Client(app, base_url="http://testserver", follow_redirects=False) as client:
        sign_in(client, session, participant=person)
        page = client.get(f"/workshops/{workshop.slug}/room")
        assert page.status_code == 200
        assert 'hx-trigger="every 10s"' in page.text
        assert f'hx-get="/workshops/{workshop.slug}/room"' in page.text
        assert "sse-connect" not in page.text
        # What it polls: the status block of the same page.
        polled = client.get(
            f"/workshops/{workshop.slug}/room",
            headers={"HX-Request": "true", "HX-Target": "room-status"},
        )
        assert polled.text.lstrip().startswith('<div id="room-status"')
        assert "Starting soon" in polled.text
        with stream(client, f"/live/workshops/{workshop.slug}/room?state=soon") as response:
            assert response.status_code == 200
            assert "event: fallback" in response.read().decode()


def test_several_processes_without_redis_poll_instead(caplog):
    """Events from another web process never arrive without Redis: pages must not trust a
    stream that would miss them."""

    async def scenario() -> None:
        settings = Settings(
            env="test",
            database_url="sqlite:///unused.db",
            secret_key="test-secret-key-that-is-long-enough-0123456789",
            redis_url=None,
            web_workers=4,
        )
        app = create_app(settings, engine=make_engine("sqlite://"))
        broker = await events.start_broker(app)
        try:
            assert not broker.live
            link = events.live_link(app, stream="/live/x", poll="/x", target="x")
            assert link.on is False
        finally:
            await events.stop_broker(app)

    with caplog.at_level(logging.WARNING, logger="heard.events"):
        run(scenario())
    assert any("HEARD_REDIS_URL" in r.getMessage() for r in caplog.records)


# --- the streams -------------------------------------------------------------------------


def test_the_room_page_streams_and_says_so(client, session, clock):
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    sign_in(client, session, participant=person)
    page = client.get(f"/workshops/{workshop.slug}/room")
    assert 'hx-ext="sse"' in page.text
    assert f'sse-connect="/live/workshops/{workshop.slug}/room?state=soon"' in page.text
    assert 'sse-swap="room-status"' in page.text
    assert 'data-live-poll="/workshops/' in page.text  # what heard.js polls without a stream


def test_the_room_starts_by_itself_at_its_start_time(client, session, clock):
    starts = datetime.now(UTC) + timedelta(seconds=1.5)
    workshop = build_workshop(session, clock.now, starts_at=starts)
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    sign_in(client, session, participant=person)
    with stream(client, f"/live/workshops/{workshop.slug}/room?state=soon") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = Frames(response)
        assert frames.next("live").data == "on"
        frame = frames.next("room-status", timeout=6)
        assert datetime.now(UTC) >= starts
        assert 'id="room-status"' in frame.data and "The workshop has started" in frame.data
        assert 'data-live-announce="The workshop has started"' in frame.data


def test_the_room_starts_when_staff_press_start(client, session, clock):
    now = datetime.now(UTC)
    workshop = build_workshop(session, clock.now, starts_at=now + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", now)
    admin = make_staff(session, Role.ADMIN)
    session.commit()
    staff = session_cookie(session, now, staff=admin)
    sign_in(client, session, participant=person)
    with stream(client, f"/live/workshops/{workshop.slug}/room?state=soon") as response:
        frames = Frames(response)
        frames.next("live")
        page = client.get(f"/staff/workshops/{workshop.id}", headers=staff)
        assert "Start the workshop now" in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        pressed = client.post(
            f"/staff/workshops/{workshop.id}/start", data={"csrf_token": token}, headers=staff
        )
        assert pressed.status_code == 303
        frame = frames.next("room-status")
        assert "The workshop has started" in frame.data
    session.expire_all()
    assert session.get(Workshop, workshop.id).started_at is not None


def test_start_is_once_only_and_audited(session, clock):
    from app.models import AuditEntry
    from app.services.identity import Identity

    workshop = build_workshop(session, clock.now, starts_at=clock.now + timedelta(hours=1))
    admin = Identity(staff=make_staff(session, Role.ADMIN), roles={(Role.ADMIN, None)})
    assert workshop_service.start_now(session, workshop, admin, clock.now) is True
    assert workshop_service.start_now(session, workshop, admin, clock.now) is False
    assert [e.name for e in events.pending(session)] == ["workshop.started"]
    audited = session.exec(select(AuditEntry).where(AuditEntry.action == "workshop.started"))
    assert len(audited.all()) == 1
    finished = build_workshop(session, clock.now, starts_at=clock.now - timedelta(hours=3))
    with pytest.raises(workshop_service.CannotStartError):
        workshop_service.start_now(session, finished, admin, clock.now)


def test_the_staff_list_follows_people_joining(client, session, clock):
    now = datetime.now(UTC)
    workshop = build_workshop(session, clock.now, starts_at=now + timedelta(minutes=10))
    admin = make_staff(session, Role.ADMIN)
    session.commit()
    sign_in(client, session, staff=admin, now=now)
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert "Nobody is here yet" in page.text
    start = page.text.index('sse-connect="') + len('sse-connect="')
    path = page.text[start : page.text.index('"', start)].replace("&amp;", "&")
    with stream(client, path) as response:
        frames = Frames(response)
        frames.next("live")
        join_by_code(session, workshop, "Robin", now)
        session.commit()
        frame = frames.next("attendee-list")
        assert frame.data.lstrip().startswith('<div id="attendee-list"')
        assert "1 of 1 here" in frame.data and "Robin" in frame.data
        assert 'data-live-announce="1 of 1 here"' in frame.data
        # A class typing the code together: one re-read for the burst, the right count.
        for name in ("Ash", "Bo", "Cy"):
            join_by_code(session, workshop, name, now)
        session.commit()
        frame = frames.next("attendee-list")
        assert "4 of 4 here" in frame.data


def test_a_stream_sends_heartbeats_and_ends_with_the_web_session(real_app):
    app, engine = real_app
    app.state.settings = app.state.settings.model_copy(
        update={"live_heartbeat_seconds": 0.3, "live_session_check_seconds": 0.5}
    )
    now = datetime.now(UTC)
    with Session(engine) as session:
        workshop = build_workshop(session, now, starts_at=now + timedelta(hours=1))
        person = join_by_code(session, workshop, "Sky", now)
        session.commit()
        cookie = session_cookie(session, now, participant=person)
        slug = workshop.slug
    token = cookie["Cookie"].split("=", 1)[1]
    with (
        Client(app, base_url="http://testserver", follow_redirects=False) as client,
        stream(client, f"/live/workshops/{slug}/room?state=soon", cookie) as response,
    ):
        frames = Frames(response)
        frames.next("live")
        assert frames.next().comment  # a heartbeat comment
        with Session(engine) as session:
            identity.end_session(session, token)
            session.commit()
        assert frames.next("ended", timeout=5).data == "signed-out"
    assert live.stream_slots(app).open == 0


def test_streams_are_limited_per_browser_session(app, client, session, clock):
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    sign_in(client, session, participant=person, now=datetime.now(UTC))
    path = f"/live/workshops/{workshop.slug}/room?state=soon"
    with contextlib.ExitStack() as held:
        for _ in range(live.LIVE_STREAMS_PER_SESSION):
            assert held.enter_context(stream(client, path)).status_code == 200
        with stream(client, path) as refused:
            assert refused.status_code == 429
            assert refused.headers.get("retry-after")
        assert live.stream_slots(app).open == live.LIVE_STREAMS_PER_SESSION
    wait_until(lambda: live.stream_slots(app).open == 0)
    with stream(client, path) as again:
        assert again.status_code == 200


def test_a_client_opening_many_streams_is_limited_per_address(app, client, session, clock):
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    client.cookies.clear()
    path = f"/live/workshops/{workshop.slug}/room?state=soon"
    per_session = live.LIVE_STREAMS_PER_SESSION
    browsers = -(-(live.LIVE_STREAMS_PER_ADDRESS + 1) // per_session)
    cookies = [
        session_cookie(session, datetime.now(UTC), participant=person) for _ in range(browsers)
    ]
    statuses = []
    with contextlib.ExitStack() as held:
        for n in range(live.LIVE_STREAMS_PER_ADDRESS + 1):
            response = held.enter_context(stream(client, path, cookies[n // per_session]))
            statuses.append(response.status_code)
    assert statuses[:-1] == [200] * live.LIVE_STREAMS_PER_ADDRESS
    assert statuses[-1] == 429
    wait_until(lambda: live.stream_slots(app).open == 0)


def test_a_client_opening_1000_streams_is_refused_before_any_database_work(
    app, client, session, clock, monkeypatch, engine
):
    """The 429 comes first: 1,000 streams from one browser cost no reads past the limit."""
    if engine.dialect.name != "sqlite":
        pytest.skip("no database work is the point: once, on SQLite, is enough")
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    person = join_by_code(session, workshop, "Sky", datetime.now(UTC))
    session.commit()
    sign_in(client, session, participant=person, now=datetime.now(UTC))
    path = f"/live/workshops/{workshop.slug}/room?state=soon"
    with contextlib.ExitStack() as held:
        for _ in range(live.LIVE_STREAMS_PER_SESSION):
            held.enter_context(stream(client, path))
        reads = []
        monkeypatch.setattr(rooms, "room_for", lambda *a: reads.append(a))
        started = time.monotonic()
        for _ in range(1000 - live.LIVE_STREAMS_PER_SESSION):
            with stream(client, path) as refused:
                assert refused.status_code == 429
        assert reads == []
        assert time.monotonic() - started < 60
    assert live.stream_slots(app).open <= live.LIVE_STREAMS_PER_SESSION


def test_a_stream_is_let_in_like_its_page(client, session, clock):
    workshop = build_workshop(session, clock.now, starts_at=datetime.now(UTC) + timedelta(hours=1))
    elsewhere = build_workshop(
        session, clock.now, title="Elsewhere", starts_at=datetime.now(UTC) + timedelta(hours=1)
    )
    join_by_code(session, workshop, "Sky", datetime.now(UTC))
    stranger = join_by_code(session, elsewhere, "Robin", datetime.now(UTC))
    session.commit()
    path = f"/live/workshops/{workshop.slug}/room"
    client.cookies.clear()
    with stream(client, path) as response:  # anonymous: sent to sign in, like the page
        assert response.status_code == 303 and "/me/sign-in" in response.headers["location"]
    sign_in(client, session, participant=stranger, now=datetime.now(UTC))
    with stream(client, path) as response:  # not in that room
        assert response.status_code == 404
    assert client.get(f"/workshops/{workshop.slug}/room").status_code == 404
    facilitator = make_staff(session, Role.FACILITATOR)
    sign_in(client, session, staff=facilitator, now=clock.now)
    with stream(client, f"/live/staff/workshops/{workshop.id}/attendees") as response:
        assert response.status_code == 404  # a facilitator who doesn't run it
    assert client.get(f"/staff/workshops/{workshop.id}").status_code == 404


# --- a held stream holds no database connection ------------------------------------------


@pytest.fixture
def real_app(tmp_path: Any) -> Iterator[tuple[Any, Engine]]:
    """The real app on a fresh SQLite file that commits for real (no shared connection)."""
    url = f"sqlite:///{tmp_path / 'heard.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        mail_dir=tmp_path / "mail",
        base_url="http://testserver",
        redis_url=None,
    )
    try:
        yield create_app(settings, engine=engine), engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def small_pool_app(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Any, Engine]]:
    """The real app on a fresh database, with a pool of just two connections."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'heard.db'}"
        cleanup = None
    else:
        if not PG_URL:
            require("PostgreSQL", "HEARD_TEST_DATABASE_URL is not set")
        assert PG_URL
        name = f"heard_events_{secrets.token_hex(4)}"
        admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            require("PostgreSQL", f"no database could be created ({type(exc).__name__})")
        url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)

        def cleanup() -> None:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()

    upgrade_database(url)
    engine = make_engine(url, pool_size=2, max_overflow=0, pool_timeout=3)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        mail_dir=tmp_path / "mail",
        base_url="http://testserver",
        database_max_connections=10,
    )
    try:
        yield create_app(settings, engine=engine), engine
    finally:
        engine.dispose()
        if cleanup:
            cleanup()


def test_thirty_open_streams_hold_no_database_connection(small_pool_app):
    app, engine = small_pool_app
    now = datetime.now(UTC)
    with Session(engine) as session:
        workshop = build_workshop(session, now, starts_at=now + timedelta(hours=1))
        people = [join_by_code(session, workshop, f"Person {n}", now) for n in range(30)]
        session.commit()
        cookies = [session_cookie(session, now, participant=p) for p in people]
        slug = workshop.slug
    with (
        Client(app, base_url="http://testserver", follow_redirects=False) as client,
        contextlib.ExitStack() as held,
    ):
        for cookie in cookies:
            response = held.enter_context(
                stream(client, f"/live/workshops/{slug}/room?state=soon", cookie)
            )
            assert response.status_code == 200
            Frames(response).next("live")
        assert live.stream_slots(app).open == 30
        assert engine.pool.checkedout() == 0
        started = time.monotonic()
        page = client.get(f"/workshops/{slug}/room", headers=cookies[0])
        assert page.status_code == 200 and "Starting soon" in page.text
        assert time.monotonic() - started < 2
    with Session(engine) as session:
        assert session.exec(select(WebSession)).first() is not None
