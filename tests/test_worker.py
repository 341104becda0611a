"""`heard worker` (issue 8): safe to run twice, stops cleanly, and loses no acknowledged work
when it and the server are killed.

Everything here commits for real, so each test gets a fresh database (tests/live_processes.py),
on SQLite and, when HEARD_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import email
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, func, select

from app.config import Settings
from app.db import make_engine, session_factory
from app.models import OutboxEmail
from app.services import jobs, outbox, worker
from bench.run import Timings
from tests.conftest import BACKENDS
from tests.live_processes import (
    TIMEOUT,
    add_workshop,
    fresh_database,
    heard_env,
    kill_hard,
    new_person,
    sign_ups,
    start_heard,
    stop,
    wait_until_up,
    walk_to_check,
)
from tests.oidc_support import free_port
from tests.smtp_server import Inbox, smtp_server

EMAILS = 50
NOW = datetime(2026, 11, 23, 10, 0, 5, tzinfo=UTC)
RATE = "10000/minute"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, prefix="heard_worker") as url:
        yield url


def _settings(database_url: str, tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        secret_key="worker-test-secret-key-that-is-long-enough-0123",
        mail_dir=tmp_path / "mail",
        **values,
    )


def _queue(database_url: str, count: int, now: datetime = NOW) -> list[int]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = [
                outbox.queue(
                    session, to=f"p{n}@example.org", subject=f"Email {n}", body="Hello", now=now
                )
                for n in range(count)
            ]
            session.commit()
            return [row.id for row in rows if row is not None and row.id is not None]
    finally:
        engine.dispose()


def _statuses(database_url: str) -> Counter[str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return Counter(session.exec(select(OutboxEmail.status)).all())
    finally:
        engine.dispose()


class SlowInbox(Inbox):
    """A mail server that takes a moment over each message, so two senders overlap."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    from tests import smtp_server as smtp_module

    monkeypatch.setattr(smtp_module, "Inbox", SlowInbox)
    with smtp_server() as (inbox, port):
        yield inbox, port


def _smtp_settings(database_url: str, tmp_path: Path, port: int) -> Settings:
    return _settings(
        database_url, tmp_path, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False
    )


def _assert_each_delivered_once(inbox: Inbox, count: int) -> None:
    ids = Counter(str(message["Message-ID"]) for message in inbox.messages)
    to = Counter(str(message["To"]) for message in inbox.messages)
    assert len(inbox.messages) == count, f"{len(inbox.messages)} messages for {count} emails"
    assert max(ids.values()) == 1 and max(to.values()) == 1
    assert set(to) == {f"p{n}@example.org" for n in range(count)}


# --- two workers at once --------------------------------------------------------------------


def test_two_workers_racing_over_fifty_emails_send_each_once(database_url, tmp_path, smtp):
    inbox, port = smtp
    _queue(database_url, EMAILS)
    settings = _smtp_settings(database_url, tmp_path, port)
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        engine = make_engine(database_url)  # each worker its own connections, as two processes
        try:
            open_session = session_factory(engine)
            barrier.wait()
            results[i] = worker.one_round(open_session, settings, NOW, run_jobs=False)
        except BaseException as exc:
            results[i] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    rounds = [r for r in results if isinstance(r, worker.Round)]
    assert len(rounds) == 2, results
    print(f"\nsent by each worker: {[r.emails_sent for r in rounds]}")
    assert sum(r.emails_sent for r in rounds) == EMAILS
    assert all(r.emails_sent > 0 for r in rounds), "one worker took everything: no race"
    assert sum(r.emails_not_sent for r in rounds) == 0
    _assert_each_delivered_once(inbox, EMAILS)
    assert _statuses(database_url) == {"sent": EMAILS}


