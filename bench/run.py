"""Workshop benchmarks against the real app: uvicorn on loopback, driven by httpx from threads.

    .venv/bin/python bench/run.py                      # SQLite (a fresh file under var/bench/)
    .venv/bin/python bench/run.py --pg postgresql://postgres@127.0.0.1:5432/heard_bench
    .venv/bin/python bench/run.py --both --pg postgresql://...   # SQLite, then PostgreSQL

Scenarios (see bench/README.md):
  sign-up: 200 people sign up within one minute for a 150-place workshop, every step of the
           real form (9 requests each). Expect 150 confirmed, 50 waiting, zero errors,
           p95 < 200 ms.
  join:    300 people join one workshop by code within one minute (5 requests each).
           Expect all 300 in the room, zero errors, p95 < 150 ms.

Each simulated person is its own browser (own cookies) and its own address: requests carry
X-Forwarded-For, which uvicorn trusts from loopback, so per-address rate limits apply per
person as they would in real life. The PostgreSQL database named with --pg is wiped first.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_SECONDS = 120  # each scenario gives up after this, whatever happens
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
TICKET = re.compile(r'name="ticket" value="([^"]+)"')


@dataclass
class Timings:
    samples: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.samples.append((name, seconds))

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    def p(self, q: float, name: str | None = None) -> float:
        values = sorted(s for n, s in self.samples if name is None or n == name)
        if not values:
            return 0.0
        return values[min(len(values) - 1, round(q * (len(values) - 1)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare_database(url: str) -> dict[str, str]:
    """Migrate, and add the two bench workshops. Returns their slugs and the join code."""
    from sqlalchemy import text
    from sqlmodel import Session

    from app.cli import upgrade_database
    from app.db import is_sqlite, make_engine
    from tests.conftest import build_workshop

    if not is_sqlite(url):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(url)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with Session(engine) as session:
        big = build_workshop(session, now, capacity=150, title="Bench: 150 places")
        today = build_workshop(
            session,
            now,
            capacity=300,
            title="Bench: joining today",
            starts_at=now + timedelta(minutes=5),
        )
        session.commit()
        result = {"signup_slug": big.slug, "join_slug": today.slug, "code": today.join_code or ""}
    engine.dispose()
    return result


def start_server(
    url: str, port: int, pool_size: int | None, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        HEARD_ENV="test",
        HEARD_DATABASE_URL=url,
        HEARD_SECRET_KEY="bench-secret-key-0123456789-0123456789-abcdef",  # noqa: S106
        HEARD_BASE_URL=f"http://127.0.0.1:{port}",
        HEARD_MAIL_DIR=str(ROOT / "var" / "bench" / "mail"),
    )
    if pool_size:
        env["HEARD_DATABASE_POOL_SIZE"] = str(pool_size)
    env.pop("HEARD_REDIS_URL", None)
    env.update(extra_env or {})
    log = (ROOT / "var" / "bench" / "server.log").open("ab")
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
        ],
        cwd=ROOT,
        env=env,
        # The app logs every request: to a file, so a full pipe can never stall the server.
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
    raise SystemExit("the server did not start")


class Person:
    def __init__(self, base: str, n: int, timings: Timings) -> None:
        self.client = httpx.Client(
            base_url=base,
            timeout=10,
            follow_redirects=False,
            headers={"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"},
        )
        self.timings = timings
        self.csrf = ""

    def request(
        self, name: str, method: str, path: str, expect: int, **kw: object
    ) -> httpx.Response:
        started = time.perf_counter()
        response = self.client.request(method, path, **kw)  # type: ignore[arg-type]
        self.timings.add(name, time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{name}: {response.status_code}")
        found = CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, name: str, path: str, data: dict[str, str], expect: int = 303) -> httpx.Response:
        return self.request(name, "POST", path, expect, data={**data, "csrf_token": self.csrf})


def sign_up(base: str, slug: str, n: int, timings: Timings) -> str:
    person = Person(base, n, timings)
    pages = f"/workshops/{slug}/sign-up"
    person.request("GET name", "GET", f"{pages}/name", 200)
    person.post("POST name", f"{pages}/name", {"display_name": f"Person {n}"})
    person.post("POST age", f"{pages}/age", {"age_band": "16_17"})
    person.post(
        "POST contact", f"{pages}/contact", {"whose": "mine", "email": f"p{n}@bench.example.org"}
    )
    person.post("POST access", f"{pages}/access", {"access_needs": ""})
    person.post("POST anything-else", f"{pages}/anything-else", {"anything_else": ""})
    person.post("POST consent", f"{pages}/consent", {"agree": "yes"})
    person.request("GET check", "GET", f"{pages}/check", 200)
    done = person.post("POST check (sign up)", f"{pages}/check", {})
    page = person.request("GET confirmation", "GET", done.headers["location"], 200)
    person.client.close()
    # The same page whether a place, the waiting list or already signed up (the database says).
    return "sent" if "Check your email" in page.text else "unexpected page"


def join(base: str, code: str, n: int, timings: Timings) -> str:
    person = Person(base, n, timings)
    person.request("GET /join", "GET", f"/join?code={code}", 200)
    first = person.post("POST /join", "/join", {"code": code.lower()})
    you = person.request("GET /join/you", "GET", first.headers["location"], 200)
    ticket = TICKET.search(you.text)
    assert ticket
    done = person.post(
        "POST /join/you",
        "/join/you",
        {"ticket": ticket.group(1), "display_name": f"Joiner {n}", "agree": "yes"},
    )
    person.request("GET room", "GET", done.headers["location"], 200)
    person.client.close()
    return "joined"


def run_people(work, count: int, spread: float, threads: int) -> tuple[Counter[str], float]:
    """Start `count` people evenly over `spread` seconds; at most `threads` at a time."""
    started = time.monotonic()
    results: Counter[str] = Counter()

    def one(n: int) -> str:
        delay = started + spread * n / count - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if time.monotonic() - started > MAX_SECONDS:
            return "gave up"
        try:
            return str(work(n))
        except Exception as exc:
            return f"error: {exc}"

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in pool.map(one, range(count)):
            results[result] += 1
    return results, time.monotonic() - started


def count_statuses(url: str, slug: str) -> Counter[str]:
    from sqlmodel import Session, select

    from app.db import make_engine
    from app.models import SignUp, Workshop

    engine = make_engine(url)
    with Session(engine) as session:
        workshop = session.exec(select(Workshop).where(Workshop.slug == slug)).one()
        rows = session.exec(select(SignUp.status).where(SignUp.workshop_id == workshop.id)).all()
    engine.dispose()
    return Counter(str(getattr(s, "value", s)) for s in rows)


def report(title: str, timings: Timings, results: Counter[str], elapsed: float) -> list[str]:
    names = sorted({n for n, _ in timings.samples})
    lines = [
        f"### {title}",
        "",
        f"- people: {sum(results.values())} in {elapsed:.1f} s; outcomes: {dict(results)}",
        f"- requests: {len(timings.samples)}; "
        f"p50 {timings.p(0.5):.0f} ms, p95 {timings.p(0.95):.0f} ms, "
        f"p99 {timings.p(0.99):.0f} ms, max {timings.p(1.0):.0f} ms",
        "",
        "| step | n | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        n = sum(1 for s, _ in timings.samples if s == name)
        lines.append(
            f"| {name} | {n} | {timings.p(0.5, name):.0f} | {timings.p(0.95, name):.0f} | "
            f"{timings.p(1.0, name):.0f} |"
        )
    return [*lines, ""]


def bench(url: str, label: str, args: argparse.Namespace) -> tuple[list[str], bool]:
    info = prepare_database(url)
    port = free_port()
    server = start_server(url, port, args.pool)
    base = f"http://127.0.0.1:{port}"
    ok = True
    lines = [f"## {label}", ""]
    try:
        timings = Timings()
        results, elapsed = run_people(
            lambda n: sign_up(base, info["signup_slug"], n, timings), 200, args.spread, args.threads
        )
        statuses = count_statuses(url, info["signup_slug"])
        lines += report("200 people sign up for a 150-place workshop", timings, results, elapsed)
        lines.append(f"- in the database: {dict(statuses)}")
        p95 = timings.p(0.95)
        passed = (
            statuses.get("confirmed") == 150
            and statuses.get("waiting") == 50
            and not any(k.startswith(("error", "gave up")) for k in results)
            and elapsed <= 60
            and p95 < 200
        )
        lines += [
            f"- **{'PASS' if passed else 'FAIL'}** "
            "(150/50, zero errors, within 60 s, p95 < 200 ms)",
            "",
        ]
        ok &= passed

        timings = Timings()
        results, elapsed = run_people(
            lambda n: join(base, info["code"], 1000 + n, timings), 300, args.spread, args.threads
        )
        lines += report("300 people join by code", timings, results, elapsed)
        p95 = timings.p(0.95)
        passed = results.get("joined") == 300 and elapsed <= 60 and p95 < 150
        lines += [
            f"- **{'PASS' if passed else 'FAIL'}** (all 300 in, within 60 s, p95 < 150 ms)",
            "",
        ]
        ok &= passed
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    return lines, ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pg", help="a PostgreSQL URL to use (its public schema is wiped)")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL (--pg)")
    parser.add_argument(
        "--spread", type=float, default=30.0, help="seconds over which people arrive"
    )
    parser.add_argument("--threads", type=int, default=32, help="people in flight at most")
    parser.add_argument(
        "--pool",
        type=int,
        default=40,
        help="PostgreSQL connections the server keeps open (HEARD_DATABASE_POOL_SIZE)",
    )
    args = parser.parse_args()
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    targets: list[tuple[str, str]] = []
    if not args.pg or args.both:
        db = folder / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        targets.append((f"sqlite:///{db}", "SQLite"))
    if args.pg:
        targets.append((args.pg, "PostgreSQL"))
    out = [
        f"### Bench run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'bench/run.py', *sys.argv[1:]])}`",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average before the run "
        f"{os.getloadavg()[0]:.1f}. Arrivals spread over {args.spread:.0f} s, at most "
        f"{args.threads} people in flight, PostgreSQL pool {args.pool or 'default'}.",
        "",
    ]
    print("\n".join(out), flush=True)
    all_ok = True
    for url, label in targets:
        lines, ok = bench(url, label, args)
        lines = [
            line.replace("## ", "#### ", 1) if line.startswith("#") else line for line in lines
        ]
        print("\n".join(lines), flush=True)
        out += lines
        all_ok &= ok
    out.append(f"Overall: **{'PASS' if all_ok else 'FAIL'}**")
    print(out[-1])
    write_results(out)
    sys.exit(0 if all_ok else 1)


LATEST_START = "<!-- latest run: written by bench/run.py -->"
LATEST_END = "<!-- end of latest run -->"


def write_results(lines: list[str]) -> None:
    """Put this run into bench/RESULTS.md between the markers; everything else stays."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Bench results\n"
    block = "\n".join([LATEST_START, "## Latest run", "", *lines, LATEST_END])
    if LATEST_START in text and LATEST_END in text:
        before, rest = text.split(LATEST_START, 1)
        after = rest.split(LATEST_END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
