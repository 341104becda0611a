"""A room at once (issue 8), short version: the real `heard serve` process, on SQLite and
PostgreSQL, with every request of a burst leaving at the same moment (bench/burst.py is the
full version: 300 GETs, then 500 GETs with 220 sign-up presses).

- 150 simultaneous GETs of a workshop page: every one answered 200, none waits 30 s, and
  /healthz answers within a second throughout.
- 150 GETs with 60 final "Sign up" presses (40 people, 20 of them pressing twice) for a
  25-place workshop: no 500s and no unanswered requests; every acknowledged sign-up stored,
  no duplicates, capacity exact.
- A tiny in-flight bound with a short wait: the overflow gets the kind 503 page with
  Retry-After at once, never a stall.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bench.rawhttp import Reply, percentile, request
from bench.run import Timings
from tests.conftest import BACKENDS
from tests.live_processes import (
    add_workshop,
    fresh_database,
    heard_env,
    new_person,
    sign_ups,
    start_heard,
    stop,
    wait_until_up,
    walk_to_check,
)

COOKIE = "heard_session"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    def start(**settings: str):  # type: ignore[no-untyped-def]
        port = _free_port()
        env = heard_env(url, tmp_path, form_rate_per_ip="100000/minute", **settings)
        process = start_heard(["serve", "--port", str(port)], env, tmp_path)
        started.append(process)
        wait_until_up(f"http://127.0.0.1:{port}/healthz", lambda: process.poll() is None)
        return port

    started: list = []
    with fresh_database(request.param, tmp_path, prefix="heard_burst") as url:
        yield url, start
        for process in started:
            stop(process)


async def _gets(port: int, path: str, count: int) -> tuple[list[Reply], list[float]]:
    go = asyncio.Event()
    health: list[float] = []
    finished = False

    async def probe() -> None:
        while not finished:
            reply = await request(port, "GET", "/healthz", timeout=10)
            health.append(reply.seconds if reply.status == 200 else 99.0)
            await asyncio.sleep(0.05)

    prober = asyncio.create_task(probe())
    calls = [asyncio.create_task(request(port, "GET", path, start=go)) for _ in range(count)]
    await asyncio.sleep(0.3)
    go.set()
    replies = list(await asyncio.gather(*calls))
    finished = True
    await prober
    return replies, health


def test_a_burst_of_page_views_is_served_and_health_stays_quick(server) -> None:  # type: ignore[no-untyped-def]
    url, start = server
    _, slug = add_workshop(url, capacity=30)
    port = start(read_cache_seconds="0")  # the request path itself, without the cache
    replies, health = asyncio.run(_gets(port, f"/workshops/{slug}", 150))
    assert Counter(r.status for r in replies) == {200: 150}
    assert max(r.seconds for r in replies) < 20
    assert len(health) >= 3 and max(health) < 1.0, health


def test_page_views_and_sign_up_presses_at_once_lose_nothing(server) -> None:  # type: ignore[no-untyped-def]
    url, start = server
    workshop_id, slug = add_workshop(url, capacity=25)
    port = start()
    base = f"http://127.0.0.1:{port}"

    def ready(n: int) -> tuple[str, str]:
        someone = new_person(base, 300 + n, Timings())
        walk_to_check(someone, slug, n, domain="burst.example.org")
        cookie = someone.client.cookies.get(COOKIE) or ""
        someone.client.close()
        return cookie, someone.csrf

    with ThreadPoolExecutor(max_workers=6) as pool:
        people = list(pool.map(ready, range(40)))

    async def everyone() -> tuple[list[Reply], list[tuple[int, Reply]]]:
        go = asyncio.Event()
        presses = []
        for n, (cookie, csrf) in enumerate(people):
            for _ in range(2 if n < 20 else 1):
                headers = {
                    "Cookie": f"{COOKIE}={cookie}",
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Origin": base,
                    "X-Forwarded-For": f"10.8.0.{n}",
                }
                body = urlencode({"csrf_token": csrf}).encode()
                press = request(
                    port,
                    "POST",
                    f"/workshops/{slug}/sign-up/check",
                    headers=headers,
                    body=body,
                    start=go,
                )
                presses.append((n, asyncio.create_task(press)))
        reads = [
            asyncio.create_task(request(port, "GET", f"/workshops/{slug}", start=go))
            for _ in range(150)
        ]
        await asyncio.sleep(0.5)
        go.set()
        return list(await asyncio.gather(*reads)), [(n, await task) for n, task in presses]

    read, pressed = asyncio.run(everyone())
    assert not [r for r in read if r.status in {0, 500}]
    assert not [r for _, r in pressed if r.status in {0, 500}], Counter(
        r.status for _, r in pressed
    )
    acknowledged = {n for n, r in pressed if r.status == 303}
    rows = sign_ups(url, workshop_id)
    assert len(rows) == len(acknowledged) == len({row.contact_email for row in rows})
    statuses = Counter(str(getattr(r.status, "value", r.status)) for r in rows)
    assert statuses["confirmed"] == min(25, len(rows))
    assert statuses.get("waiting", 0) == max(0, len(rows) - 25)
    assert percentile([r.seconds for r in read], 0.95) < 20


def test_past_the_bound_people_are_told_kindly_to_try_again_at_once(server) -> None:  # type: ignore[no-untyped-def]
    url, start = server
    _, slug = add_workshop(url)
    port = start(
        max_requests_in_flight="1",
        request_queue_seconds="0.05",
        request_queue_max="2",
        read_cache_seconds="0",
    )
    replies, health = asyncio.run(_gets(port, f"/workshops/{slug}", 60))
    statuses = Counter(r.status for r in replies)
    assert statuses[200] >= 1 and statuses[503] >= 1
    assert set(statuses) <= {200, 503}
    busy = next(r for r in replies if r.status == 503)
    assert busy.headers["retry-after"] == "5"
    assert b"Lots of people are joining right now" in busy.body
    assert max(r.seconds for r in replies if r.status == 503) < 5
    assert max(health) < 1.0