def test_two_worker_processes_send_each_email_once_and_stop_cleanly(database_url, tmp_path, smtp):
    """The real command twice: no email twice, JSON lines with counts, SIGTERM exits 0."""
    inbox, port = smtp
    _queue(database_url, EMAILS, now=datetime.now(UTC))
    env = heard_env(
        database_url,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=str(port),
        smtp_starttls="false",
        worker_outbox_seconds="0.2",
    )
    folders = [tmp_path / "one", tmp_path / "two"]
    for folder in folders:
        folder.mkdir()
    workers = [start_heard(["worker"], env, folder) for folder in folders]
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(inbox.messages) < EMAILS and time.monotonic() < deadline:
            assert all(w.poll() is None for w in workers), "a worker stopped by itself"
            time.sleep(0.1)
        time.sleep(0.5)  # a duplicate, if there were one, would arrive now
    finally:
        codes = [stop(w) for w in workers]
    assert codes == [0, 0]  # SIGTERM: a clean stop
    _assert_each_delivered_once(inbox, EMAILS)
    assert _statuses(database_url) == {"sent": EMAILS}

    sent_by_each = []
    for folder in folders:
        text = (folder / "worker.log").read_text()
        # Our lines are JSON; a library's warning printed at import is not ours to parse.
        entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        assert "@example.org" not in text and "Email 1" not in text  # counts, never content
        events = [entry.get("event") for entry in entries]
        assert events[0] == "worker.started" and events[-1] == "worker.stopped"
        assert "worker.stopping" in events
        rounds = [entry for entry in entries if entry.get("event") == "worker.round"]
        assert rounds and all("emails_sent" in entry["count"] for entry in rounds)
        assert "jobs" in rounds[0]["count"]  # the first round ran the scheduled jobs
        sent_by_each.append(sum(entry["count"]["emails_sent"] for entry in rounds))
    assert sum(sent_by_each) == EMAILS


def test_worker_once_sends_the_outbox_and_exits(database_url, tmp_path):
    ids = _queue(database_url, 3, now=datetime.now(UTC))
    process = start_heard(["worker", "--once"], heard_env(database_url, tmp_path), tmp_path)
    assert process.wait(timeout=TIMEOUT) == 0, (tmp_path / "worker.log").read_text()
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [f"{i:08d}.eml" for i in ids]


def test_a_stopping_worker_finishes_the_current_email_and_gives_the_rest_back(
    database_url, tmp_path, monkeypatch
):
    _queue(database_url, 5)
    settings = _settings(database_url, tmp_path)
    engine = make_engine(database_url)
    open_session = session_factory(engine)
    delivered: list[int] = []
    stopping = threading.Event()

    async def deliver(settings: Settings, outgoing: Any, email_id: int) -> None:
        delivered.append(email_id)
        stopping.set()  # SIGTERM arrives while the first email is being sent

    monkeypatch.setattr(outbox, "deliver", deliver)
    try:
        sent, not_sent = outbox.send_due_blocking(open_session, settings, NOW, stop=stopping.is_set)
        assert (sent, not_sent, len(delivered)) == (1, 0, 1)
        # The other four are due at once for the next worker, their attempt not counted.
        with open_session(False) as session:
            rest = session.exec(select(OutboxEmail).where(OutboxEmail.status != "sent")).all()
            assert len(rest) == 4
            assert all(e.status == "pending" and e.attempts == 0 for e in rest)
            assert all(e.next_attempt_at == NOW for e in rest)
    finally:
        engine.dispose()


def test_an_email_whose_sender_died_is_sent_after_its_lease(database_url, tmp_path):
    [email_id] = _queue(database_url, 1)
    settings = _settings(database_url, tmp_path)
    engine = make_engine(database_url)
    open_session = session_factory(engine)
    try:
        with open_session(True) as session:  # claimed by a worker that was then killed
            outbox.claim_due(session, NOW)
            session.commit()
        assert outbox.send_due_blocking(open_session, settings, NOW) == (0, 0)
        later = NOW + outbox.CLAIM_LEASE
        assert outbox.send_due_blocking(open_session, settings, later) == (1, 0)
        assert (tmp_path / "mail" / f"{email_id:08d}.eml").exists()
    finally:
        engine.dispose()


