"""Journeys, the shared part: steps declared once, validated drafts, check your answers,
save-and-return links and the repeat-submit token (concurrently, on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Literal

import pytest
from pydantic import Field
from sqlmodel import Session, col, delete, select
from starlette.datastructures import FormData

from app import journeys
from app.db import session_factory
from app.forms import FormModel, FormState
from app.journeys import CHECK, Journey, JourneyDraft, Step
from app.security import token_hash
from tests.factories import make_participant


class Name(FormModel):
    name: str = Field(max_length=10)
    messages = {"name": {"missing": "Enter a name", "too_long": "Too long"}}


class Colour(FormModel):
    colour: Literal["red", "blue"]
    messages = {"colour": {"missing": "Choose a colour", "invalid": "Choose a colour"}}


class Extra(FormModel):
    note: str | None = None


def _not_bob_in_blue(state: FormState[Any], answers: journeys.Answers) -> None:
    if state.values.get("colour") == "blue" and (answers.get("name") or {}).get("name") == "Bob":
        state.add_error("colour", "Bob can't have blue")


JOURNEY = Journey(
    name="test:1",
    steps=(
        Step("name", Name, "What is your name?"),
        Step("colour", Colour, "Which colour?", validate=_not_bob_in_blue),
        Step("extra", Extra, "Anything else?", counted=False),
    ),
)


def form(**values: Any) -> FormData:
    return journeys.as_form_data(values)


# --- steps -------------------------------------------------------------------------------


def test_order_positions_and_where_a_step_leads():
    assert JOURNEY.names == ["name", "colour", "extra"]
    assert JOURNEY.next_name("name") == "colour"
    assert JOURNEY.next_name("extra") == CHECK
    assert JOURNEY.previous_name("name") is None
    assert JOURNEY.previous_name(CHECK) == "extra"
    assert JOURNEY.position("colour") == (2, 2)  # "Question 2 of 2"
    assert JOURNEY.position("extra") is None  # not counted
    assert JOURNEY.step("nope") is None


def test_each_step_is_checked_by_its_fields_then_its_validator():
    step = JOURNEY.step("colour")
    assert step is not None
    assert JOURNEY.parse(step, form(colour="green"), {}).errors == {"colour": "Choose a colour"}
    bob = {"name": {"name": "Bob"}}
    assert JOURNEY.parse(step, form(colour="blue"), bob).errors == {"colour": "Bob can't have blue"}
    assert JOURNEY.parse(step, form(colour="blue"), {}).ok


def test_first_unanswered_checks_saved_answers_again():
    assert JOURNEY.first_unanswered({}) == "name"
    answers = {"name": {"name": "Sam"}, "colour": {"colour": "blue"}}
    assert JOURNEY.first_unanswered(answers) == "extra"
    answers["extra"] = {"note": ""}
    assert JOURNEY.first_unanswered(answers) is None
    # The rule changed meaning for these answers (Bob now): asked again, not sent wrong.
    answers["name"] = {"name": "Bob"}
    assert JOURNEY.first_unanswered(answers) == "colour"
    # A value that no longer passes (tampered, or a question changed) is never trusted.
    assert JOURNEY.first_unanswered({**answers, "name": {"name": "x" * 50}}) == "name"
    assert JOURNEY.first_unanswered({**answers, "name": "not a dict"}) == "name"  # type: ignore[dict-item]


def test_change_links_come_back_to_check_your_answers_when_nothing_is_missing():
    done = {"name": {"name": "Sam"}, "colour": {"colour": "red"}, "extra": {}}
    assert JOURNEY.after("name", done, change=True) == CHECK
    assert JOURNEY.after("name", done, change=False) == "colour"
    assert JOURNEY.after("name", {"name": {"name": "Sam"}}, change=True) == "colour"


def test_validated_gives_each_steps_data_and_refuses_gaps():
    done = {"name": {"name": " Sam "}, "colour": {"colour": "red"}, "extra": {"note": ""}}
    data = JOURNEY.validated(done)
    assert data["name"].name == "Sam"
    with pytest.raises(ValueError):
        JOURNEY.validated({"name": {"name": "Sam"}})


def test_the_form_for_a_step_holds_what_the_draft_holds():
    step = JOURNEY.step("name")
    assert step is not None
    assert JOURNEY.form_for(step, {"name": {"name": "Sam", "junk": "x"}}).values == {"name": "Sam"}
    assert JOURNEY.form_for(step, {}).values == {"name": ""}


# --- drafts ------------------------------------------------------------------------------


def _state(step: str, **values: Any) -> FormState[Any]:
    found = JOURNEY.step(step)
    assert found is not None
    return JOURNEY.parse(found, form(**values), {})


def test_only_validated_answers_are_saved(session, clock):
    with pytest.raises(ValueError):
        journeys.save(session, "test:1", "owner-a", "name", _state("name"), clock.now)
    assert journeys.find(session, "test:1", "owner-a") is None
    draft = journeys.save(
        session, "test:1", "owner-a", "name", _state("name", name="Sam"), clock.now
    )
    assert journeys.answers_of(draft) == {"name": {"name": "Sam"}}
    assert draft.submit_token and len(draft.submit_token) >= 40


def test_drafts_belong_to_a_browser_or_a_participant(session, clock, settings):
    browser = journeys.owner_key(settings.secret_key, "cookie-value-abcdefghijkl")
    other = journeys.owner_key(settings.secret_key, "another-cookie-abcdefghij")
    assert browser != other and "cookie" not in browser and len(browser) == 64
    person = make_participant(session)
    assert journeys.owner_key(settings.secret_key, "any", person.id) == f"participant:{person.id}"
    journeys.save(session, "test:1", browser, "name", _state("name", name="Sam"), clock.now)
    assert journeys.find(session, "test:1", other) is None
    assert journeys.find(session, "test:2", browser) is None
    again = journeys.save(
        session,
        "test:1",
        browser,
        "colour",
        _state("colour", colour="red"),
        clock.advance(minutes=1),
    )
    assert journeys.answers_of(again) == {"name": {"name": "Sam"}, "colour": {"colour": "red"}}
    assert again.updated_at == clock.now


def test_two_tabs_saving_a_first_answer_at_once_share_one_draft(session, clock):
    first = journeys.save(
        session, "test:1", "tab-owner", "name", _state("name", name="A"), clock.now
    )
    # The second tab read "no draft" before the first one's insert: _new_draft copes.
    second = journeys._new_draft(session, "test:1", "tab-owner", clock.now, None)
    assert second.id == first.id


def test_drafts_are_declared_personal_data_kept_90_days():
    declared = JourneyDraft.personal_data
    assert declared.link == "participant_id" and "answers" in declared.fields
    assert declared.retention == timedelta(days=90) and declared.retention_from == "updated_at"


# --- save and come back later --------------------------------------------------------------


def test_a_resume_link_is_random_stored_hashed_works_once_and_expires(session, clock):
    draft = journeys.save(session, "test:1", "phone", "name", _state("name", name="Sam"), clock.now)
    token = journeys.issue_resume_link(session, draft, clock.now)
    assert len(token) >= 43  # 256 bits, url-safe
    assert draft.resume_token_hash == token_hash(token) and token not in str(draft.model_dump())
    assert journeys.peek_resume_link(session, "test:1", token, clock.now) is not None
    assert journeys.peek_resume_link(session, "test:2", token, clock.now) is None  # other journey
    moved = journeys.use_resume_link(session, "test:1", token, "laptop", clock.now)
    assert moved is not None and moved.owner_key == "laptop"
    assert journeys.answers_of(moved) == {"name": {"name": "Sam"}}
    assert journeys.use_resume_link(session, "test:1", token, "laptop", clock.now) is None  # once

    again = journeys.issue_resume_link(session, moved, clock.now)
    later = clock.now + journeys.RESUME_LINK_LIFETIME
    assert journeys.use_resume_link(session, "test:1", again, "x", later) is None  # expired
    assert journeys.use_resume_link(session, "test:1", "", "x", clock.now) is None
    assert journeys.use_resume_link(session, "test:1", "x" * 500, "x", clock.now) is None


def test_a_new_link_replaces_the_last_one(session, clock):
    draft = journeys.save(session, "test:1", "phone", "name", _state("name", name="Sam"), clock.now)
    old = journeys.issue_resume_link(session, draft, clock.now)
    new = journeys.issue_resume_link(session, draft, clock.now)
    assert journeys.peek_resume_link(session, "test:1", old, clock.now) is None
    assert journeys.peek_resume_link(session, "test:1", new, clock.now) is not None


def test_coming_back_replaces_a_draft_the_browser_already_had(session, clock):
    journeys.save(session, "test:1", "laptop", "name", _state("name", name="Old"), clock.now)
    draft = journeys.save(session, "test:1", "phone", "name", _state("name", name="New"), clock.now)
    token = journeys.issue_resume_link(session, draft, clock.now)
    person = make_participant(session)
    moved = journeys.use_resume_link(session, "test:1", token, "laptop", clock.now, person.id)
    assert moved is not None and moved.participant_id == person.id
    rows = session.exec(select(JourneyDraft).where(JourneyDraft.journey == "test:1")).all()
    assert [journeys.answers_of(r)["name"]["name"] for r in rows] == ["New"]


# --- the repeat-submit token -----------------------------------------------------------------


def _record_maker(session: Session, calls: list[str]):
    """A record keyed by the token's hash under a unique constraint (a draft row will do)."""

    def find(token: str) -> JourneyDraft | None:
        return session.exec(
            select(JourneyDraft).where(
                JourneyDraft.journey == "record", JourneyDraft.owner_key == token_hash(token)
            )
        ).first()

    def create_for(token: str):
        def create() -> JourneyDraft:
            calls.append(token)
            row = JourneyDraft(
                journey="record", owner_key=token_hash(token), answers={}, submit_token="t"
            )
            session.add(row)
            return row

        return create

    return find, create_for


