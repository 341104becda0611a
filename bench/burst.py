"""Bursts: everyone in a room pressing at the same moment, against one real server process.

    .venv/bin/python bench/burst.py                       # SQLite
    .venv/bin/python bench/burst.py --pg postgresql://postgres@127.0.0.1:5432/heard_bench
    .venv/bin/python bench/burst.py --both --pg URL       # SQLite, then PostgreSQL

Scenarios (each connection is opened first, then every request leaves at the same moment):
  gets:   300 GETs of one workshop page at once, with /healthz asked every 100 ms throughout.
          Pass: all 300 answered 200, p95 <= 3 s, /healthz always <= 1 s.
  mixed:  500 GETs and 200 final "Sign up" presses (plus 20 presses repeated at the same
          moment: double taps) for a 150-place workshop, all at once.
          Pass: no 500s and no unanswered requests; every acknowledged sign-up stored, exactly
          150 confirmed and 50 waiting, no duplicates.
Both run with the read cache on (the default) and off (HEARD_READ_CACHE_SECONDS=0), so the
request path is shown to hold without it. Results go into bench/RESULTS.md ("Bursts").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.rawhttp import Reply, percentile, request  # noqa: E402
from bench.run import (  # noqa: E402
    Person,
    Timings,
    count_statuses,
    free_port,
    prepare_database,
    start_server,
)
from bench.sections import write_section  # noqa: E402

COOKIE = "heard_session"


async def burst_gets(port: int, path: str, count: int) -> tuple[list[Reply], list[float]]:
    start = asyncio.Event()
    health: list[float] = []
    done = False

    async def probe() -> None:
        while not done:
            reply = await request(port, "GET", "/healthz", timeout=10)
            health.append(reply.seconds if reply.status == 200 else 99.0)
            await asyncio.sleep(0.1)

    prober = asyncio.create_task(probe())
    tasks = [
        asyncio.create_task(request(port, "GET", path, start=start, timeout=60))
        for _ in range(count)
    ]
    await asyncio.sleep(0.5)  # every connection open
    start.set()
    replies = list(await asyncio.gather(*tasks))
    await asyncio.sleep(0.3)
    done = True
    await prober
    return replies, health


def prepare_sign_ups(port: int, slug: str, count: int) -> list[tuple[str, str]]:
    """Take `count` people through every question up to "Check your answers" (not timed).

    Returns each person's cookie and CSRF token, ready for the final press.
    """
    base = f"http://127.0.0.1:{port}"
    pages = f"/workshops/{slug}/sign-up"

    def one(n: int) -> tuple[str, str]:
        person = Person(base, 5000 + n, Timings())
        person.request("GET name", "GET", f"{pages}/name", 200)
        person.post("POST name", f"{pages}/name", {"display_name": f"Burst {n}"})
        person.post("POST age", f"{pages}/age", {"age_band": "16_17"})
        person.post(
            "POST contact",
            f"{pages}/contact",
            {"whose": "mine", "email": f"burst{n}@bench.example.org"},
        )
        person.post("POST access", f"{pages}/access", {"access_needs": ""})
        person.post("POST anything-else", f"{pages}/anything-else", {"anything_else": ""})
        person.post("POST consent", f"{pages}/consent", {"agree": "yes"})
        person.request("GET check", "GET", f"{pages}/check", 200)
        cookie = person.client.cookies.get(COOKIE) or ""
        person.client.close()
        return cookie, person.csrf

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


async def burst_mixed(
    port: int, slug: str, people: list[tuple[str, str]], gets: int, repeats: int
) -> tuple[list[Reply], list[tuple[int, Reply]]]:
    start = asyncio.Event()
    path = f"/workshops/{slug}/sign-up/check"
    presses: list[tuple[int, asyncio.Task[Reply]]] = []
    for n, (cookie, csrf) in enumerate(people):
        for _ in range(2 if n < repeats else 1):
            body = urlencode({"csrf_token": csrf}).encode()
            headers = {
                "Cookie": f"{COOKIE}={cookie}",
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": f"http://127.0.0.1:{port}",
                "X-Forwarded-For": f"10.9.{n // 256}.{n % 256}",
            }
            task = asyncio.create_task(
                request(port, "POST", path, headers=headers, body=body, start=start)
            )
            presses.append((n, task))
    readers = [
        asyncio.create_task(request(port, "GET", f"/workshops/{slug}", start=start))
        for _ in range(gets)
    ]
    await asyncio.sleep(0.8)
    start.set()
    read = list(await asyncio.gather(*readers))
    pressed = [(n, await task) for n, task in presses]
    return read, pressed


def summarise(label: str, replies: list[Reply]) -> str:
    statuses = Counter(r.status for r in replies)
    times = [r.seconds for r in replies]
    return (
        f"{label}: {len(replies)} requests, statuses {dict(sorted(statuses.items()))}; "
        f"p50 {percentile(times, 0.5) * 1000:.0f} ms, p95 {percentile(times, 0.95) * 1000:.0f} ms, "
        f"max {max(times, default=0) * 1000:.0f} ms"
    )


def run_one(url: str, label: str, cache: bool) -> tuple[list[str], bool]:
    info = prepare_database(url)
    port = free_port()
    env = {"HEARD_READ_CACHE_SECONDS": "2" if cache else "0"}
    server = start_server(url, port, None, env)
    lines = [f"#### {label}, read cache {'on' if cache else 'off'}", ""]
    ok = True
    try:
        replies, health = asyncio.run(burst_gets(port, f"/workshops/{info['signup_slug']}", 300))
        times = [r.seconds for r in replies]
        passed = (
            all(r.status == 200 for r in replies)
            and percentile(times, 0.95) <= 3
            and max(health, default=0) <= 1
        )
        lines += [
            "- 300 GETs of a workshop page at once. " + summarise("GET", replies),
            f"  - /healthz asked {len(health)} times during the burst: max "
            f"{max(health, default=0) * 1000:.0f} ms. **{'PASS' if passed else 'FAIL'}**",
        ]
        ok &= passed

        people = prepare_sign_ups(port, info["signup_slug"], 200)
        read, pressed = asyncio.run(burst_mixed(port, info["signup_slug"], people, 500, 20))
        statuses = count_statuses(url, info["signup_slug"])
        acknowledged = {n for n, r in pressed if r.status == 303}
        press_statuses = Counter(r.status for _, r in pressed)
        stored = sum(statuses.values())
        passed = (
            not any(r.status in {0, 500} for r in read)
            and not any(r.status in {0, 500} for _, r in pressed)
            and stored == len(acknowledged)
            and statuses.get("confirmed") == min(150, stored)
            and statuses.get("waiting", 0) == max(0, stored - 150)
        )
        lines += [
            "- 500 GETs and 220 sign-up presses (200 people, 20 of them twice) at once.",
            "  - " + summarise("GET", read),
            "  - "
            + summarise("Sign up", [r for _, r in pressed])
            + f"; press statuses {dict(sorted(press_statuses.items()))}",
            f"  - people acknowledged: {len(acknowledged)}; rows stored: {stored} "
            f"({dict(statuses)}). **{'PASS' if passed else 'FAIL'}**",
            "",
        ]
        ok &= passed
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except Exception:
            server.kill()
    return lines, ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pg", help="a PostgreSQL URL to use (its public schema is wiped)")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL (--pg)")
    args = parser.parse_args()
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[str, str]] = []
    if not args.pg or args.both:
        targets.append(("sqlite", "SQLite"))
    if args.pg:
        targets.append((args.pg, "PostgreSQL"))
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"`{' '.join(['.venv/bin/python', 'bench/burst.py', *sys.argv[1:]])}`; "
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average before "
        f"{os.getloadavg()[0]:.1f}; one server process (uvicorn), the client in one process.",
        "",
    ]
    all_ok = True
    started = time.monotonic()
    for url, label in targets:
        for cache in (True, False):
            if url == "sqlite":
                db = folder / "burst.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                target = f"sqlite:///{db}"
            else:
                target = url
            lines, ok = run_one(target, label, cache)
            print("\n".join(lines), flush=True)
            out += lines
            all_ok &= ok
    out.append(
        f"Overall: **{'PASS' if all_ok else 'FAIL'}** in {time.monotonic() - started:.0f} s; "
        f"load average after {os.getloadavg()[0]:.1f}."
    )
    print(out[-1])
    write_section("Bursts", out)
    sys.exit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