# --- scheduled jobs -------------------------------------------------------------------------


def test_a_scheduled_job_runs_once_a_minute_however_many_workers(database_url, tmp_path):
    settings = _settings(database_url, tmp_path)
    runs: list[datetime] = []

    def slow_job(session: Session, settings: Settings, now: datetime) -> int:
        runs.append(now)
        time.sleep(0.3)  # long enough for the other worker to try while this one runs
        return 1

    registered = [("test job", slow_job)]

    def two_workers_at(now: datetime) -> list[jobs.JobReport]:
        barrier = threading.Barrier(2, timeout=TIMEOUT)
        reports: list[Any] = [None, None]

        def run(i: int) -> None:
            engine = make_engine(database_url)
            try:
                barrier.wait()
                reports[i] = jobs.run_due(session_factory(engine), settings, now, jobs=registered)
            except BaseException as exc:
                reports[i] = exc
            finally:
                engine.dispose()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        assert all(isinstance(r, jobs.JobReport) for r in reports), reports
        return reports

    reports = two_workers_at(NOW)
    assert len(runs) == 1
    assert sorted(len(r.counts) for r in reports) == [0, 1]
    assert sorted(r.skipped for r in reports) == [[], ["test job"]]

    two_workers_at(NOW + timedelta(seconds=40))  # later in the same minute
    assert len(runs) == 1
    two_workers_at(NOW + timedelta(seconds=60))  # the next minute
    assert len(runs) == 2


def test_a_job_that_fails_is_tried_again_in_the_same_minute(database_url, tmp_path):
    settings = _settings(database_url, tmp_path)
    engine = make_engine(database_url)
    open_session = session_factory(engine)
    tries: list[int] = []

    def flaky(session: Session, settings: Settings, now: datetime) -> int:
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("the first try fails")
        return 7

    def fine(session: Session, settings: Settings, now: datetime) -> int:
        return 3

    registered = [("flaky", flaky), ("fine", fine)]
    try:
        first = jobs.run_due(open_session, settings, NOW, jobs=registered)
        assert first.failed == {"flaky": "RuntimeError"}
        assert first.counts == {"fine": 3}  # one failing job never stops the others
        second = jobs.run_due(open_session, settings, NOW, jobs=registered)
        assert second.counts == {"flaky": 7}
        assert second.skipped == ["fine"]
    finally:
        engine.dispose()


def test_heard_jobs_run_is_one_worker_round(database_url, tmp_path):
    """cron's command runs the registered jobs and the outbox; at once again, jobs are done."""
    ids = _queue(database_url, 2, now=datetime.now(UTC))
    env = heard_env(database_url, tmp_path)
    first = start_heard(["jobs", "run"], env, tmp_path)
    assert first.wait(timeout=TIMEOUT) == 0
    output = (tmp_path / "jobs.log").read_text()
    assert "retention: " in output and "workshop reminders: " in output
    assert "emails sent: 2" in output
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == [f"{i:08d}.eml" for i in ids]


# --- kill -9 in the middle of a burst ---------------------------------------------------------

PEOPLE = 20
WALKING_AT_ONCE = 5
KILL_AFTER = 7  # acknowledged sign-ups before both processes are killed


