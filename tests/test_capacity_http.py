"""Places are exact under real concurrent HTTP requests (issue 4), on SQLite and PostgreSQL.

The real app runs under uvicorn on a free loopback port, on a fresh database of its own (a
temp SQLite file, or a new PostgreSQL database created for this module and dropped after),
never the shared test database: these tests commit for real.

Each person is their own browser (own httpx client, own cookies) and their own address
(X-Forwarded-For, trusted from 127.0.0.1 as behind the production proxy), exactly as
bench/run.py drives the app. Everyone walks the real sign-up pages to "Check your answers"
(a few people at a time, as people fill in a form at their own pace), waits at a barrier,
and then all press "Sign up" at the same moment: 50 simultaneous final requests.

The form rate limit is raised as well, so that the test is about places and nothing else;
the limits have tests of their own.
"""

from __future__ import annotations

import itertools
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.models import SignUpStatus
from bench.run import Timings
from tests.conftest import BACKENDS
from tests.live_processes import (
    TIMEOUT,
    add_workshop,
    fresh_database,
    new_person,
    sign_ups,
    wait_until_up,
    walk_to_check,
)

PEOPLE = 50
PLACES_LEFT = 10
CLICKS = 10
# People fill in the form a few at a time (as they would: at their own pace); only the last
# press, "Sign up", is made by everyone at the same moment.
WALKING_AT_ONCE = 8
RATE = "10000/minute"


