"""Recruitment rounds: applying (one question a page, save and come back, check, declaration,
send once, receipt), the deadline to the second, late drafts and extensions, the closing time,
blind review, decisions and outcome emails, withdrawing, hostile input and personal data."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select

from app.journeys import JourneyDraft
from app.models import (
    Application,
    ApplicationStatus,
    Decision,
    Group,
    OutboxEmail,
    QuestionKind,
    Review,
    Role,
    Round,
    RoundQuestion,
    RoundStatus,
)
from app.services import my_data, retention
from tests.conftest import Client
from tests.factories import make_participant, make_staff, sign_in
from tests.journey_helpers import (
    LONDON,
    SECOND,
    answer,
    answer_each,
    committing_app,
    emails_to,
    hostile_inputs,
    inert,
    resume_link,
    submit_token,
)
from tests.journey_helpers import send as send_with

QUESTIONS = [
    {"text": "Why do you want to join?", "kind": QuestionKind.LONG_TEXT, "max_chars": 200},
    {"text": "Which school do you go to?", "kind": QuestionKind.SHORT_TEXT, "identifying": True},
    {"text": "Have you been in care?", "kind": QuestionKind.YES_NO},
]
ANSWERS = {
    "q1": {"answer": "To help others like me"},
    "q2": {"answer": "Hilltop Academy"},
    "q3": {"answer": "yes"},
    "adjustments": {"answer": "A quiet room"},
    "about-you": {"name": "Sky Jones", "email": "sky@example.org", "age": "17"},
}
_n = iter(range(1, 10_000))


def build_round(session: Session, now: datetime, questions=QUESTIONS, **overrides: Any) -> Round:
    n = next(_n)
    group = Group(slug=f"group-{n}", name=f"Experts by experience {n}")
    session.add(group)
    session.flush()
    values: dict[str, Any] = {
        "group_id": group.id,
        "slug": f"round-{n}",
        "title": "Join the experts by experience group",
        "summary": "The group tells the review what it is like to be in care.",
        "time_asked": "One afternoon a month for a year.",
        "in_return": "A £25 voucher each time, and we pay for travel.",
        "min_age": 16,
        "max_age": 25,
        "who_can_apply": "You have been in care, or you are in care now.",
        "how_info_used": "A small team reads your application to choose people.",
        "criteria": ["Lived experience", "Wants to help others"],
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
        "status": RoundStatus.OPEN,
    }
    values.update(overrides)
    round_ = Round(**values)
    session.add(round_)
    session.flush()
    for number, spec in enumerate(questions, start=1):
        session.add(RoundQuestion(round_id=round_.id, number=number, **spec))
    session.commit()
    return round_


@pytest.fixture
def round_(session, clock) -> Round:
    return build_round(session, clock.now)


def answer_all(client: Client, round_: Round, **changes: dict[str, Any]) -> None:
    answer_each(client, round_, {**ANSWERS, **changes})


def send(client: Client, round_: Round, token: str | None = None, **ticks: str):
    return send_with(client, round_, {"declaration": "yes", "consent": "yes", **ticks}, token)


def applications(session: Session, round_: Round) -> list[Application]:
    session.expire_all()
    return list(session.exec(select(Application).where(Application.round_id == round_.id)))


def apply(
    client: Client, round_: Round, email: str = "sky@example.org", name: str = "Sky Jones"
) -> str:
    about = {**ANSWERS["about-you"], "email": email, "name": name}
    answer_all(client, round_, **{"about-you": about})
    response, token = send(client, round_)
    assert response.status_code == 303, response.text[:2000]
    return token


# --- the start page and the journey --------------------------------------------------------------


def test_the_start_page_says_who_can_apply_what_you_get_and_when_it_closes(client, session, clock):
    closes = datetime(2027, 2, 5, 23, 59, tzinfo=LONDON).astimezone(UTC)
    clock.now = closes - timedelta(days=20)
    round_ = build_round(session, clock.now, closes_at=closes)
    page = client.get(f"/rounds/{round_.slug}").text
    assert "Applications close on Friday 5 February at 11:59pm" in page
    assert "16 to 25 years old" in page and "You have been in care" in page
    assert "£25 voucher" in page and "One afternoon a month" in page
    assert "Start your application" in page
    for moment, words in [
        (closes - timedelta(days=3), "Closes in 3 days"),
        (closes - timedelta(hours=5), "Closes today at 11:59pm"),
        (closes - timedelta(hours=2, minutes=30), "Closes in 2 hours"),
    ]:
        clock.now = moment
        assert words in client.get(f"/rounds/{round_.slug}").text, words
    clock.now = closes
    page = client.get(f"/rounds/{round_.slug}").text
    assert "Applications closed on Friday 5 February at 11:59pm" in page
    assert "Start your application" not in page


def test_a_draft_round_is_seen_only_by_admins(client, session, clock):
    hidden = build_round(session, clock.now, status=RoundStatus.DRAFT)
    assert client.get(f"/rounds/{hidden.slug}").status_code == 404
    sign_in(client, session, staff=make_staff(session, Role.REVIEWER), now=clock.now)
    assert client.get(f"/rounds/{hidden.slug}").status_code == 404
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    assert "This round is a draft" in client.get(f"/rounds/{hidden.slug}").text


def test_apply_from_start_to_receipt(client, session, round_, clock):
    page = client.get(f"/rounds/{round_.slug}/apply/q1")
    assert "<h1><label" in page.text and "Question 1 of 3" in page.text
    answer_all(client, round_)
    check = client.get(f"/rounds/{round_.slug}/check")
    assert "Check your answers" in check.text and "Hilltop Academy" in check.text
    assert "A quiet room" in check.text and "Sky Jones" in check.text
    form = client.get(f"/rounds/{round_.slug}/send").text
    assert 'value="yes" checked' not in form  # both boxes unticked
    response, _ = send(client, round_)
    assert response.status_code == 303
    done = client.get(response.headers["location"])
    reference = applications(session, round_)[0].reference
    assert re.fullmatch(r"HRD-[A-Z2-9]{4}-[A-Z2-9]{2}", reference)
    assert reference in done.text and "What happens next" in done.text
    receipt = emails_to(session, "sky@example.org", "We have your application")
    assert len(receipt) == 1 and reference in receipt[0].body_text
    assert "Hilltop Academy" in receipt[0].body_text and "/applications/" in receipt[0].body_text
    # The draft is gone once sent.
    assert session.exec(select(JourneyDraft)).all() == []


def test_declaration_and_consent_are_separate_and_both_needed(client, session, round_):
    answer_all(client, round_)
    token = submit_token(client, round_)
    page = client.submit(f"/rounds/{round_.slug}/send", {"submit_token": token}, page="/")
    assert page.status_code == 200 and "<title>Error:" in page.text
    assert "Tick the box to say your answers are true" in page.text
    assert "Tick the box to say we may use your application" in page.text
    only_one, _ = send(client, round_, token, consent="")
    assert only_one.status_code == 200 and applications(session, round_) == []


def test_errors_keep_what_was_typed_and_ages_outside_the_range(client, round_):
    long = "x" * 201
    page = answer(client, round_, "q1", {"answer": long})
    assert page.status_code == 200 and "200 characters or fewer" in page.text and long in page.text
    assert "Enter your answer" in answer(client, round_, "q2", {"answer": ""}).text
    about = {"name": "", "email": "not-an-email", "age": "12"}
    page = answer(client, round_, "about-you", about)
    assert "Enter your name" in page.text and "Enter an email address like" in page.text
    page = answer(client, round_, "about-you", {**ANSWERS["about-you"], "age": "12"})
    assert "This group is for people aged 16 to 25" in page.text


def test_change_links_come_back_to_check(client, round_):
    answer_all(client, round_)
    response = answer(client, round_, "q2", {"answer": "Riverside"}, "?change=1")
    assert response.headers["location"] == f"/rounds/{round_.slug}/check"


def test_a_double_tap_and_a_replay_make_one_application(client, session, round_):
    answer_all(client, round_)
    first, token = send(client, round_)
    second, _ = send(client, round_, token)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert len(applications(session, round_)) == 1
    assert len(emails_to(session, "sky@example.org", "We have your application")) == 1


@pytest.fixture
def real_app(engine, settings, clock):
    """The app committing for real to the test database (for concurrent requests). Requests
    wait their turn at the door for longer than usual (two shared cores run the whole room),
    and the room shares one address, so the per-address limit is raised as a school would."""
    patient = settings.model_copy(
        update={"request_queue_seconds": 120.0, "form_rate_per_ip": "1000/minute"}
    )
    app = committing_app(patient, engine, clock)
    with Session(engine, expire_on_commit=False) as db:
        made = build_round(db, clock.now)
        db.expunge(made)
    yield app, made
    with Session(engine) as db:
        db.exec(delete(Round).where(col(Round.id) == made.id))
        db.exec(delete(Group).where(col(Group.id) == made.group_id))
        db.exec(delete(JourneyDraft).where(col(JourneyDraft.journey) == f"round:{made.id}"))
        db.exec(delete(OutboxEmail).where(col(OutboxEmail.to_address).contains("@example.org")))
        db.commit()


def test_thirty_applicants_at_closing_minus_half_a_second_and_a_double_tap(real_app, engine, clock):
    """30 people (and one of them pressing twice, in two tabs) send at the same moment, half
    a second before the closing time, through the whole app, on SQLite and PostgreSQL. One
    test client (one event loop, as in a real server) carries each person's own cookies."""
    app, made = real_app
    ready = []
    with Client(app, base_url="http://testserver", follow_redirects=False) as room:
        for i in range(30):
            room.cookies.clear()
            about = {**ANSWERS["about-you"], "email": f"applicant{i}@example.org"}
            answer_all(room, made, **{"about-you": about})
            token, csrf = submit_token(room, made), room.csrf("/")
            cookie = "; ".join(f"{name}={value}" for name, value in room.cookies.items())
            ready.append((cookie, token, csrf))
        room.cookies.clear()
        clock.now = made.closes_at - timedelta(milliseconds=500)
        presses = [*ready, ready[0]]
        barrier = threading.Barrier(len(presses))

        def press(item: tuple[str, str, str]) -> int:
            cookie, token, csrf = item
            data = {
                "csrf_token": csrf,
                "submit_token": token,
                "declaration": "yes",
                "consent": "yes",
            }
            barrier.wait()
            url = f"/rounds/{made.slug}/send"
            return room.post(url, data=data, headers={"cookie": cookie}).status_code

        with ThreadPoolExecutor(max_workers=len(presses)) as pool:
            results = list(pool.map(press, presses))
    assert set(results) == {303}, results
    with Session(engine) as db:
        sent = db.exec(select(Application).where(Application.round_id == made.id)).all()
        assert len(sent) == 30
        assert len({a.number for a in sent}) == 30 and len({a.reference for a in sent}) == 30
        receipts = db.exec(
            select(OutboxEmail).where(col(OutboxEmail.subject).contains("We have your application"))
        ).all()
        assert len([r for r in receipts if r.to_address.startswith("applicant")]) == 30


