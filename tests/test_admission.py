"""Holding the room: a bound on requests in flight, bodies capped before reading, connection
budgets, health without the database, and the read cache staying right."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse

from app.admission import AdmissionGate, BodyLimit
from app.cache import WRITTEN_TOPIC, ReadCache
from app.config import Settings
from app.db import BudgetError, check_server_allows, connection_budget, make_engine
from app.events import Event
from app.main import create_app
from tests.conftest import PG_URL, Client, require
from tests.factories import make_participant, sign_in


def _refuse(request: Request, status: int) -> HTMLResponse:
    return HTMLResponse(f"refused {status}", status_code=status)


def _scope(path: str = "/", method: str = "GET", headers: list[Any] | None = None) -> dict:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }


async def _call(app: Any, scope: dict, body: bytes = b"") -> tuple[int, dict, bytes]:
    sent: list[dict] = []
    chunks = [body]

    async def receive() -> dict:
        return {"type": "http.request", "body": chunks.pop() if chunks else b""}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


class SlowApp:
    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self.release = asyncio.Event()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        await self.release.wait()
        self.inside -= 1
        await PlainTextResponse("ok")(scope, receive, send)


def test_the_gate_lets_in_at_most_its_limit_and_serves_the_rest_in_turn() -> None:
    async def scenario() -> list[int]:
        inner = SlowApp()
        gate = AdmissionGate(inner, limit=3, max_wait=5, max_queue=100, refuse=_refuse)
        calls = [asyncio.create_task(_call(gate, _scope())) for _ in range(10)]
        await asyncio.sleep(0.05)
        assert inner.inside == 3 and len(gate.queue) == 7
        inner.release.set()
        results = await asyncio.gather(*calls)
        assert inner.most_inside == 3
        assert gate.in_flight == 0 and not gate.queue
        return [status for status, _, _ in results]

    assert asyncio.run(scenario()) == [200] * 10


def test_a_request_that_would_wait_too_long_gets_the_kind_busy_page_at_once() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        gate = AdmissionGate(inner, limit=1, max_wait=0.1, max_queue=100, refuse=_refuse)
        first = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.01)
        status, headers, body = await _call(gate, _scope())
        assert status == 503 and headers["retry-after"] == "5" and body == b"refused 503"
        # A full queue refuses without waiting at all.
        full = AdmissionGate(inner, limit=1, max_wait=5, max_queue=0, refuse=_refuse)
        blocker = asyncio.create_task(_call(full, _scope()))
        await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        assert (await _call(full, _scope()))[0] == 503
        assert asyncio.get_running_loop().time() - started < 0.05
        inner.release.set()
        await asyncio.gather(first, blocker)
        assert gate.in_flight == 0 and full.in_flight == 0

    asyncio.run(scenario())


def test_a_phone_that_gives_up_while_waiting_does_not_keep_a_place() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        gate = AdmissionGate(inner, limit=1, max_wait=5, max_queue=10, refuse=_refuse)
        holder = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.01)
        leaver = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.01)
        leaver.cancel()
        await asyncio.sleep(0.01)
        inner.release.set()
        await holder
        assert (await _call(gate, _scope()))[0] == 200
        assert gate.in_flight == 0

    asyncio.run(scenario())


def test_health_and_static_files_never_wait_at_the_gate() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        gate = AdmissionGate(inner, limit=1, max_wait=0.05, max_queue=0, refuse=_refuse)
        blocker = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.01)
        health = asyncio.create_task(_call(gate, _scope("/healthz")))
        await asyncio.sleep(0.01)
        assert inner.inside == 2  # let in beside the blocker, not refused
        inner.release.set()
        assert (await health)[0] == 200
        await blocker

    asyncio.run(scenario())


def test_writers_gate_keeps_only_writers_waiting() -> None:
    async def scenario() -> None:
        inner = SlowApp()
        gate = AdmissionGate(
            inner, limit=1, max_wait=0.05, max_queue=10, refuse=_refuse, writes_only=True
        )
        writer = asyncio.create_task(_call(gate, _scope(method="POST")))
        await asyncio.sleep(0.01)
        reader = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.01)
        assert inner.inside == 2
        assert (await _call(gate, _scope(method="POST")))[0] == 503
        inner.release.set()
        await asyncio.gather(writer, reader)

    asyncio.run(scenario())


class Reader:
    """An app that reads the whole body, as a form parser would."""

    def __init__(self) -> None:
        self.read = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await PlainTextResponse("ok")(scope, receive, send)


def test_a_body_declared_too_big_is_refused_before_a_byte_is_read() -> None:
    inner = Reader()
    limit = BodyLimit(inner, max_bytes=1000, refuse=_refuse)

    async def never(*_: Any) -> dict:
        raise AssertionError("the body was read")

    async def scenario() -> tuple[int, bytes]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        scope = _scope("/contact", "POST", [(b"content-length", b"200000000")])
        await limit(scope, never, send)
        return sent[0]["status"], sent[1]["body"]

    assert asyncio.run(scenario()) == (413, b"refused 413")
    assert inner.read == 0


def test_a_body_without_a_length_is_cut_off_at_the_limit() -> None:
    inner = Reader()
    limit = BodyLimit(inner, max_bytes=1000, refuse=_refuse)

    async def scenario() -> int:
        sent: list[dict] = []
        parts = [b"x" * 600, b"x" * 600, b"x" * 600]

        async def receive() -> dict:
            return {"type": "http.request", "body": parts.pop(), "more_body": bool(parts)}

        async def send(message: dict) -> None:
            sent.append(message)

        await limit(_scope("/contact", "POST"), receive, send)
        return int(sent[0]["status"])

    assert asyncio.run(scenario()) == 413
    assert inner.read <= 1200
    assert asyncio.run(_call(limit, _scope("/contact", "POST"), b"small"))[0] == 200


def test_the_real_app_refuses_a_huge_form_with_a_kind_page(client: Client) -> None:
    token = client.csrf("/contact")
    big = "message=" + "x" * 1_100_000 + f"&csrf_token={token}"
    response = client.post(
        "/contact", content=big, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "too big" in response.text and "<h1>" in response.text


def test_a_form_with_too_many_fields_is_refused_kindly(client: Client) -> None:
    token = client.csrf("/contact")
    fields = "&".join(f"f{n}=x" for n in range(500)) + f"&csrf_token={token}"
    response = client.post(
        "/contact", content=fields, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert "<h1>" in response.text


def test_healthz_answers_without_the_database(tmp_path: Any) -> None:
    settings = Settings(env="test", database_url=f"sqlite:///{tmp_path}/nowhere/x/heard.db")
    app = create_app(settings, engine=make_engine("sqlite:///" + str(tmp_path / "missing.db")))
    app.state.engine.dispose()

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("the database must not be touched")

    app.state.open_session = broken
    app.state.engine.connect = broken  # type: ignore[method-assign]
    with Client(app, base_url="http://testserver") as client:
        client.cookies.set("heard_session", "a" * 43, domain="testserver.local")
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").status_code == 503


def _pg_settings(**values: Any) -> Settings:
    return Settings(env="test", database_url="postgresql://x@127.0.0.1/x", **values)


def test_each_web_process_gets_its_share_of_the_connection_budget() -> None:
    one = connection_budget(_pg_settings())
    assert one.pool_size == 78 and one.in_flight == 32  # 80 - 2 for one worker
    four = connection_budget(_pg_settings(web_workers=4, background_workers=2))
    assert four.pool_size == 19 and four.in_flight == 7  # (80 - 4) // 4; (19 - 4) // 2
    assert four.pool_size * 4 + 4 <= 80
    with pytest.raises(BudgetError, match="only 2 connection"):
        connection_budget(_pg_settings(database_max_connections=10, web_workers=4))
    with pytest.raises(BudgetError, match="more than HEARD_DATABASE_MAX_CONNECTIONS"):
        connection_budget(_pg_settings(database_pool_size=50, web_workers=2))
    sqlite = connection_budget(Settings(env="test", database_url="sqlite:///x.db"))
    assert sqlite.pool_size >= 2 * sqlite.in_flight


def test_start_up_refuses_a_budget_the_server_cannot_give() -> None:
    if not PG_URL:
        require("PostgreSQL", "HEARD_TEST_DATABASE_URL is not set")
    assert PG_URL
    engine = make_engine(PG_URL)
    try:
        check_server_allows(engine, _pg_settings())  # 80 fits the default 100
        with pytest.raises(BudgetError, match="allows only"):
            check_server_allows(engine, _pg_settings(database_max_connections=100_000))
    finally:
        engine.dispose()


def test_the_read_cache_never_keeps_a_load_that_raced_an_emptying() -> None:
    cache = ReadCache(seconds=60)
    calls: list[int] = []

    def load() -> int:
        calls.append(1)
        cache.clear()  # a write committed while this was loading
        return len(calls)

    assert cache.get("k", load) == 1
    assert cache.get("k", lambda: 99) == 99  # the raced value was not kept
    assert cache.get("k", lambda: 5) == 99
    cache.clear()
    assert cache.get("k", lambda: 7) == 7
    assert ReadCache(seconds=0).get("k", lambda: 3) == 3


def test_a_persons_own_entries_last_longer_only_where_every_write_is_heard(tmp_path: Any) -> None:
    cache = ReadCache(seconds=2, personal_seconds=30)
    cache.put("shared", 1)
    cache.put("mine", 2, personal=True)
    shared_until, mine_until = cache._entries["shared"][0], cache._entries["mine"][0]
    assert 27 < mine_until - shared_until < 29
    cache.clear()  # a write empties both alike
    assert cache.peek("mine") is None
    assert ReadCache(seconds=0, personal_seconds=30).personal_seconds == 0

    def made(**extra: Any) -> ReadCache:
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{tmp_path / 'cache.db'}",
            secret_key="test-secret-key-that-is-long-enough-0123456789",
            **extra,
        )
        cache: ReadCache = create_app(settings).state.read_cache
        return cache

    # (redis_url is given each time: CI sets HEARD_REDIS_URL for the whole run.)
    assert made(redis_url=None).personal_seconds == 30  # one process hears all its own writes
    assert made(web_workers=2, redis_url="redis://127.0.0.1:6379/0").personal_seconds == 30
    assert made(web_workers=2, redis_url=None).personal_seconds == 2  # 2 s at most


def test_requests_that_miss_together_load_once_and_a_failed_load_is_not_shared() -> None:
    cache = ReadCache(seconds=60)
    calls: list[str] = []

    def slow(value: str) -> Any:
        def load() -> str:
            calls.append(value)
            import time

            time.sleep(0.05)
            if value == "boom":
                raise RuntimeError("the database went away")
            return value

        return load

    async def together() -> list[Any]:
        return await asyncio.gather(*(cache.load("room", slow("fresh")) for _ in range(20)))

    assert asyncio.run(together()) == ["fresh"] * 20
    assert calls == ["fresh"]

    async def failing() -> list[Any]:
        first = asyncio.ensure_future(cache.load("other", slow("boom")))
        await asyncio.sleep(0.01)
        rest = [cache.load("other", slow("retried")) for _ in range(3)]
        return await asyncio.gather(first, *rest, return_exceptions=True)

    calls.clear()
    answers = asyncio.run(failing())
    assert isinstance(answers[0], RuntimeError)
    # Waiters did not get the first one's error: each loaded for itself.
    assert answers[1:] == ["retried"] * 3
    assert calls[0] == "boom" and "retried" in calls

    async def cancelled() -> Any:
        first = asyncio.ensure_future(cache.load("third", slow("gone")))
        await asyncio.sleep(0.01)
        waiter = asyncio.ensure_future(cache.load("third", slow("mine")))
        await asyncio.sleep(0.01)
        first.cancel()
        return await waiter

    assert asyncio.run(cancelled()) in ("gone", "mine")


def test_signing_out_is_seen_at_once_although_who_you_are_is_cached(
    client: Client, session: Any, clock: Any
) -> None:
    person = make_participant(session, "Nia")
    old = sign_in(client, session, participant=person, now=clock.now)
    assert client.get("/me").status_code == 200
    assert client.get("/me").status_code == 200  # from the read cache
    assert client.submit("/me/sign-out", page="/me").status_code == 303
    client.cookies.clear()
    client.cookies.set("heard_session", old, domain="testserver.local")
    assert client.get("/me").status_code == 303


def test_a_change_made_through_this_process_shows_at_once(
    client: Client, make_workshop: Any, session: Any
) -> None:
    workshop = make_workshop(title="Cached title")
    assert "Cached title" in client.get(f"/workshops/{workshop.slug}").text
    # Someone signs up (a write through this process): the count on the page moves at once.
    before = client.get(f"/workshops/{workshop.slug}").text
    page = f"/workshops/{workshop.slug}/sign-up"
    for step, data in [
        ("name", {"display_name": "Ola"}),
        ("age", {"age_band": "16_17"}),
        ("contact", {"whose": "mine", "email": "ola@example.org"}),
        ("access", {"access_needs": ""}),
        ("anything-else", {"anything_else": ""}),
        ("consent", {"agree": "yes"}),
    ]:
        assert client.submit(f"{page}/{step}", data).status_code == 303
    assert client.submit(f"{page}/check", {}).status_code == 303
    after = client.get(f"/workshops/{workshop.slug}").text
    assert before != after


def test_a_page_polling_for_news_does_not_keep_an_idle_staff_member_signed_in(
    client: Client, session: Any, clock: Any
) -> None:
    from app.models import Role
    from tests.factories import make_staff

    member = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=member, now=clock.now)
    assert client.get("/staff").status_code == 200
    poll = {"HX-Request": "true", "HX-Trigger": "attendees-live"}
    for _ in range(4):
        clock.advance(minutes=10)
        client.get("/staff", headers=poll)
    assert client.get("/staff").status_code == 303  # 40 minutes without a real request


def test_a_write_through_one_process_empties_the_others_read_cache(
    settings: Settings, engine: Any
) -> None:
    import time

    from tests.conftest import REDIS_URL

    if not REDIS_URL:
        require("Redis", "HEARD_REDIS_URL is not set")
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "web_workers": 2})
    one, other = create_app(shared, engine=engine), create_app(shared, engine=engine)
    with Client(one, base_url="http://testserver"), Client(other, base_url="http://testserver"):
        other.state.read_cache.put("anything", 1)
        assert other.state.read_cache.peek("anything") == 1
        # What HeardRoute does after a request that wrote (app/routing.py).
        one.state.broker.publish(
            Event("written", WRITTEN_TOPIC, {"process": one.state.read_cache.process})
        )
        deadline = time.monotonic() + 5
        while other.state.read_cache.peek("anything") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert other.state.read_cache.peek("anything") is None
        # Its own announcements don't empty the writer's cache twice.
        one.state.read_cache.put("mine", 2)
        time.sleep(0.3)
        assert one.state.read_cache.peek("mine") == 2


def test_a_route_or_router_not_made_by_routing_router_is_refused(tmp_path: Any) -> None:
    from fastapi import APIRouter

    from app.main import _every_route_is_a_heard_route

    settings = Settings(
        env="test",
        database_url=f"sqlite:///{tmp_path / 'routes.db'}",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
    )
    app = create_app(settings)
    _every_route_is_a_heard_route(app)  # the app as built passes
    plain = APIRouter()

    @plain.post("/plain")
    def no_unit_of_work() -> dict[str, str]:
        return {}

    app.include_router(plain)
    with pytest.raises(TypeError, match=r"/plain must be made by app\.routing\.router"):
        _every_route_is_a_heard_route(app)
