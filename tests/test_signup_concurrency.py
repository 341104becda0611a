"""Places are exact under real concurrency: many sessions at once against the same database.

These tests commit for real (each thread is its own unit of work, as each request would be),
so they tidy up after themselves.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, delete, select

from app.config import Settings
from app.db import session_factory
from app.models import Participant, SignUp, SignUpStatus, Workshop
from app.services import signups
from tests.conftest import build_workshop

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _answers(n: int) -> dict[str, object]:
    return {
        "display_name": f"Person {n}",
        "age_band": "16_17",
        "whose": "mine",
        "email": f"racer{n}@example.org",
        "agree": ["yes"],
    }


def _run_at_once(engine, settings: Settings, workshop_id: int, people: list[int]) -> list[str]:
    open_session = session_factory(engine)
    barrier = threading.Barrier(len(people))

    def one(n: int) -> str:
        barrier.wait()
        with open_session(True) as session:
            outcome = signups.sign_up(session, settings, workshop_id, _answers(n), NOW)
            session.commit()
            return outcome.result

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        return list(pool.map(one, people))


def _tidy(engine, workshop_id: int) -> None:
    with Session(engine) as session:
        ids = list(
            session.exec(select(SignUp.participant_id).where(SignUp.workshop_id == workshop_id))
        )
        session.exec(delete(Workshop).where(Workshop.id == workshop_id))  # type: ignore[arg-type]
        if ids:
            session.exec(delete(Participant).where(Participant.id.in_(ids)))  # type: ignore[union-attr,arg-type]
        session.commit()


def test_fifty_people_at_once_for_the_last_ten_places(engine, settings):
    with Session(engine) as session:
        workshop = build_workshop(session, NOW, capacity=30, title="Race for places")
        session.commit()
        workshop_id = workshop.id
    try:
        # 20 places already taken: 10 left.
        assert _run_at_once(engine, settings, workshop_id, list(range(20))).count("confirmed") == 20
        results = _run_at_once(engine, settings, workshop_id, list(range(100, 150)))
        assert results.count("confirmed") == 10
        assert results.count("waiting") == 40
        with Session(engine) as session:
            rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop_id)).all()
            statuses = [r.status for r in rows]
            assert statuses.count(SignUpStatus.CONFIRMED) == 30
            assert statuses.count(SignUpStatus.WAITING) == 40
    finally:
        _tidy(engine, workshop_id)


def test_the_same_person_pressing_sign_up_many_times_at_once_gets_one_place(engine, settings):
    with Session(engine) as session:
        workshop = build_workshop(session, NOW, capacity=5, title="Double clicks")
        session.commit()
        workshop_id = workshop.id
    try:
        results = _run_at_once(engine, settings, workshop_id, [7] * 12)
        assert results.count("confirmed") == 1
        assert results.count("already") == 11
        with Session(engine) as session:
            rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop_id)).all()
            assert len(rows) == 1
    finally:
        _tidy(engine, workshop_id)


def test_cancellations_at_once_promote_each_waiting_person_once(engine, settings):
    with Session(engine) as session:
        workshop = build_workshop(session, NOW, capacity=5, title="Many cancel")
        session.commit()
        workshop_id = workshop.id
    try:
        _run_at_once(engine, settings, workshop_id, list(range(10)))  # 5 places, 5 waiting
        open_session = session_factory(engine)
        with Session(engine) as session:
            confirmed = [
                r.id
                for r in session.exec(
                    select(SignUp).where(
                        SignUp.workshop_id == workshop_id, SignUp.status == SignUpStatus.CONFIRMED
                    )
                )
            ]
        barrier = threading.Barrier(len(confirmed))

        def cancel(sign_up_id: int) -> bool:
            barrier.wait()
            with open_session(True) as session:
                row = session.get(SignUp, sign_up_id)
                assert row is not None
                done = signups.cancel(session, settings, row, NOW + timedelta(minutes=1))
                session.commit()
                return done

        with ThreadPoolExecutor(max_workers=len(confirmed)) as pool:
            assert all(pool.map(cancel, confirmed))
        with Session(engine) as session:
            rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop_id)).all()
            statuses = [r.status for r in rows]
            assert statuses.count(SignUpStatus.CONFIRMED) == 5
            assert statuses.count(SignUpStatus.CANCELLED) == 5
            assert statuses.count(SignUpStatus.WAITING) == 0
    finally:
        _tidy(engine, workshop_id)
