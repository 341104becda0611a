"""`heard worker`: sends queued email every few seconds and runs the scheduled jobs every minute.

Safe to run twice (or beside `heard jobs run` from cron): the outbox claims each email before
sending it, and each job claims its minute (see outbox.py and jobs.py). SIGTERM or SIGINT
finishes the email being sent, gives the rest of its batch back, and exits; a second signal
exits at once. Each round logs one JSON line of counts, never an address or a body: at info
when it sent mail or ran the jobs (so at least once a minute), at debug when it found nothing.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from app.config import Settings
from app.db import WORKER_CONNECTIONS, SessionFactory, make_engine, session_factory, utcnow
from app.log import configure_logging
from app.services import jobs, outbox

log = logging.getLogger("heard.worker")


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.outbox_lease_seconds)


@dataclass
class Round:
    """What one round did, as counts."""

    emails_sent: int = 0
    emails_not_sent: int = 0
    job_report: jobs.JobReport | None = None
    seconds: float = 0.0

    @property
    def busy(self) -> bool:
        return bool(self.emails_sent or self.emails_not_sent) or self.job_report is not None

    def lines(self) -> list[str]:
        done = self.job_report.lines() if self.job_report else []
        return [
            *done,
            f"emails sent: {self.emails_sent}",
            f"emails not sent: {self.emails_not_sent}",
        ]

    def as_counts(self) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "emails_sent": self.emails_sent,
            "emails_not_sent": self.emails_not_sent,
        }
        if self.job_report is not None:
            counts["jobs"] = self.job_report.counts
            if self.job_report.skipped:
                counts["jobs_already_run"] = self.job_report.skipped
            if self.job_report.failed:
                counts["jobs_failed"] = self.job_report.failed
        return counts


def one_round(
    open_session: SessionFactory,
    settings: Settings,
    now: datetime,
    *,
    run_jobs: bool = True,
    stop: Callable[[], bool] = lambda: False,
    registered: list[tuple[str, jobs.JobFn]] | None = None,
) -> Round:
    """The scheduled jobs (when asked: once a minute), then the outbox.

    Jobs go first so the reminders they queue leave in the same round. `heard jobs run` is
    exactly one of these.
    """
    started = time.monotonic()
    result = Round()
    outbox.limit_per_recipient(settings.mail_rate_per_recipient)  # the jobs queue email too
    if run_jobs:
        result.job_report = jobs.run_due(open_session, settings, now, jobs=registered, stop=stop)
    result.emails_sent, result.emails_not_sent = outbox.send_due_blocking(
        open_session, settings, now, stop=stop, lease=lease(settings)
    )
    result.seconds = time.monotonic() - started
    return result


class StopSignal:
    """Set by SIGTERM or SIGINT. The first asks for a clean stop; a second stops at once."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        # Started in the background by a shell (`make run`), SIGINT is ignored: Ctrl-C is for
        # the server in front, and the shell stops the worker with SIGTERM. Keep it that way.
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            raise SystemExit(128 + signum)
        log.info("stopping after the current email", extra={"event": "worker.stopping"})
        self.event.set()

    def __call__(self) -> bool:
        return self.event.is_set()


def run(settings: Settings, *, once: bool = False) -> None:
    """The worker's loop (`once`: a single round, then exit, for tests and scripts)."""
    configure_logging()
    jobs.load()
    every = max(settings.worker_outbox_seconds, 0.05)
    stop = StopSignal()
    stop.install()
    # Its share of HEARD_DATABASE_MAX_CONNECTIONS (it uses one at a time).
    engine = make_engine(settings.database_url, pool_size=WORKER_CONNECTIONS)
    open_session = session_factory(engine)
    log.info("worker started", extra={"event": "worker.started"})
    last_jobs_minute: datetime | None = None
    try:
        while not stop():
            now = utcnow()
            minute = jobs.minute_of(now)
            try:
                result = one_round(
                    open_session, settings, now, run_jobs=minute != last_jobs_minute, stop=stop
                )
            except Exception:
                # The database may be away for a moment (a restart, a failover): try again
                # next round rather than leave the mail to pile up behind a dead process.
                log.exception("worker round failed", extra={"event": "worker.round_failed"})
                if once:
                    raise
            else:
                if result.job_report is not None:
                    last_jobs_minute = minute
                _log_round(result)
            if once:
                break
            stop.event.wait(every)
    finally:
        engine.dispose()
    log.info("worker stopped", extra={"event": "worker.stopped"})


def _log_round(result: Round) -> None:
    # Idle rounds (every few seconds) are debug; a round that sent mail or ran the jobs
    # (at least once a minute, so it doubles as a heartbeat) is info.
    log.log(
        logging.INFO if result.busy else logging.DEBUG,
        "worker round",
        extra={
            "event": "worker.round",
            "count": result.as_counts(),
            "duration_ms": round(result.seconds * 1000),
        },
    )
