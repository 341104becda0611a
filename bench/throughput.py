"""Requests per second of Heard's busiest pages against a bare Starlette app, in the same run.

    .venv/bin/python bench/throughput.py [--seconds 10] [--connections 50] [--profile]

Needs `wrk` (Debian: apt-get install wrk). Each server is one uvicorn process on loopback with
the same options; wrk uses one thread and 50 connections. Pages:
  home           /                               anonymous, new browser each time
  join           /join                           anonymous
  workshop       /workshops/<slug>               anonymous
  room           /workshops/<slug>/room          signed in after joining by code: a room of
                                                 100 people (each request the next person's
                                                 own cookie), and one phone's cookie on every
                                                 connection (its own row, for comparison)
Target: each at >= 15% of bare Starlette (aiming at 30%). Each page is measured in rounds, each
round a bare Starlette run and then the page's run, and the median round's share is what
counts: on a shared machine the load moves between runs. The server's CPU time per request
is shown too; its ratio hardly moves with the load. With --profile, py-spy samples the
Heard process during each page's run and the top costs are written beside the numbers.
Results go into bench/RESULTS.md ("Throughput").
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import TICKET, Person, Timings, free_port, prepare_database  # noqa: E402
from bench.sections import write_section  # noqa: E402

# People in the room for the signed-in page: each has their own cookie.
ROOM = 100

BARE_APP = """
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

async def home(request):
    return HTMLResponse("<!doctype html><title>Hello</title><p>Hello</p>")

app = Starlette(routes=[Route("/", home)])
"""


def start(args: list[str], env: dict[str, str], cwd: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "uvicorn",
            *args,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("a server did not start")


@dataclass
class Run:
    rate: float  # requests per second
    cpu_us: float  # the server's CPU time per request, in microseconds
    bad: int  # responses that were not 2xx or 3xx


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, seconds: int, connections: int, pid: int, cookie: str | list[str] | None = None
) -> Run:
    """One wrk run; with a list of cookies, each request is a different person in turn."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    if isinstance(cookie, list):
        command[1:1] = ["-s", str(_rotating_cookies(cookie))]
    elif cookie:
        command[1:1] = ["-H", f"Cookie: {cookie}"]
    before = cpu_seconds(pid)
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    used = cpu_seconds(pid) - before
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Run(rate, used / max(count, 1) * 1e6, int(bad.group(1)) if bad else 0)