# --- the deadline --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closes", "label"),
    [
        (datetime(2027, 2, 5, 23, 59, tzinfo=LONDON), "winter"),
        (datetime(2026, 10, 25, 23, 59, tzinfo=LONDON), "the day the clocks go back"),
        (datetime(2026, 3, 29, 23, 59, tzinfo=LONDON), "the day the clocks go forward"),
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "participant", "reviewer", "admin"])
@pytest.mark.parametrize(
    ("offset", "accepted"), [(-SECOND, True), (timedelta(0), False), (SECOND, False)]
)
def test_the_deadline_to_the_second(client, session, clock, closes, label, who, offset, accepted):
    closes_at = closes.astimezone(UTC)
    clock.now = closes_at - timedelta(days=2)
    made = build_round(
        session, clock.now, closes_at=closes_at, opens_at=clock.now - timedelta(days=9)
    )
    if who == "participant":
        sign_in(client, session, participant=make_participant(session), now=clock.now)
    elif who in ("reviewer", "admin"):
        role = Role.ADMIN if who == "admin" else Role.REVIEWER
        sign_in(client, session, staff=make_staff(session, role), now=clock.now)
    answer_all(client, made)
    token = submit_token(client, made)
    clock.now = closes_at + offset
    response, _ = send(client, made, token)
    if accepted:
        assert response.status_code == 303, label
        assert len(applications(session, made)) == 1
        return
    assert response.status_code == 200 and "<title>Error: Your saved answers" in response.text
    day = closes.strftime("%A %-d %B")
    assert f"Sorry, applications closed on {day} at 11:59pm" in response.text
    assert "We have kept your answers for you below" in response.text
    assert "Hilltop Academy" in response.text
    assert applications(session, made) == []
    # The draft is kept and visible afterwards, and saving still works.
    assert "Your saved answers" in client.get(f"/rounds/{made.slug}").text
    assert answer(client, made, "q2", {"answer": "Riverside"}).status_code == 303
    kept = client.get(f"/rounds/{made.slug}/check")
    assert "Riverside" in kept.text and "You can't send this application now" in kept.text