def test_the_same_token_makes_one_record(session):
    made: list[str] = []
    find, create_for = _record_maker(session, made)
    first, created = journeys.submit_once(session, "tok-1", find, create_for("tok-1"))
    again, created_again = journeys.submit_once(session, "tok-1", find, create_for("tok-1"))
    assert created and not created_again and first.id == again.id and made == ["tok-1"]
    other, created_other = journeys.submit_once(session, "tok-2", find, create_for("tok-2"))
    assert created_other and other.id != first.id


def test_a_record_made_meanwhile_wins_and_ours_is_undone(session):
    """The race on the unique constraint, forced: the find misses, the insert collides."""
    made: list[str] = []
    find, create_for = _record_maker(session, made)
    theirs, _ = journeys.submit_once(session, "tok-9", find, create_for("tok-9"))
    misses = iter([None])

    def find_late(token: str) -> JourneyDraft | None:
        return next(misses, None) or find(token)

    ours, created = journeys.submit_once(session, "tok-9", find_late, create_for("tok-9"))
    assert not created and ours.id == theirs.id
    count = session.exec(select(JourneyDraft).where(JourneyDraft.journey == "record")).all()
    assert len(count) == 1


def test_twenty_requests_at_once_with_one_token_make_one_record(engine):
    """Real concurrent transactions, committing, on SQLite and on PostgreSQL."""
    open_session = session_factory(engine)
    barrier = threading.Barrier(20)

    def press(_: int) -> tuple[int, bool]:
        barrier.wait()
        with open_session(True) as db:
            made: list[str] = []
            find, create_for = _record_maker(db, made)
            row, created = journeys.submit_once(db, "same-token", find, create_for("same-token"))
            db.commit()
            return row.id or 0, created

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            results = list(pool.map(press, range(20)))
        assert sum(created for _, created in results) == 1
        assert len({row_id for row_id, _ in results}) == 1
        with Session(engine) as db:
            rows = db.exec(select(JourneyDraft).where(JourneyDraft.journey == "record")).all()
            assert len(rows) == 1
    finally:
        with Session(engine) as db:
            db.exec(delete(JourneyDraft).where(col(JourneyDraft.journey) == "record"))
            db.commit()
