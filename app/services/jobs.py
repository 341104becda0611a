"""`heard jobs run`: the outbox, reminders and retention, each safe to run twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from app.config import Settings
from app.services import outbox

# Later features register their periodic work here (reminders, retention): (name, function).
JobFn = Callable[[Session, Settings, datetime], int]
REGISTERED: list[tuple[str, JobFn]] = []


def register(name: str) -> Callable[[JobFn], JobFn]:
    def wrap(fn: JobFn) -> JobFn:
        REGISTERED.append((name, fn))
        return fn

    return wrap


@dataclass
class JobReport:
    counts: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        return [f"{name}: {count}" for name, count in self.counts.items()]


def run_all(
    open_session: Callable[[bool], Session], settings: Settings, now: datetime
) -> JobReport:
    report = JobReport()
    for name, fn in REGISTERED:
        with open_session(True) as session:
            report.counts[name] = fn(session, settings, now)
            session.commit()
    sent, failed = outbox.send_due_blocking(open_session, settings, now)
    report.counts["emails sent"] = sent
    report.counts["emails to retry"] = failed
    return report
