"""Scheduled jobs (reminders, retention): each runs at most once a minute, whoever runs it.

`heard worker` runs them every minute and `heard jobs run` (cron) once; both go through
`run_due`. Two workers, or a worker and cron, may try the same job in the same minute: the
job's row in `job_run` decides. A job claims its minute in the same transaction as its work,
so a job that fails leaves its minute unclaimed and the next try runs it again.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.config import Settings
from app.models.jobs import JobRun

log = logging.getLogger("heard.jobs")

JobFn = Callable[[Session, Settings, datetime], int]
REGISTERED: list[tuple[str, JobFn]] = []

# The modules whose jobs run every minute. Adding a job is a line here and a
# `@jobs.register` beside its rule, so the list of what runs is in one place.
JOB_MODULES = (
    "app.services.signups",
    "app.services.retention",
    "app.services.safeguarding",
    "app.services.subscriptions",
    "app.services.spaces_staff",
)


def register(name: str) -> Callable[[JobFn], JobFn]:
    def wrap(fn: JobFn) -> JobFn:
        REGISTERED.append((name, fn))
        return fn

    return wrap


def load() -> list[tuple[str, JobFn]]:
    """Import every module in JOB_MODULES (they register their jobs) and return the jobs."""
    for module in JOB_MODULES:
        importlib.import_module(module)
    return REGISTERED


@dataclass
class JobReport:
    counts: dict[str, int] = field(default_factory=dict)
    # Jobs another worker already ran this minute, and jobs that raised (by error type).
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return (
            [f"{name}: {count}" for name, count in self.counts.items()]
            + [f"{name}: already ran this minute" for name in self.skipped]
            + [f"{name}: failed ({error})" for name, error in self.failed.items()]
        )


def minute_of(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def claim_minute(session: Session, name: str, now: datetime) -> bool:
    """Claim this minute for a job, in the caller's (write) transaction.

    On PostgreSQL a worker running the job holds its row locked until it commits; another
    skips the locked row instead of waiting, and after the commit finds the minute taken.
    On SQLite the write transaction (BEGIN IMMEDIATE) already lets one worker in at a time.
    """
    minute = minute_of(now)
    row = session.exec(
        select(JobRun).where(JobRun.name == name).with_for_update(skip_locked=True)
    ).first()
    if row is not None:
        if row.minute >= minute:
            return False
        row.minute = minute
        session.add(row)
        session.flush()
        return True
    if session.exec(select(col(JobRun.name)).where(JobRun.name == name)).first() is not None:
        return False  # there, but locked: another worker is running it now
    # Its first run ever: if another worker inserts it at the same moment, the key decides.
    try:
        with session.begin_nested():
            session.add(JobRun(name=name, minute=minute))
            session.flush()
    except IntegrityError:
        return False
    return True


def run_due(
    open_session: Callable[[bool], Session],
    settings: Settings,
    now: datetime,
    *,
    jobs: Sequence[tuple[str, JobFn]] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> JobReport:
    """Run each job (default: every registered one) not yet run this minute, one transaction
    each. A job that raises is rolled back and logged by error type; the others still run."""
    report = JobReport()
    for name, fn in REGISTERED if jobs is None else jobs:
        if stop():
            break
        with open_session(True) as session:
            if not claim_minute(session, name, now):
                session.rollback()
                report.skipped.append(name)
                continue
            try:
                report.counts[name] = fn(session, settings, now)
                session.commit()
            except Exception as exc:
                session.rollback()
                report.failed[name] = type(exc).__name__
                log.exception("scheduled job failed", extra={"event": name})
    return report
