"""Spaces: 300 participants posting in one pre-moderated space while 300 listeners stay
connected and two moderators approve.

    .venv/bin/python bench/spaces.py                     # SQLite, one process
    .venv/bin/python bench/spaces.py --pg postgresql://postgres@127.0.0.1:5432/postgres \\
        --redis redis://127.0.0.1:6379/0                 # and PostgreSQL + Redis, two processes

What it does, on loopback only, bounded in time (each scenario gives up after 300 s):

1. A fresh database (a SQLite file under var/bench/, or a new PostgreSQL database created on
   the server named by --pg and dropped afterwards): one workshop whose room holds 300
   participants (each with a signed-in session of their own), its pre-moderated space with
   one question, and two moderators.
2. The real app under uvicorn (`app.main:build`): one process on SQLite; on PostgreSQL two
   processes sharing events through Redis, each holding half the listeners and posters.
3. Every participant opens the thread's event stream (raw asyncio sockets, each its own
   address), then posts every 10 seconds for 2 minutes (their starts spread evenly): the
   thread's real form, a POST whose redirect names the stored post (acknowledged). The time
   to that redirect is the post latency.
4. Two moderators each load the queue and press "Share the posts you chose" for every post
   they see, then again (so they often choose the same posts: one decision each).
5. Each listener notes when each post arrives. From the approval (the post's decided_at,
   stamped by the server as the approving request began) to the last listener receiving it
   (its author excepted: they see their own post from the start) is the time to appear on
   every listener.
6. Afterwards, acknowledged posts against stored ones (lost, duplicated), and approved posts
   some listener never received.

The result is written to bench/RESULTS.md as "## Spaces" (bench/sections.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sections import write_section  # noqa: E402
from bench.streams import free_port, pct, stop  # noqa: E402

PEOPLE = 300
EVERY_SECONDS = 10.0
POSTING_SECONDS = 120.0
SCENARIO_SECONDS = 300
POST_TARGET_MS = 150
APPEAR_TARGET_S = 1.0
SECRET = "bench-spaces-secret-0123456789-0123456789-abcdefgh"  # noqa: S105
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
PICK = re.compile(r'name="pick" value="(\d+:\d+)"')
SENT = re.compile(r"sent=(\d+)")
ADDED = re.compile(r'hx-swap-oob="afterbegin:#posts-list">\s*<li id="post-(\d+)"')


def letters(n: int) -> str:
    """A number as letters: a display name with digits would make numbers look like names."""
    return str(n).translate(str.maketrans("0123456789", "abcdefghij")).capitalize()


@dataclass
class World:
    space_id: int
    thread_id: int
    warm_up_thread_id: int
    tokens: list[str]  # one browser session per participant
    moderator_tokens: list[str]


@dataclass
class Result:
    label: str
    processes: int
    opened: int = 0
    post_ms: list[float] = field(default_factory=list)
    post_errors: int = 0
    acknowledged: dict[int, int] = field(default_factory=dict)  # post id -> its author
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    approved: int = 0
    appear_s: list[float] = field(default_factory=list)
    not_everywhere: int = 0
    approve_presses: int = 0
    arrivals: list[dict[int, float]] = field(default_factory=list)  # per listener
    load: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)


# --- the database ----------------------------------------------------------------------------


def prepare(url: str) -> World:
    from sqlmodel import Session

    from app.cli import upgrade_database
    from app.db import make_engine
    from app.models import Role
    from app.security import new_token
    from app.services import identity, rooms, spaces_staff
    from app.services import staff as staff_service
    from app.services.identity import Identity
    from tests.conftest import build_workshop

    upgrade_database(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        workshop = build_workshop(
            session,
            now,
            title="Bench: a busy space",
            capacity=PEOPLE,
            starts_at=now + timedelta(minutes=20),
        )
        people = [
            rooms.enter(
                session,
                workshop,
                rooms.JoinForm(display_name=f"Ava {letters(n)}", agree=["yes"]),
                now,
                None,
            )
            for n in range(PEOPLE)
        ]
        tokens = []
        for person in people:
            token = new_token()
            identity.start_session(session, token, now, timedelta(days=1), participant=person)
            tokens.append(token)
        moderators = []
        for n in range(2):
            member = staff_service.create_or_update(
                session, f"bench-moderator{n}@heard.example.org", [Role.MODERATOR]
            )
            token = new_token()
            identity.start_session(session, token, now, timedelta(hours=2), staff=member)
            moderators.append(token)
        admin = staff_service.create_or_update(
            session, "bench-admin@heard.example.org", [Role.ADMIN]
        )
        who = Identity(staff=admin, roles={(Role.ADMIN, None)})
        space = spaces_staff.open_for_workshop(session, workshop, who, now)
        thread = spaces_staff.add_thread(
            session, space, "What would have made moving easier?", who, now
        )
        warm_up = spaces_staff.add_thread(session, space, "Warming up", who, now)
        session.commit()
        world = World(space.id or 0, thread.id or 0, warm_up.id or 0, tokens, moderators)
    engine.dispose()
    return world


def create_pg_database(admin_url: str) -> tuple[str, str]:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from app.db import make_engine

    name = f"heard_bench_spaces_{secrets.token_hex(3)}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_pg_database(admin_url: str, name: str) -> None:
    from bench.streams import drop_pg_database as drop

    drop(admin_url, name)


def stored_posts(url: str, thread_id: int) -> list[tuple[int, str, float | None]]:
    """(id, body, decided_at as a Unix time) of every post in the thread."""
    from sqlmodel import Session, col, select

    from app.db import make_engine
    from app.models import Post

    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(
            select(Post.id, Post.body, Post.decided_at, Post.state)
            .where(Post.thread_id == thread_id)
            .order_by(col(Post.id))
        ).all()
    engine.dispose()
    return [
        (pid or 0, body, at.timestamp() if at and state == "shared" else None)
        for pid, body, at, state in rows
    ]


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
    log = (ROOT / "var" / "bench" / "spaces-server.log").open("ab")
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
    raise SystemExit("the server did not start (see var/bench/spaces-server.log)")


# --- the people ------------------------------------------------------------------------------


def address(n: int) -> str:
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


class Listener:
    """One participant's open thread page: a raw event stream, noting when each post arrives."""

    def __init__(self, n: int, port: int, path: str, token: str) -> None:
        self.n = n
        self.port = port
        self.path = path
        self.token = token
        self.ready = asyncio.Event()
        self.status = 0
        self.arrived: dict[int, float] = {}
        self.ended = False  # the server ended the stream (a browser would reconnect)
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer = writer
        writer.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Cookie: heard_session={self.token}\r\nX-Forwarded-For: {address(self.n)}\r\n"
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
        buffer = ""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                self.ended = True
                return
            now = time.time()
            buffer += chunk.decode("utf-8", "replace")
            *frames, buffer = buffer.split("\n\n")
            for frame in frames:
                if "event: live" in frame:
                    self.ready.set()
                for found in ADDED.finditer(frame.replace("\ndata: ", "\n")):
                    self.arrived.setdefault(int(found.group(1)), now)

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.writer:
            self.writer.close()