# --- a fresh database, and the real app serving it ---------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
def fresh_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A new, migrated database for this module only."""
    with fresh_database(
        request.param, tmp_path_factory.mktemp("capacity"), prefix="heard_capacity"
    ) as url:
        yield url


@dataclass
class Live:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def live(fresh_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        env="test",
        database_url=fresh_url,
        redis_url=None,
        secret_key=secrets.token_urlsafe(36),  # 48 characters
        base_url=base_url,
        mail_dir=tmp_path_factory.mktemp("capacity-mail"),
        form_rate_per_ip=RATE,
        join_rate_per_ip=RATE,
        join_rate_per_code=RATE,
        sign_in_rate_per_ip=RATE,
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            # As behind the production proxy: X-Forwarded-For from loopback is believed, so
            # each simulated person has an address (and rate-limit bucket) of their own.
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
            timeout_graceful_shutdown=5,
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="capacity-server", daemon=True
    )
    thread.start()
    try:
        wait_until_up(f"{base_url}/healthz", thread.is_alive)
        yield Live(url=base_url, database_url=fresh_url)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        app.state.engine.dispose()


def _all_at_once(count: int, work: Callable[[int, threading.Barrier], str]) -> list[object]:
    """Run work(i, barrier) in `count` threads; each returns a result or its exception."""
    barrier = threading.Barrier(count, timeout=TIMEOUT)
    results: list[object] = [None] * count

    def one(i: int) -> None:
        try:
            results[i] = work(i, barrier)
        except BaseException as exc:
            barrier.abort()  # nobody waits for a person who will never come
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 3 * TIMEOUT
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert not stuck, f"{stuck} of {count} people still had no answer after {3 * TIMEOUT:.0f} s"
    return results


def _describe(results: list[object]) -> Counter[str]:
    return Counter(r if isinstance(r, str) else f"{type(r).__name__}: {r}" for r in results)


# --- the tests ---------------------------------------------------------------------------


def test_fifty_people_press_sign_up_at_once_for_the_last_ten_places(live: Live) -> None:
    # 12 places, 2 kept back by staff: 10 anyone can take.
    workshop_id, slug = add_workshop(
        live.database_url, capacity=PLACES_LEFT + 2, reserved_places=2, title="Last ten places"
    )
    timings = Timings()
    walking = threading.Semaphore(WALKING_AT_ONCE)

    def person(n: int, barrier: threading.Barrier) -> str:
        someone = new_person(live.url, n, timings)
        try:
            with walking:
                walk_to_check(someone, slug, n)
            data = {"csrf_token": someone.csrf}
            barrier.wait()
            started = time.perf_counter()
            done = someone.client.post(f"/workshops/{slug}/sign-up/check", data=data)
            timings.add("POST check (at once)", time.perf_counter() - started)
            where = done.headers.get("location", "")
            # The page after "Sign up" is the same for everyone (it says to check email):
            # who got a place and who is waiting is counted in the database below.
            if done.status_code != 303 or where != f"/workshops/{slug}/sign-up/sent":
                return f"final POST gave {done.status_code} {where}".strip()
            return "sent"
        finally:
            someone.client.close()

    started = time.monotonic()
    outcomes = _describe(_all_at_once(PEOPLE, person))
    elapsed = time.monotonic() - started
    print(
        f"\n{PEOPLE} people, {len(timings.samples)} requests in {elapsed:.1f} s; "
        f"final POSTs at once: p50 {timings.p(0.5, 'POST check (at once)'):.0f} ms, "
        f"max {timings.p(1.0, 'POST check (at once)'):.0f} ms; outcomes {dict(outcomes)}"
    )
    assert outcomes == {"sent": PEOPLE}

    rows = sign_ups(live.database_url, workshop_id)
    statuses = Counter(SignUpStatus(r.status) for r in rows)
    assert statuses == {
        SignUpStatus.CONFIRMED: PLACES_LEFT,
        SignUpStatus.WAITING: PEOPLE - PLACES_LEFT,
    }
    assert len({r.contact_key for r in rows}) == len(rows) == PEOPLE  # no duplicates
    assert len({r.reference for r in rows}) == PEOPLE
    # The waiting list has one clear order: by the time each joined it, then id (as
    # promotion reads it), and that order is the order the rows were written in.
    waiting = [r for r in rows if SignUpStatus(r.status) == SignUpStatus.WAITING]
    assert all(r.waiting_since is not None for r in waiting)
    out_of_order = [
        f"#{a.id} at {a.waiting_since:%H:%M:%S.%f} then #{b.id} at {b.waiting_since:%H:%M:%S.%f}"
        for a, b in itertools.pairwise(waiting)  # rows are in id order
        if not a.waiting_since < b.waiting_since  # type: ignore[operator]
    ]
    assert not out_of_order, (
        f"waiting_since is not strictly increasing in id order ({len(out_of_order)} of "
        f"{len(waiting) - 1} pairs), e.g. " + "; ".join(out_of_order[:3])
    )
    assert all(r.confirmed_at is not None for r in rows if r.status == SignUpStatus.CONFIRMED)


def test_one_person_pressing_sign_up_ten_times_at_once_gets_one_row(live: Live) -> None:
    workshop_id, slug = add_workshop(live.database_url, capacity=5, title="Double clicks")
    timings = Timings()
    first = new_person(live.url, 7, timings)
    try:
        walk_to_check(first, slug, 7)
        cookies = dict(first.client.cookies)
        data = {"csrf_token": first.csrf}
        headers = dict(first.client.headers)
    finally:
        first.client.close()

    def click(_: int, barrier: threading.Barrier) -> str:
        # One browser, many presses: the same cookies, token and address on every request.
        with httpx.Client(
            base_url=live.url,
            timeout=TIMEOUT,
            follow_redirects=False,
            cookies=cookies,
            headers=headers,
        ) as client:
            barrier.wait()
            done = client.post(f"/workshops/{slug}/sign-up/check", data=data)
        where = done.headers.get("location", "")
        if done.status_code == 303 and where == f"/workshops/{slug}/sign-up/sent":
            return "sent"  # the first press, or one after it (the same page either way)
        if done.status_code == 303 and where.startswith(f"/workshops/{slug}/sign-up/"):
            return "back to the form"  # the draft was already used up by the first press
        return f"{done.status_code} {where}".strip()

    outcomes = _describe(_all_at_once(CLICKS, click))
    print(f"\n{CLICKS} presses at once: {dict(outcomes)}")
    assert outcomes["sent"] >= 1, outcomes
    assert set(outcomes) <= {"sent", "back to the form"}, outcomes

    rows = sign_ups(live.database_url, workshop_id)
    assert len(rows) == 1
    assert rows[0].status == SignUpStatus.CONFIRMED
    assert rows[0].contact_key == "p7@capacity.example.org"