def test_not_open_yet_and_closed_by_staff_take_no_applications(client, session, clock):
    later = build_round(session, clock.now, opens_at=clock.now + timedelta(days=2))
    assert "Opens on Wednesday 25 November at 10am" in client.get(f"/rounds/{later.slug}").text
    assert client.get(f"/rounds/{later.slug}/apply/q1").status_code == 303
    shut = build_round(session, clock.now, status=RoundStatus.CLOSED)
    assert client.get(f"/rounds/{shut.slug}/apply/q1").status_code == 303


# --- save and come back, late drafts, extensions, the closing time ------------------------------


def test_save_and_come_back_on_another_phone(client, app, session, round_, clock):
    answer(client, round_, "q1", {"answer": "To help"})
    response = answer(client, round_, "q2", {"answer": "Hilltop", "action": "save"})
    assert response.headers["location"] == f"/rounds/{round_.slug}/save"
    sent = client.submit(f"/rounds/{round_.slug}/save", {"email": "mum@example.org"}, page="/")
    assert sent.status_code == 303
    link = resume_link(session, round_, "mum@example.org")
    with Client(app, base_url="http://testserver", follow_redirects=False) as other:
        assert "Carry on" in other.get(link).text
        used = other.submit(link.split("?")[0], {"token": link.split("=")[1]}, page="/")
        assert used.headers["location"] == f"/rounds/{round_.slug}/apply/q3"
        again = other.submit(link.split("?")[0], {"token": link.split("=")[1]}, page="/")
        assert again.status_code == 400  # a link works once