async def poster(n: int, port: int, world: World, result: Result, until: float) -> None:
    url = f"/spaces/{world.space_id}/threads/{world.thread_id}"
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}",
        cookies={"heard_session": world.tokens[n]},
        headers={"X-Forwarded-For": address(n)},
        timeout=30,
    ) as client:
        page = await client.get(url)
        found = CSRF.search(page.text)
        assert found, page.status_code
        token = found.group(1)
        await asyncio.sleep(EVERY_SECONDS * n / PEOPLE)
        k = 0
        while time.monotonic() < until:
            k += 1
            body = f"Idea {k} of {n}: the same social worker for longer, please."
            started = time.perf_counter()
            try:
                response = await client.post(url, data={"csrf_token": token, "body": body})
            except httpx.HTTPError:
                result.post_errors += 1
            else:
                result.post_ms.append((time.perf_counter() - started) * 1000)
                sent = SENT.search(response.headers.get("location", ""))
                if response.status_code == 303 and sent:
                    result.acknowledged[int(sent.group(1))] = n
                else:
                    result.post_errors += 1
            await asyncio.sleep(max(0.0, EVERY_SECONDS - (time.perf_counter() - started)))


async def moderator(port: int, token: str, result: Result, until: float) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", cookies={"heard_session": token}, timeout=30
    ) as client:
        while time.monotonic() < until:
            page = await client.get("/moderation")
            picks = PICK.findall(page.text)
            found = CSRF.search(page.text)
            if picks and found:
                await client.post(
                    "/moderation/approve", data={"csrf_token": found.group(1), "pick": picks}
                )
                result.approve_presses += 1
            else:
                await asyncio.sleep(0.3)


