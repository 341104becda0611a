"""Helpers for tests that drive the real thing: a fresh database, a server (in a thread or as
a `heard` process), a worker process, and people walking the real sign-up pages over HTTP.

These tests commit for real, so each gets a database of its own (a temp SQLite file, or a new
PostgreSQL database created and dropped after), never the shared test database.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from app.cli import upgrade_database
from app.db import make_engine
from app.models import SignUp
from bench.run import Person, Timings
from tests.conftest import PG_URL, build_workshop, require

TIMEOUT = 60.0  # seconds: every request, every barrier, every thread join
HEARD = Path(sys.executable).with_name("heard")


# --- a fresh database --------------------------------------------------------------------


def _admin_engine(url: str) -> Engine:
    return make_engine(url, isolation_level="AUTOCOMMIT")


def _drop_database(admin_url: str, name: str) -> None:
    admin = _admin_engine(admin_url)
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        admin.dispose()


@contextmanager
def fresh_database(backend: str, folder: Path, prefix: str = "heard_live") -> Iterator[str]:
    """A new, migrated database of its own; its URL. PostgreSQL's is dropped afterwards.

    Without PostgreSQL the test is skipped, or fails under HEARD_REQUIRE_ALL=1.
    """
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'heard.db'}"
        upgrade_database(url)
        yield url
        return
    if not PG_URL:
        require("PostgreSQL", "HEARD_TEST_DATABASE_URL is not set")
    assert PG_URL
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = _admin_engine(PG_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        require("PostgreSQL", f"no database could be created ({type(exc).__name__}: {first_line})")
    finally:
        admin.dispose()
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade_database(url)
        yield url
    finally:
        _drop_database(PG_URL, name)


def add_workshop(database_url: str, **overrides: object) -> tuple[int, str]:
    """A published workshop open for sign-up (see conftest.build_workshop): (id, slug)."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            workshop = build_workshop(session, datetime.now(UTC), **overrides)
            session.commit()
            assert workshop.id is not None
            return workshop.id, workshop.slug
    finally:
        engine.dispose()


def sign_ups(database_url: str, workshop_id: int) -> list[SignUp]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return list(
                session.exec(
                    select(SignUp).where(SignUp.workshop_id == workshop_id).order_by(col(SignUp.id))
                )
            )
    finally:
        engine.dispose()


# --- servers and workers -----------------------------------------------------------------


def wait_until_up(url: str, alive: Callable[[], bool], seconds: float = 30) -> None:
    """Wait for `url` to answer 200; fail at once if the server stops (`alive()` false)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive():
            pytest.fail("the server stopped while starting (see the log above)")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    pytest.fail(f"the server did not answer {url} within {seconds:.0f} seconds")


def heard_env(database_url: str, folder: Path, **settings: str) -> dict[str, str]:
    """The environment for a `heard` process: test settings on this database, mail to files
    in folder/mail, and only the HEARD_* variables given here (none leak in from outside)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEARD_")}
    env.update(
        HEARD_ENV="test",
        HEARD_DATABASE_URL=database_url,
        HEARD_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
        HEARD_MAIL_DIR=str(folder / "mail"),
    )
    env.update({f"HEARD_{name.upper()}": value for name, value in settings.items()})
    return env


def start_heard(args: list[str], env: dict[str, str], folder: Path) -> subprocess.Popen[bytes]:
    """`heard ARGS` as a process of its own (its own session, so a kill reaches only it),
    run in `folder` and logging to folder/<command>.log."""
    log = (folder / f"{args[0]}.log").open("ab")
    try:
        return subprocess.Popen(
            [str(HEARD), *args],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            # To a file: a full pipe would stall the process under test.
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """kill -9: no clean-up, no last commit, as when a machine loses power."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=TIMEOUT)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, and SIGKILL if it has not stopped within 15 s. Returns its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout=TIMEOUT)


# --- people ------------------------------------------------------------------------------


def new_person(base: str, n: int, timings: Timings) -> Person:
    someone = Person(base, n, timings)
    someone.client.timeout = httpx.Timeout(TIMEOUT)
    return someone


def walk_to_check(someone: Person, slug: str, n: int, domain: str = "capacity.example.org") -> None:
    """Every page of the real form, as bench/run.py's sign_up, up to "Check your answers"."""
    pages = f"/workshops/{slug}/sign-up"
    someone.request("GET name", "GET", f"{pages}/name", 200)
    someone.post("POST name", f"{pages}/name", {"display_name": f"Person {n}"})
    someone.post("POST age", f"{pages}/age", {"age_band": "16_17"})
    someone.post("POST contact", f"{pages}/contact", {"whose": "mine", "email": f"p{n}@{domain}"})
    someone.post("POST access", f"{pages}/access", {"access_needs": ""})
    someone.post("POST anything-else", f"{pages}/anything-else", {"anything_else": ""})
    someone.post("POST consent", f"{pages}/consent", {"agree": "yes"})
    someone.request("GET check", "GET", f"{pages}/check", 200)
