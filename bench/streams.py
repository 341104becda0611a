"""Live streams: 300 open event streams, the memory they take and how fast an event reaches them.

    .venv/bin/python bench/streams.py                    # SQLite, one process
    .venv/bin/python bench/streams.py --pg postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis redis://127.0.0.1:6379/0                 # and PostgreSQL + Redis, two processes

What it does, on loopback only, bounded in time (each scenario gives up after 180 s):

1. A fresh database (a SQLite file under var/bench/, or a new PostgreSQL database created on
   the server named by --pg and dropped afterwards) with ROUNDS workshops that start in an
   hour, the same 300 participants in each room (each with a signed-in session of their own)
   and one admin.
2. The real app under uvicorn (`app.main:build`): one process on SQLite; on PostgreSQL two
   processes sharing events through Redis, each holding half the listeners.
3. Each round, 300 listeners open the room's event stream (raw asyncio sockets, each its own
   browser session and X-Forwarded-For address), the admin presses "Start the workshop now"
   (a real POST, on the first process), and each listener notes when the room's
   "has started" fragment arrives. Time is measured from just before the POST is sent, so
   it includes the request and its commit.
4. Memory per stream: the servers' resident memory with 300 streams open, less what it was
   before they opened (after a warm-up), divided by 300.

The result is appended to bench/RESULTS.md as "## Live streams" (replacing an earlier one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LISTENERS = 300
ROUNDS = 5
SCENARIO_SECONDS = 180
ROUND_SECONDS = 15
TARGET_SECONDS = 1.0
SECRET = "bench-streams-secret-0123456789-0123456789-abcdef"  # noqa: S105
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@dataclass
class World:
    slugs: list[str]
    ids: list[int]
    tokens: list[str]  # one browser session per listener
    admin_token: str


@dataclass
class Result:
    label: str
    processes: int
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    opened: int = 0
    refused: int = 0
    all_received: list[float] = field(default_factory=list)  # per round: the last listener
    latencies: list[float] = field(default_factory=list)  # every listener, every round
    missed: int = 0
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def per_stream_kb(self) -> float:
        return (self.rss_after_kb - self.rss_before_kb) / max(self.opened, 1)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# --- the database ----------------------------------------------------------------------------


def prepare(url: str) -> World:
    from sqlmodel import Session

    from app.cli import upgrade_database
    from app.db import make_engine
    from app.models import Role, WorkshopAttendance
    from app.security import new_token
    from app.services import identity, rooms
    from app.services import staff as staff_service
    from tests.conftest import build_workshop

    upgrade_database(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        workshops = [
            build_workshop(
                session,
                now,
                title=f"Bench: live room {n}",
                capacity=LISTENERS,
                starts_at=now + timedelta(hours=1),
            )
            for n in range(ROUNDS)
        ]
        people = [
            rooms.enter(
                session,
                workshops[0],
                rooms.JoinForm(display_name=f"Listener {n}", agree=["yes"]),
                now,
                None,
            )
            for n in range(LISTENERS)
        ]
        for workshop in workshops[1:]:
            for person in people:
                session.add(
                    WorkshopAttendance(
                        workshop_id=workshop.id, participant_id=person.id, joined_at=now
                    )
                )
        tokens = []
        for person in people:
            token = new_token()
            identity.start_session(session, token, now, timedelta(days=1), participant=person)
            tokens.append(token)
        admin = staff_service.create_or_update(
            session, "bench-admin@heard.example.org", [Role.ADMIN], display_name="Bench admin"
        )
        admin_token = new_token()
        identity.start_session(session, admin_token, now, timedelta(hours=2), staff=admin)
        session.commit()
        world = World(
            [w.slug for w in workshops], [w.id or 0 for w in workshops], tokens, admin_token
        )
    engine.dispose()
    return world


def create_pg_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from app.db import make_engine

    name = f"heard_bench_streams_{secrets.token_hex(3)}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(admin_url: str, name: str) -> None:
    from sqlalchemy import text

    from app.db import make_engine

    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
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


# --- the servers -----------------------------------------------------------------------------


def start_server(url: str, port: int, redis_url: str | None, processes: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARD_")}
    env.update(
        HEARD_ENV="test",
        HEARD_DATABASE_URL=url,
        HEARD_SECRET_KEY=SECRET,
        HEARD_BASE_URL=f"http://127.0.0.1:{port}",
        HEARD_MAIL_DIR=str(ROOT / "var" / "bench" / "mail"),
        HEARD_WEB_WORKERS=str(processes),
    )
    if redis_url:
        env["HEARD_REDIS_URL"] = redis_url
    log = (ROOT / "var" / "bench" / "streams-server.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:build",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--proxy-headers",
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "3",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start (see var/bench/streams-server.log)")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


# --- the listeners ---------------------------------------------------------------------------


class Listener:
    def __init__(self, n: int, port: int, slug: str, token: str) -> None:
        self.n = n
        self.port = port
        self.path = f"/live/workshops/{slug}/room?state=soon"
        self.token = token
        self.ready = asyncio.Event()
        self.started_at: float | None = None
        self.status = 0
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        address = f"10.{self.n // 65536 % 256}.{self.n // 256 % 256}.{self.n % 256}"
        writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Cookie: heard_session={self.token}\r\nX-Forwarded-For: {address}\r\n"
                "Accept: text/event-stream\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 200:
            writer.close()
            self.ready.set()
            return
        self.task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        seen = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            seen = (seen + chunk)[-4096:]
            if b"event: live" in seen:
                self.ready.set()
            if self.started_at is None and b"event: room-status" in seen:
                self.started_at = now

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.writer:
            self.writer.close()


async def open_all(listeners: list[Listener]) -> None:
    gate = asyncio.Semaphore(50)

    async def one(listener: Listener) -> None:
        async with gate:
            await listener.open()
            await asyncio.wait_for(listener.ready.wait(), 30)

    await asyncio.gather(*(one(listener) for listener in listeners))


async def press_start(port: int, world: World, workshop_id: int) -> float:
    cookies = {"heard_session": world.admin_token}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", cookies=cookies, timeout=10
    ) as client:
        page = await client.get(f"/staff/workshops/{workshop_id}")
        found = CSRF.search(page.text)
        assert found, page.status_code
        token = found.group(1)
        started = time.perf_counter()
        pressed = await client.post(
            f"/staff/workshops/{workshop_id}/start", data={"csrf_token": token}
        )
        assert pressed.status_code == 303, pressed.status_code
        return started


async def run_scenario(result: Result, world: World, ports: list[int], pids: list[int]) -> None:
    # Warm up: templates compiled, code paths imported, on every process.
    for port in ports:
        warm = Listener(LISTENERS, port, world.slugs[0], world.tokens[0])
        await warm.open()
        await asyncio.wait_for(warm.ready.wait(), 10)
        await warm.close()
    await asyncio.sleep(1)
    for round_number in range(ROUNDS):
        listeners = [
            Listener(n, ports[n % len(ports)], world.slugs[round_number], world.tokens[n])
            for n in range(LISTENERS)
        ]
        if round_number == 0:
            result.rss_before_kb = sum(rss_kb(pid) for pid in pids)
        await open_all(listeners)
        result.opened = sum(1 for listener in listeners if listener.status == 200)
        result.refused = LISTENERS - result.opened
        if round_number == 0:
            await asyncio.sleep(2)
            result.rss_after_kb = sum(rss_kb(pid) for pid in pids)
        started = await press_start(ports[0], world, world.ids[round_number])
        deadline = time.perf_counter() + ROUND_SECONDS
        while time.perf_counter() < deadline:
            if all(listener.started_at is not None for listener in listeners):
                break
            await asyncio.sleep(0.01)
        got = [listener.started_at - started for listener in listeners if listener.started_at]
        result.latencies += got
        result.missed += LISTENERS - len(got)
        if got:
            result.all_received.append(max(got))
        for listener in listeners:
            await listener.close()
        await asyncio.sleep(1)


def scenario(label: str, url: str, redis_url: str | None, processes: int) -> Result:
    result = Result(label, processes)
    world = prepare(url)
    ports = [free_port() for _ in range(processes)]
    servers = [start_server(url, port, redis_url, processes) for port in ports]
    result.load = (os.getloadavg()[0], 0.0)
    try:
        asyncio.run(
            asyncio.wait_for(
                run_scenario(result, world, ports, [s.pid for s in servers]), SCENARIO_SECONDS
            )
        )
    except TimeoutError:
        result.notes.append(f"gave up after {SCENARIO_SECONDS} s")
    finally:
        result.load = (result.load[0], os.getloadavg()[0])
        for server in servers:
            stop(server)
    return result


# --- the report ------------------------------------------------------------------------------


def report(results: list[Result], command: str) -> list[str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Live streams",
        "",
        f"Run {stamp} with `{command}` on this machine ({os.cpu_count()} cores, shared). "
        f"{LISTENERS} listeners (raw asyncio sockets in the bench process, on the same "
        f"cores), {ROUNDS} rounds: each round the admin presses Start on a workshop whose "
        "room all 300 have open; time from just before that POST to each listener receiving "
        "the room's new fragment. Target: p95 of the time until all 300 have it <= 1 s.",
        "",
        "| setup | load avg (start, end) | streams open | memory per stream | "
        "p50 / p95 / max to one listener | all 300 received, per round (p95) | missed | pass |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rounds = ", ".join(f"{v * 1000:.0f}" for v in r.all_received)
        passed = (
            r.missed == 0
            and r.refused == 0
            and len(r.all_received) == ROUNDS
            and pct(r.all_received, 0.95) <= TARGET_SECONDS
        )
        lines.append(
            f"| {r.label} | {r.load[0]:.2f}, {r.load[1]:.2f} | {r.opened} | "
            f"{r.per_stream_kb:.1f} KB ({(r.rss_after_kb - r.rss_before_kb) / 1024:.1f} MB "
            f"for {r.opened}) | {pct(r.latencies, 0.5) * 1000:.0f} / "
            f"{pct(r.latencies, 0.95) * 1000:.0f} / {max(r.latencies, default=0) * 1000:.0f} ms"
            f" | {rounds} ms ({pct(r.all_received, 0.95) * 1000:.0f} ms) | {r.missed} | "
            f"{'**PASS**' if passed else '**FAIL**'} |"
        )
        lines += [f"- {r.label}: {note}" for note in r.notes]
    lines.append("")
    return lines


def write_results(lines: list[str]) -> None:
    """Append the section at the end of bench/RESULTS.md, replacing an earlier one."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Bench results\n"
    start = text.find("\n## Live streams\n")
    if start != -1:
        rest = text.find("\n## ", start + 1)
        text = text[:start] + (text[rest:] if rest != -1 else "\n")
    path.write_text(text.rstrip("\n") + "\n\n" + "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pg", help="a PostgreSQL server (a database is created and dropped)")
    parser.add_argument("--redis", help="Redis for the two-process run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    results = []
    sqlite_file = ROOT / "var" / "bench" / f"streams-{secrets.token_hex(3)}.db"
    try:
        results.append(scenario("SQLite, 1 process", f"sqlite:///{sqlite_file}", None, 1))
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    if args.pg and args.redis:
        url, name = create_pg_database(args.pg)
        try:
            results.append(
                scenario("PostgreSQL + Redis, 2 processes (150 each)", url, args.redis, 2)
            )
        finally:
            drop_pg_database(args.pg, name)
    command = "python bench/streams.py" + (" --pg … --redis …" if args.pg and args.redis else "")
    lines = report(results, command)
    print("\n".join(lines))
    if not args.no_write:
        write_results(lines)


if __name__ == "__main__":
    main()