def test_staff_see_late_drafts_and_give_one_person_more_time(client, app, session, round_, clock):
    answer_all(client, round_)
    token = submit_token(client, round_)
    clock.now = round_.closes_at + timedelta(hours=1)
    refused, _ = send(client, round_, token)
    assert refused.status_code == 200 and applications(session, round_) == []
    with Client(app, base_url="http://testserver", follow_redirects=False) as admin:
        sign_in(admin, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
        page = admin.get(f"/staff/rounds/{round_.id}")
        assert "sky@example.org" in page.text and "Give more time" in page.text
        draft_id = re.search(r'name="draft_id" value="(\d+)"', page.text).group(1)
        granted = admin.submit(
            f"/staff/rounds/{round_.id}/extension", {"draft_id": draft_id}, page="/"
        )
        assert granted.status_code == 303
    link = resume_link(session, round_, "sky@example.org", "More time")
    assert "Carry on" in client.get(link).text
    client.submit(link.split("?")[0], {"token": link.split("=")[1]}, page="/")
    assert "We gave you more time" in client.get(f"/rounds/{round_.slug}").text
    response, _ = send(client, round_)
    assert response.status_code == 303 and len(applications(session, round_)) == 1
    # Nobody else got more time.
    with Client(app, base_url="http://testserver", follow_redirects=False) as other:
        answer_all(
            other, round_, **{"about-you": {**ANSWERS["about-you"], "email": "x@example.org"}}
        )
        assert other.get(f"/rounds/{round_.slug}/send").status_code == 303


def test_closing_earlier_needs_confirming_later_emails_unsent_drafts(client, app, session, clock):
    made = build_round(session, clock.now)
    apply(client, made, "first@example.org")
    with Client(app, base_url="http://testserver", follow_redirects=False) as unsent:
        answer_all(
            unsent, made, **{"about-you": {**ANSWERS["about-you"], "email": "late@example.org"}}
        )
    admin = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=admin, now=clock.now)
    url = f"/staff/rounds/{made.id}/closing"
    earlier = client.submit(url, {"closes_at": "2026-12-01T23:59"}, page="/")
    assert earlier.status_code == 200 and "Tick the box to confirm" in earlier.text
    session.refresh(made)
    assert made.closes_at == clock.now + timedelta(days=30)
    confirmed = client.submit(url, {"closes_at": "2026-12-01T23:59", "confirm": "yes"}, page="/")
    assert confirmed.status_code == 303
    later = client.submit(url, {"closes_at": "2027-01-10T23:59"}, page="/")
    assert later.status_code == 303 and "?" not in later.headers["location"]
    assert (
        "1 people with unsent applications were emailed"
        in client.get(later.headers["location"]).text
    )  # said by a flash message, never the address bar
    told = emails_to(session, "late@example.org", "More time to apply")
    assert len(told) == 1 and "Sunday 10 January at 11:59pm" in told[0].body_text