async def warm_up(world: World, ports: list[int]) -> None:
    """One post through each process first (its screening model loads on the first post),
    in a thread of its own that is not measured."""
    url = f"/spaces/{world.space_id}/threads/{world.warm_up_thread_id}"
    for m, port in enumerate(ports):
        n = PEOPLE - 1 - m
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            cookies={"heard_session": world.tokens[n]},
            headers={"X-Forwarded-For": address(n)},
            timeout=60,
        ) as client:
            page = await client.get(url)
            found = CSRF.search(page.text)
            assert found, page.status_code
            await client.post(url, data={"csrf_token": found.group(1), "body": "Warming up."})


async def run_scenario(result: Result, world: World, ports: list[int]) -> None:
    await warm_up(world, ports)
    path = f"/live/spaces/{world.space_id}/threads/{world.thread_id}"
    listeners = [Listener(n, ports[n % len(ports)], path, world.tokens[n]) for n in range(PEOPLE)]
    gate = asyncio.Semaphore(50)

    async def open_one(listener: Listener) -> None:
        async with gate:
            await listener.open()
            await asyncio.wait_for(listener.ready.wait(), 30)

    await asyncio.gather(*(open_one(listener) for listener in listeners))
    result.opened = sum(1 for listener in listeners if listener.status == 200)
    posting_until = time.monotonic() + POSTING_SECONDS
    approving_until = posting_until + 20
    await asyncio.gather(
        *(poster(n, ports[n % len(ports)], world, result, posting_until) for n in range(PEOPLE)),
        *(
            moderator(ports[m % len(ports)], token, result, approving_until)
            for m, token in enumerate(world.moderator_tokens)
        ),
    )
    await asyncio.sleep(10)  # the last approvals reach everyone
    arrivals = [listener.arrived for listener in listeners if listener.status == 200]
    result.notes.append(f"{result.approve_presses} presses of 'Share the posts you chose'")
    ended = sum(1 for listener in listeners if listener.ended)
    if ended:
        result.notes.append(
            f"{ended} streams ended by the server before the end (fell too far behind; a "
            "browser reconnects and is sent the whole thread, this bench does not)"
        )
    result.arrivals = arrivals
    for listener in listeners:
        await listener.close()


def scenario(label: str, url: str, redis_url: str | None, processes: int) -> Result:
    result = Result(label, processes)
    world = prepare(url)
    ports = [free_port() for _ in range(processes)]
    servers = [start_server(url, port, redis_url, processes) for port in ports]
    load_start = os.getloadavg()[0]
    try:
        asyncio.run(asyncio.wait_for(run_scenario(result, world, ports), SCENARIO_SECONDS))
    except TimeoutError:
        result.notes.append(f"gave up after {SCENARIO_SECONDS} s")
    finally:
        result.load = (load_start, os.getloadavg()[0])
        for server in servers:
            stop(server)
    measure(result, url, world)
    return result


