"""Test fixtures: a migrated database per backend, a rollback per test, a client, a clock.

The suite runs on SQLite always, and again on PostgreSQL when HEARD_TEST_DATABASE_URL is
set. With HEARD_REQUIRE_ALL=1 (CI), a missing PostgreSQL, Redis or browser fails the run
instead of being skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from app.cli import upgrade_database
from app.config import Settings
from app.db import make_engine
from app.deps import get_now
from app.main import create_app
from app.ratelimit import RateLimits

REQUIRE_ALL = os.environ.get("HEARD_REQUIRE_ALL") == "1"
PG_URL = os.environ.get("HEARD_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HEARD_REDIS_URL")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FALLBACK = Path(__file__).resolve().parent / "fallback_fixtures"

os.environ.setdefault("HEARD_ENV", "test")


def require(what: str, why: str) -> None:
    """Skip a test for want of a service, or fail under HEARD_REQUIRE_ALL=1."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} is required (HEARD_REQUIRE_ALL=1) but {why}")
    pytest.skip(f"{what} not available: {why}")


def shared_fixture(name: str) -> Path:
    """A file from ../shared/fixtures, or the small copy under tests/ when it is absent."""
    path = SHARED / "fixtures" / name
    return path if path.exists() else FALLBACK / name


def hostile_strings() -> list[str]:
    """The hostile inputs every form is tried with (../shared/fixtures/hostile_inputs.json)."""
    import json

    inputs: list[str] = json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]
    return inputs


@pytest.fixture
def hostile_inputs() -> list[str]:
    return hostile_strings()


@pytest.fixture
def smtp(settings: Settings) -> Iterator[Any]:
    """A real SMTP server on loopback that the app's settings send to; yields its inbox."""
    from tests.smtp_server import smtp_server

    with smtp_server() as (inbox, port):
        settings.smtp_host = "127.0.0.1"
        settings.smtp_port = port
        settings.smtp_starttls = False
        yield inbox


BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL or REQUIRE_ALL else [])


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "postgresql":
        if not PG_URL:
            require("PostgreSQL", "HEARD_TEST_DATABASE_URL is not set")
        assert PG_URL
        try:
            _reset_postgres(PG_URL)
        except Exception as exc:
            require("PostgreSQL", f"it could not be reached ({type(exc).__name__})")
        url = PG_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'heard.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """One outer transaction per test, rolled back at the end: tests never see each other."""
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    if trans.is_active:
        trans.rollback()
    conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as s:
        yield s


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url="sqlite:///unused.db",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        mail_dir=tmp_path / "mail",
        upload_dir=tmp_path / "uploads",
        base_url="http://testserver",
    )


@pytest.fixture
def app(settings: Settings, connection: Connection, engine: Engine, clock: Clock) -> FastAPI:
    application = create_app(settings, engine=engine)

    def open_session(write: bool) -> Session:
        return Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )

    application.state.open_session = open_session
    application.state.rate_limits = RateLimits(None)
    application.dependency_overrides[get_now] = clock
    return application


class Client(TestClient):
    """A browser-like client: keeps cookies, and knows the page's CSRF token."""

    def csrf(self, path: str = "/") -> str:
        """The token a browser would send: the hidden field of the page's forms."""
        page = self.get(path)
        found = re.search(r'name="csrf_token" value="([^"]*)"', page.text) or re.search(
            r'name="csrf-token" content="([^"]*)"', page.text
        )
        assert found and found.group(1), f"no CSRF token on {path}"
        return found.group(1)

    def submit_raw(self, path: str, data: dict[str, str], *, page: str | None = None):  # type: ignore[no-untyped-def]
        """POST exactly these bytes, even ones a browser would not encode (lone surrogates)."""
        from urllib.parse import urlencode

        form = dict(data)
        form.setdefault("csrf_token", self.csrf(page or path))
        body = urlencode(form, encoding="utf-8", errors="surrogatepass")
        return self.post(
            path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )

    def submit(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        page: str | None = None,
        **kwargs: Any,
    ):  # type: ignore[no-untyped-def]
        """POST a form the way a browser would after loading `page` (default: the same path)."""
        form = dict(data or {})
        form.setdefault("csrf_token", self.csrf(page or path))
        return self.post(path, data=form, **kwargs)


@pytest.fixture
def client(app: FastAPI) -> Iterator[Client]:
    with Client(app, base_url="http://testserver", follow_redirects=False) as c:
        yield c


@pytest.fixture
def production_settings(tmp_path: Path) -> Settings:
    return Settings(
        env="production",
        secret_key="production-secret-for-tests-Qm3v8Xr2Lk9Tz4Wb7Nc1Hd6",
        smtp_host="smtp.heard.example.org",
        database_url="sqlite:///unused.db",
        mail_dir=tmp_path / "mail",
        base_url="https://heard.example.org",
    )


# --- workshops (issue 4) ---------------------------------------------------------------


def build_workshop(session: Session, now: datetime, **overrides: Any) -> Any:
    """A published workshop 10 days ahead, open for sign-up, with a join code."""
    from sqlmodel import select

    from app.models import Programme, Workshop, WorkshopMode, WorkshopStatus
    from app.services import workshops as workshop_service

    programme = session.exec(select(Programme).where(Programme.slug == "test-programme")).first()
    if programme is None:
        programme = Programme(slug="test-programme", title="Test programme", summary="For tests")
        session.add(programme)
        session.flush()
    starts = overrides.pop("starts_at", now + timedelta(days=10))
    title = overrides.pop("title", "Having your say")
    values: dict[str, Any] = {
        "programme_id": programme.id,
        "slug": workshop_service.unique_slug(session, title),
        "title": title,
        "description": "Two hours with other young people. We talk about what should change.",
        "audience": "young_people",
        "age_range": "13 to 17",
        "mode": WorkshopMode.IN_PERSON,
        "place": "The Hive, Leeds",
        "access_info": "Step-free entrance.",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "capacity": 10,
        "reserved_places": 0,
        "sign_up_opens_at": now - timedelta(days=1),
        "sign_up_closes_at": None,
        "status": WorkshopStatus.PUBLISHED,
        "join_code": workshop_service.unique_code(session),
        "created_at": now,
    }
    values.update(overrides)
    workshop = Workshop(**values)
    session.add(workshop)
    session.flush()
    return workshop


@pytest.fixture
def make_workshop(session: Session, clock: Clock) -> Any:
    def make(**overrides: Any) -> Any:
        workshop = build_workshop(session, clock.now, **overrides)
        session.commit()
        return workshop

    return make