# --- blind review, decisions, outcomes -----------------------------------------------------------


def _scores(client: Client, round_: Round, number: int, *marks: int, comment: str = ""):
    data = {f"score-{i}": str(m) for i, m in enumerate(marks)}
    return client.submit(
        f"/staff/rounds/{round_.id}/review/{number}", {**data, "comment": comment}, page="/"
    )


def test_blind_review_scores_decisions_and_outcomes_for_everyone(client, app, session, clock):
    made = build_round(session, clock.now)
    tokens = {}
    for i in range(3):
        with Client(app, base_url="http://testserver", follow_redirects=False) as phone:
            tokens[i] = apply(phone, made, f"person{i}@example.org")
    sent = applications(session, made)
    numbers = sorted(a.number for a in sent)
    one, two = make_staff(session, Role.REVIEWER), make_staff(session, Role.REVIEWER)
    sign_in(client, session, staff=one, now=clock.now)
    listing = client.get(f"/staff/rounds/{made.id}/review")
    assert listing.status_code == 200 and f"Applicant {numbers[0]}" in listing.text
    assert "Sky Jones" not in listing.text and "person0@" not in listing.text
    page = client.get(f"/staff/rounds/{made.id}/review/{numbers[0]}").text
    assert "To help others like me" in page and "Have you been in care?" in page
    for secret in ("Sky Jones", "person0@example.org", "Hilltop Academy", "A quiet room", "HRD-"):
        assert secret not in page, secret
    assert "Error:" in _scores(client, made, numbers[0], 3).text  # a criterion left out
    assert _scores(client, made, numbers[0], 4, 4, comment="Clear").status_code == 303
    # The second reviewer can't see the first one's scores until they have scored.
    sign_in(client, session, staff=two, now=clock.now)
    before = client.get(f"/staff/rounds/{made.id}/review/{numbers[0]}").text
    assert "Clear" not in before and "1 reviewer has scored" in before
    _scores(client, made, numbers[0], 0, 3)
    after = client.get(f"/staff/rounds/{made.id}/review/{numbers[0]}").text
    assert "Clear" in after and "Reviewers disagree a lot" in after
    assert "Reviewers disagree" in client.get(f"/staff/rounds/{made.id}/review").text
    assert client.post(f"/staff/rounds/{made.id}/review/{numbers[0]}/decision").status_code == 403
    # An admin decides every application, with a reason, and emails everyone once.
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    base = f"/staff/rounds/{made.id}/review"
    missing = client.submit(f"{base}/{numbers[0]}/decision", {"outcome": "offer"}, page="/")
    assert "Give a reason, for the record" in missing.text
    for number, outcome in zip(numbers, ["offer", "waiting_list", "decline"], strict=True):
        data = {"outcome": outcome, "reason": "Scored well"}
        assert client.submit(f"{base}/{number}/decision", data, page="/").status_code == 303
    assert "3 of 3 applications decided" in client.get(f"/staff/rounds/{made.id}").text
    for _ in range(2):
        client.submit(f"/staff/rounds/{made.id}/outcomes", {}, page="/")
    for i in range(3):
        told = emails_to(session, f"person{i}@example.org", "Your application")
        assert len(told) == 1
    assert "3 applicants told" in client.get(f"/staff/rounds/{made.id}").text
    decisions = session.exec(select(Decision)).all()
    assert {d.reason for d in decisions} == {"Scored well"}