def profile(pid: int, seconds: int) -> list[str]:
    """The functions where the Heard process spent most of its samples (py-spy)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return ["(py-spy not installed: pip install py-spy)"]
    raw = Path(tempfile.mkstemp(suffix=".txt")[1])
    subprocess.run(  # noqa: S603
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(seconds),
            "-f",
            "raw",
            "-o",
            str(raw),
            "-r",
            "200",
            "--nonblocking",
        ],
        capture_output=True,
        check=False,
    )
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        leaf = frames[-1]
        if "wait (threading" in leaf or "select (selectors" in leaf or "poll" in leaf:
            continue
        total += int(count)
        # Charge each sample to the innermost frame of Heard's own code, else the leaf.
        ours = [f for f in frames if "/app/" in f and "site-packages" not in f]
        own[(ours[-1] if ours else leaf).split(" (")[0] + " " + leaf.split(" (")[0]] += int(count)
    raw.unlink(missing_ok=True)
    return [f"{100 * n / max(total, 1):.0f}% {name}" for name, n in own.most_common(6)]


def _rotating_cookies(cookies: list[str]) -> Path:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    listed = ",\n".join(f'  "{c}"' for c in cookies)
    script.write_text(
        f"cookies = {{\n{listed}\n}}\n"
        "counter = 0\n"
        "request = function()\n"
        "  counter = counter + 1\n"
        '  return wrk.format("GET", nil, {["Cookie"] = cookies[(counter % #cookies) + 1]})\n'
        "end\n"
    )
    return script


def signed_in_participant(base: str, code: str, n: int = 7) -> tuple[str, str]:
    """Join by code as a real phone would; returns the cookie and the room's path."""
    person = Person(base, n, Timings())
    person.request("GET /join", "GET", f"/join?code={code}", 200)
    first = person.post("POST /join", "/join", {"code": code})
    you = person.request("GET /join/you", "GET", first.headers["location"], 200)
    ticket = TICKET.search(you.text)
    assert ticket
    done = person.post(
        "POST /join/you",
        "/join/you",
        {"ticket": ticket.group(1), "display_name": "Bench", "agree": "yes"},
    )
    cookie = f"heard_session={person.client.cookies.get('heard_session')}"
    return cookie, done.headers["location"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "throughput.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db}"
    info = prepare_database(url)
    env = dict(os.environ)
    env.pop("HEARD_REDIS_URL", None)
    env.update(
        HEARD_ENV="test",
        HEARD_DATABASE_URL=url,
        HEARD_SECRET_KEY="Bench-Secret-Key-0123456789-abcdefghijklmnopqrstuvwxyz",  # noqa: S106
        HEARD_SMTP_HOST="127.0.0.1",
        HEARD_BASE_URL="http://127.0.0.1",
        HEARD_FORWARDED_ALLOW_IPS="127.0.0.1",
    )
    bare_dir = Path(tempfile.mkdtemp())
    (bare_dir / "bare_app.py").write_text(BARE_APP)
    bare_port, heard_port = free_port(), free_port()
    bare = start(["bare_app:app"], env, bare_dir, bare_port)
    heard = start(["--factory", "app.main:build"], env, ROOT, heard_port)
    base = f"http://127.0.0.1:{heard_port}"
    rows: list[str] = []
    ok = True
    try:
        cookie, room = signed_in_participant(base, info["code"])
        # A room of people: each request is the next person's phone (their own cookie).
        room_of = [signed_in_participant(base, info["code"], 100 + i)[0] for i in range(ROOM)]
        pages: list[tuple[str, str, str | list[str] | None]] = [
            ("home", "/", None),
            ("join", "/join", None),
            ("workshop", f"/workshops/{info['join_slug']}", None),
            (f"room (signed in, {ROOM} people)", room, room_of),
            ("room (signed in, one phone on every connection)", room, cookie),
        ]
        time.sleep(1)
        # Rounds of (bare, page) pairs, so a change in the machine's load touches both sides of
        # each ratio alike; the median round is reported.
        rows += [
            "| page | requests/s (median) | share of bare Starlette (median of rounds) | "
            "CPU per request | bare's CPU per request / page's | non-2xx/3xx |",
            "|---|---|---|---|---|---|",
        ]
        profiles: list[str] = []
        bare_url = f"http://127.0.0.1:{bare_port}/"
        for name, path, page_cookie in pages:
            pairs: list[tuple[Run, Run]] = []
            for _ in range(args.rounds):
                bare_run = wrk(bare_url, args.seconds, args.connections, bare.pid)
                page_run = wrk(base + path, args.seconds, args.connections, heard.pid, page_cookie)
                pairs.append((bare_run, page_run))
            shares = sorted(p.rate / b.rate for b, p in pairs)
            cpu_shares = sorted(b.cpu_us / max(p.cpu_us, 1e-9) for b, p in pairs)
            share, cpu_share = median(shares), median(cpu_shares)
            rate = median([p.rate for _, p in pairs])
            cpu_us = median([p.cpu_us for _, p in pairs])
            bad = sum(p.bad for _, p in pairs)
            ok &= share >= 0.15 and bad == 0
            rows.append(
                f"| {name} | {rate:,.0f} | {share:.1%} ({', '.join(f'{x:.0%}' for x in shares)}) "
                f"| {cpu_us:.0f} µs | {cpu_share:.1%} | {bad} |"
            )
            if args.profile:
                from concurrent.futures import ThreadPoolExecutor

                spy = ThreadPoolExecutor(1).submit(profile, heard.pid, max(args.seconds - 2, 2))
                wrk(base + path, args.seconds, args.connections, heard.pid, page_cookie)
                profiles += [f"- {name}: " + "; ".join(spy.result())]
        bare_runs = [wrk(bare_url, args.seconds, args.connections, bare.pid) for _ in range(2)]
        rows.insert(
            2,
            f"| bare Starlette | {median([r.rate for r in bare_runs]):,.0f} | 100% | "
            f"{median([r.cpu_us for r in bare_runs]):.0f} µs | 100% | 0 |",
        )
    finally:
        for process in (bare, heard):
            process.terminate()
            process.wait(timeout=10)
    out = [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"`{' '.join(['.venv/bin/python', 'bench/throughput.py', *sys.argv[1:]])}`; "
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average before "
        f"{os.getloadavg()[0]:.1f}. One uvicorn process each (HEARD_ENV=test, SQLite), "
        f"wrk -t1 -c{args.connections} -d{args.seconds}s.",
        "",
        *rows,
        "",
        f"Target (every page >= 15% of bare Starlette, no errors): **{'PASS' if ok else 'FAIL'}**",
    ]
    if profiles:
        out += [
            "",
            "Where the Heard process spent its time (py-spy, top frames of our code):",
            *profiles,
        ]
    print("\n".join(out))
    write_section("Throughput", out)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
