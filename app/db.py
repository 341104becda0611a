"""Database engine, the metadata naming convention and the unit of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, SQLModel, create_engine

from app.config import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata

SessionFactory = Callable[[bool], Session]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite forgets the zone, so put it back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Connections one `heard worker` holds at most (its claim and its send, one at a time each).
WORKER_CONNECTIONS = 2
# Connections a web process keeps beyond two per request in flight: the readiness check and
# the short read that authorises a live stream.
SPARE_CONNECTIONS = 4
# A request in flight may hold two: its unit of work and the touch of its browser's session.
CONNECTIONS_PER_REQUEST = 2
POOL_TIMEOUT_SECONDS = 10


class BudgetError(ValueError):
    """The connection budget can't work: a clear message for whoever starts Heard."""


@dataclass(frozen=True)
class Budget:
    pool_size: int  # connections this web process may hold
    in_flight: int  # requests let in at once


def connection_budget(settings: Settings) -> Budget:
    """Each web process's share of HEARD_DATABASE_MAX_CONNECTIONS, and what it lets in.

    PostgreSQL: (budget - 2 x background workers) / web workers connections per process, and
    (share - spare) / 2 requests in flight, at most 32. SQLite has no server to share, so the
    pool simply fits the requests in flight.
    """
    if is_sqlite(settings.database_url):
        in_flight = settings.max_requests_in_flight or 24
        return Budget(
            pool_size=in_flight * CONNECTIONS_PER_REQUEST + SPARE_CONNECTIONS, in_flight=in_flight
        )
    workers_take = WORKER_CONNECTIONS * max(settings.background_workers, 0)
    share = (settings.database_max_connections - workers_take) // max(settings.web_workers, 1)
    pool_size = settings.database_pool_size or share
    if pool_size * max(settings.web_workers, 1) + workers_take > settings.database_max_connections:
        raise BudgetError(
            f"HEARD_DATABASE_POOL_SIZE={pool_size} for {settings.web_workers} web process(es) "
            f"plus {workers_take} for workers is more than HEARD_DATABASE_MAX_CONNECTIONS="
            f"{settings.database_max_connections}."
        )
    if pool_size < SPARE_CONNECTIONS + CONNECTIONS_PER_REQUEST:
        raise BudgetError(
            f"HEARD_DATABASE_MAX_CONNECTIONS={settings.database_max_connections} leaves each of "
            f"{settings.web_workers} web process(es) only {pool_size} connection(s); each needs "
            f"at least {SPARE_CONNECTIONS + CONNECTIONS_PER_REQUEST}. Raise the budget or run "
            "fewer processes."
        )
    in_flight = settings.max_requests_in_flight or min(
        32, (pool_size - SPARE_CONNECTIONS) // CONNECTIONS_PER_REQUEST
    )
    return Budget(pool_size=pool_size, in_flight=max(in_flight, 1))


def check_server_allows(engine: Engine, settings: Settings) -> None:
    """Refuse to start when PostgreSQL allows fewer connections than the budget claims."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        allowed = int(conn.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(conn.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    usable = allowed - reserved
    if usable < settings.database_max_connections:
        raise BudgetError(
            f"HEARD_DATABASE_MAX_CONNECTIONS is {settings.database_max_connections}, but the "
            f"PostgreSQL server allows only {usable} ({allowed} max_connections minus {reserved} "
            "reserved for superusers). Lower HEARD_DATABASE_MAX_CONNECTIONS, or raise "
            "max_connections on the server."
        )


def make_engine(url: str, *, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """SQLite (one file, WAL) or PostgreSQL through psycopg 3.

    pool_size: connections this process may hold, all kept open (no overflow): the budget is
    what the deployment shares, so a burst queues at the door instead of opening more.
    """
    if pool_size:
        kwargs.setdefault("pool_size", pool_size)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", POOL_TIMEOUT_SECONDS)
    if is_sqlite(url):
        if ":memory:" in url:
            for key in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(key, None)
        _ensure_sqlite_folder(url)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and transactions SQLAlchemy controls itself.

    pysqlite's own transaction handling starts transactions late and breaks savepoints, so
    we take it over. A writing request begins with BEGIN IMMEDIATE: writers queue for the
    lock up front instead of failing when a read lock can't be upgraded.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@event.listens_for(Session, "after_flush")
def _flushed(db: Session, _context: Any) -> None:
    db.info["written"] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["written"] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _ended(db: Session) -> None:
    db.info.pop("written", None)


def has_written(db: Session) -> bool:
    """Whether this unit of work has sent any change to the database (or has one pending)."""
    return bool(db.info.get("written") or db.new or db.dirty or db.deleted)


def session_factory(engine: Engine) -> SessionFactory:
    writer = engine.execution_options(sqlite_immediate=True)

    def open_session(write: bool) -> Session:
        return Session(writer if write else engine, expire_on_commit=False)

    return open_session