def test_outcome_templates_are_editable(client, session, round_, clock, app):
    with Client(app, base_url="http://testserver", follow_redirects=False) as phone:
        token = apply(phone, round_)
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    words = {f"template-{o}": "" for o in ("shortlist", "waiting_list", "decline")}
    words["template-offer"] = "Welcome to {round}! {not a field}"
    assert client.submit(f"/staff/rounds/{round_.id}/templates", words, page="/").status_code == 303
    number = applications(session, round_)[0].number
    data = {"outcome": "offer", "reason": "Good"}
    client.submit(f"/staff/rounds/{round_.id}/review/{number}/decision", data, page="/")
    client.submit(f"/staff/rounds/{round_.id}/outcomes", {}, page="/")
    told = emails_to(session, "sky@example.org", "Your application")[0]
    assert f'Welcome to "{round_.title}"! {{not a field}}' in told.body_text
    # The applicant sees the outcome on their own page.
    from app.services import rounds as service

    manage = service.manage_token(app.state.settings, token)
    assert "Welcome to" in client.get(f"/applications/{manage}").text


def test_the_applicant_sees_and_withdraws_their_application(client, session, round_, app):
    token = apply(client, round_)
    done = client.get(f"/rounds/{round_.slug}/done?token={token}").text
    manage = re.search(r'href="(/applications/[0-9a-f]+)"', done).group(1)
    page = client.get(manage).text
    assert "We have not decided yet" in page and "Hilltop Academy" in page
    assert client.submit(f"{manage}/withdraw", {}, page="/").status_code == 303
    assert applications(session, round_)[0].status == ApplicationStatus.WITHDRAWN
    assert "You took your application back" in client.get(manage).text
    # Someone else's (made-up) link finds nothing.
    assert client.get("/applications/" + "0" * 64).status_code == 404


# --- staff build a round -------------------------------------------------------------------------


def test_an_admin_builds_and_opens_a_round(client, session, clock):
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    form = {
        "group": "Experts by experience",
        "title": "Join us",
        "summary": "We help.",
        "time_asked": "A day a month.",
        "in_return": "Vouchers.",
        "min_age": "16",
        "max_age": "14",
        "who_can_apply": "Care experience.",
        "how_info_used": "To choose.",
        "criteria": "Experience\nCare",
        "opens_at": "2026-11-24T09:00",
        "closes_at": "2026-11-23T09:00",
    }
    bad = client.submit("/staff/rounds/new", form, page="/")
    assert "The closing time must be after" in bad.text and "The oldest age" in bad.text
    made = client.submit(
        "/staff/rounds/new", {**form, "max_age": "25", "closes_at": "2027-02-05T23:59"}, page="/"
    )
    assert made.status_code == 303
    url = made.headers["location"]
    question = {"text": "Why?", "kind": "one_choice", "options": "Only one"}
    assert (
        "Enter at least two choices" in client.submit(f"{url}/questions", question, page="/").text
    )
    question = {"text": "Where do you live?", "kind": "short_text", "identifying": "yes"}
    assert client.submit(f"{url}/questions", question, page="/").status_code == 303
    client.submit(f"{url}/status", {}, page="/")
    session.expire_all()
    built = session.exec(select(Round).where(Round.title == "Join us")).one()
    assert built.status == RoundStatus.OPEN and built.criteria == ["Experience", "Care"]
    asked = session.exec(select(RoundQuestion).where(RoundQuestion.round_id == built.id)).one()
    assert asked.identifying


def test_reviewers_can_not_run_rounds_and_participants_can_not_review(
    client, session, round_, clock
):
    sign_in(client, session, staff=make_staff(session, Role.REVIEWER), now=clock.now)
    assert client.get(f"/staff/rounds/{round_.id}").status_code == 403
    assert client.get(f"/staff/rounds/{round_.id}/review").status_code == 200
    sign_in(client, session, participant=make_participant(session), now=clock.now)
    assert client.get(f"/staff/rounds/{round_.id}/review").status_code in {302, 303, 403}


# --- hostile input, personal data, retention ----------------------------------------------------