def test_kill_9_mid_burst_loses_no_acknowledged_sign_up_and_sends_each_email_once(
    database_url, tmp_path
):
    """Server and worker killed (SIGKILL) while sign-ups pour in, then restarted: every
    sign-up that was answered 303 is there, and every queued email is delivered once."""
    workshop_id, slug = add_workshop(database_url, capacity=PEOPLE + 10, title="Kill test")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = heard_env(
        database_url,
        tmp_path,
        base_url=base,
        form_rate_per_ip=RATE,
        sign_in_rate_per_ip=RATE,
        join_rate_per_ip=RATE,
        join_rate_per_code=RATE,
        worker_outbox_seconds="0.1",
        # A killed worker's claims come back after 2 s rather than 15 minutes.
        outbox_lease_seconds="2",
    )
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]

    def start_both() -> tuple[Any, Any]:
        server, sender = start_heard(serve, env, tmp_path), start_heard(["worker"], env, tmp_path)
        wait_until_up(f"{base}/healthz", lambda: server.poll() is None)
        return server, sender

    server, sender = start_both()
    timings = Timings()
    walking = threading.Semaphore(WALKING_AT_ONCE)
    barrier = threading.Barrier(PEOPLE, timeout=TIMEOUT)
    acknowledged: list[str] = []
    lock = threading.Lock()

    def sign_up(n: int) -> None:
        someone = new_person(base, n, timings)
        try:
            with walking:
                walk_to_check(someone, slug, n, domain="kill.example.org")
            barrier.wait()
            done = someone.client.post(
                f"/workshops/{slug}/sign-up/check", data={"csrf_token": someone.csrf}
            )
            if done.status_code == 303 and done.headers["location"].endswith("/sign-up/sent"):
                with lock:
                    acknowledged.append(f"p{n}@kill.example.org")
        except (httpx.HTTPError, threading.BrokenBarrierError):
            pass  # the server was killed under this request: not acknowledged
        finally:
            someone.client.close()

    threads = [threading.Thread(target=sign_up, args=(n,), daemon=True) for n in range(PEOPLE)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + TIMEOUT
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.002)
        kill_hard(server)
        kill_hard(sender)
        for thread in threads:
            thread.join(TIMEOUT)
        answered = list(acknowledged)
        print(
            f"\n{len(answered)} of {PEOPLE} sign-ups acknowledged before the kill; "
            f"emails then: {dict(_statuses(database_url))}"
        )
        assert len(answered) >= KILL_AFTER
        assert server.returncode == -signal.SIGKILL and sender.returncode == -signal.SIGKILL

        server, sender = start_both()
        # After the restart, sign-ups work and their email is sent too.
        for n in range(PEOPLE, PEOPLE + 2):
            someone = new_person(base, n, timings)
            walk_to_check(someone, slug, n, domain="kill.example.org")
            someone.post("POST check", f"/workshops/{slug}/sign-up/check", {})
            answered.append(f"p{n}@kill.example.org")
            someone.client.close()
        _wait_until_outbox_is_empty(database_url)
    finally:
        for process in (server, sender):
            stop(process)

    rows = {row.contact_key for row in sign_ups(database_url, workshop_id)}
    assert set(answered) <= rows, f"acknowledged but lost: {set(answered) - rows}"
    _assert_mail_matches_the_outbox(database_url, tmp_path / "mail", rows)


def _wait_until_outbox_is_empty(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with Session(engine) as session:
                waiting = session.exec(
                    select(func.count())
                    .select_from(OutboxEmail)
                    .where(col(OutboxEmail.status).in_(["pending", "sending"]))
                ).one()
            if waiting == 0:
                return
            time.sleep(0.2)
        pytest.fail(f"{waiting} emails still waiting {TIMEOUT:.0f} s after the restart")
    finally:
        engine.dispose()


def _assert_mail_matches_the_outbox(database_url: str, folder: Path, people: set[str]) -> None:
    """One file per queued email (its id), each addressed as its row says, all marked sent."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            emails = list(session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id))))
    finally:
        engine.dispose()
    assert emails and all(e.status == "sent" for e in emails)
    files = sorted(p.name for p in folder.glob("*.eml"))
    assert files == [f"{e.id:08d}.eml" for e in emails]
    for row in emails:
        message = email.message_from_bytes((folder / f"{row.id:08d}.eml").read_bytes())
        assert message["To"] == row.to_address
    # Every sign-up in the database got its confirmation.
    assert people <= {e.to_address for e in emails}