def measure(result: Result, url: str, world: World) -> None:
    rows = stored_posts(url, world.thread_id)
    ids = {pid for pid, _, _ in rows}
    bodies = [body for _, body, _ in rows]
    result.stored = len(rows)
    result.lost = len(set(result.acknowledged) - ids)
    result.duplicated = len(bodies) - len(set(bodies)) + len(ids - set(result.acknowledged))
    arrivals = result.arrivals
    for pid, _, decided in rows:
        if decided is None:
            continue
        result.approved += 1
        author = result.acknowledged.get(pid)
        times = [seen.get(pid) for n, seen in enumerate(arrivals) if n != author or author is None]
        if any(at is None for at in times):
            result.not_everywhere += 1
            continue
        result.appear_s.append(max(at for at in times if at is not None) - decided)


# --- the report ------------------------------------------------------------------------------


def report(results: list[Result], command: str) -> list[str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Run {stamp} with `{command}` on this machine ({os.cpu_count()} cores, shared with "
        f"other work; the load average is shown). {PEOPLE} participants in one "
        f"pre-moderated space, each posting every {EVERY_SECONDS:.0f} s for "
        f"{POSTING_SECONDS:.0f} s, all {PEOPLE} listening, two moderators approving; the "
        "clients run in the bench process on the same cores. Targets: no lost or duplicated "
        f"post, p95 post latency <= {POST_TARGET_MS} ms, p95 from approval to the last "
        f"listener <= {APPEAR_TARGET_S:.0f} s.",
        "",
        "| setup | load avg (start, end) | listeners | posts acknowledged / stored | lost | "
        "duplicated | post latency p50 / p95 / max | approved | approval to every listener "
        "p50 / p95 / max | not on every listener | pass |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        passed = (
            r.lost == 0
            and r.duplicated == 0
            and r.post_errors == 0
            and r.not_everywhere == 0
            and pct(r.post_ms, 0.95) <= POST_TARGET_MS
            and pct(r.appear_s, 0.95) <= APPEAR_TARGET_S
        )
        lines.append(
            f"| {r.label} | {r.load[0]:.2f}, {r.load[1]:.2f} | {r.opened} | "
            f"{len(r.acknowledged)} / {r.stored} | {r.lost} | {r.duplicated} | "
            f"{pct(r.post_ms, 0.5):.0f} / {pct(r.post_ms, 0.95):.0f} / "
            f"{max(r.post_ms, default=0):.0f} ms | {r.approved} | "
            f"{pct(r.appear_s, 0.5) * 1000:.0f} / {pct(r.appear_s, 0.95) * 1000:.0f} / "
            f"{max(r.appear_s, default=0) * 1000:.0f} ms | {r.not_everywhere} | "
            f"{'**PASS**' if passed else '**FAIL**'} |"
        )
        if r.post_errors:
            r.notes.append(f"{r.post_errors} posts not acknowledged (errors or timeouts)")
        lines += [f"- {r.label}: {note}" for note in r.notes]
    lines.append("")
    return lines


def main() -> None:
    global PEOPLE, POSTING_SECONDS
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pg", help="a PostgreSQL server (a database is created and dropped)")
    parser.add_argument("--redis", help="Redis for the two-process run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--people", type=int, default=PEOPLE, help="a smaller run, to try it")
    parser.add_argument("--seconds", type=float, default=POSTING_SECONDS)
    args = parser.parse_args()
    PEOPLE, POSTING_SECONDS = args.people, args.seconds
    (ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    results = []
    sqlite_file = ROOT / "var" / "bench" / f"spaces-{secrets.token_hex(3)}.db"
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
    command = "python bench/spaces.py" + (" --pg … --redis …" if args.pg and args.redis else "")
    lines = report(results, command)
    print("\n".join(lines))
    if not args.no_write:
        write_section("Spaces", lines)


if __name__ == "__main__":
    main()