def test_hostile_input_in_every_field_is_never_a_500(client, app, session, round_, clock):
    base = f"/rounds/{round_.slug}"
    admin = make_staff(session, Role.ADMIN)
    for value in hostile_inputs():
        app.state.rate_limits.reset()
        for step in ("q1", "q2", "q3", "adjustments"):
            inert(client.submit_raw(f"{base}/apply/{step}", {"answer": value}, page="/"))
        about = {"name": value, "email": value, "age": value}
        inert(client.submit_raw(f"{base}/apply/about-you", about, page="/"))
        data = {"submit_token": value, "declaration": value, "consent": value}
        inert(client.submit_raw(f"{base}/send", data, page="/"))
        inert(client.submit_raw(f"{base}/save", {"email": value}, page="/"))
        inert(client.submit_raw(f"{base}/resume", {"token": value}, page="/"))
    apply(client, round_)
    number = applications(session, round_)[0].number
    sign_in(client, session, staff=admin, now=clock.now)
    for value in hostile_inputs():
        staff = f"/staff/rounds/{round_.id}"
        scores = {"score-0": value, "score-1": value, "comment": value}
        inert(client.submit_raw(f"{staff}/review/{number}", scores, page="/"))
        decision = {"outcome": value, "reason": value}
        inert(client.submit_raw(f"{staff}/review/{number}/decision", decision, page="/"))
        page = value[:200].encode("utf-8", "replace").decode()
        inert(client.get(f"{staff}/review", params={"page": page}))
        inert(
            client.submit_raw(f"{staff}/closing", {"closes_at": value, "confirm": value}, page="/")
        )
        inert(client.submit_raw(f"{staff}/extension", {"draft_id": value}, page="/"))
        inert(client.submit_raw(f"{staff}/questions", {"text": value, "kind": value}, page="/"))
        inert(client.submit_raw(f"{staff}/templates", {"template-offer": value}, page="/"))
    # Within its limit, hostile text is kept exactly and shown inert.
    kept = answer(client, round_, "q2", {"answer": "<script>alert(1)</script>"})
    assert kept.status_code == 303
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"{base}/apply/q2").text


def test_applications_are_exported_erased_and_kept_only_so_long(
    client, session, round_, clock, settings
):
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    apply(client, round_)
    sections = {s.table: s for s in my_data.export(session, person.id)}
    assert sections["application"].rows[0]["name"] == "Sky Jones"
    number = applications(session, round_)[0].number
    reviewer = make_staff(session, Role.REVIEWER)
    session.add(
        Review(
            application_id=applications(session, round_)[0].id,
            reviewer_id=reviewer.id,
            scores=[1, 2],
        )
    )
    session.commit()
    # Kept while the round runs; erased keep_days after it is decided, reviews with it.
    retention.enforce(session, settings, clock.now + timedelta(days=400))
    assert len(applications(session, round_)) == 1
    from app.services import rounds_staff
    from app.services.identity import Identity

    admin = Identity(staff=make_staff(session, Role.ADMIN), roles={(Role.ADMIN, None)})
    for _ in range(3):
        rounds_staff.move_on(session, round_, clock.now, admin)
    assert round_.status == RoundStatus.DECIDED
    session.commit()
    retention.enforce(session, settings, clock.now + timedelta(days=181))
    assert applications(session, round_) == [] and session.exec(select(Review)).all() == []
    assert number  # the number went with it


def test_erasing_a_participant_erases_their_applications(client, session, round_, clock):
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    apply(client, round_)
    my_data.erase(session, "participant", person.id, reason="asked")
    assert applications(session, round_) == []


def test_the_demo_round_loads_once_and_can_be_applied_to(client, session, clock):
    from app.services import rounds_demo

    made = rounds_demo.load(session, clock.now)
    assert rounds_demo.load(session, clock.now).id == made.id
    session.commit()
    page = client.get(f"/rounds/{made.slug}")
    assert page.status_code == 200 and "Start your application" in page.text


def test_the_csv_export_is_for_admins_safe_in_spreadsheets_and_audited(
    client, session, round_, clock, app
):
    from app.models import AuditEntry

    with Client(app, base_url="http://testserver", follow_redirects=False) as phone:
        apply(phone, round_, name="=HYPERLINK(1)")
    url = f"/staff/rounds/{round_.id}/applications.csv"
    sign_in(client, session, staff=make_staff(session, Role.REVIEWER), now=clock.now)
    assert client.get(url).status_code == 403
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    export = client.get(url)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert "'=HYPERLINK(1)" in export.text and "Mean: Lived experience" in export.text
    session.expire_all()
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "round.exported")).first()
