"""Answering a call online: one question a page, check answers, consent, send once, receipt,
save and come back, the deadline to the second, hostile input, personal data; and staff."""

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
    Call,
    CallAnswer,
    CallKind,
    CallResponse,
    CallStatus,
    ConsentPurpose,
    OutboxEmail,
    Programme,
    Question,
    QuestionKind,
    Role,
)
from app.security import token_hash
from app.services import consent, demo, my_data, retention
from tests.conftest import Client
from tests.factories import make_participant, make_programme, make_staff, sign_in
from tests.journey_helpers import (
    LONDON,
    SECOND,
    answer,
    answer_each,
    committing_app,
    hostile_inputs,
    inert,
    resume_link,
    submit_token,
)
from tests.journey_helpers import send as send_with

KINDS = [
    {"text": "What helped you?", "kind": QuestionKind.LONG_TEXT, "max_chars": 100,
     "young_text": "What made things better?", "hint": "A person or a place."},
    {"text": "Where do you live?", "kind": QuestionKind.SHORT_TEXT},
    {"text": "Pick a colour", "kind": QuestionKind.ONE_CHOICE, "options": ["Red", "Blue"]},
    {"text": "Pick some", "kind": QuestionKind.SEVERAL_CHOICES, "options": ["A", "B", "C"]},
    {"text": "Did it help?", "kind": QuestionKind.YES_NO},
    {"text": "How much?", "kind": QuestionKind.SCALE, "options": ["Not at all", "A lot"]},
]  # fmt: skip
ANSWERS = {
    "q1": {"answer": "My nan"},
    "q2": {"answer": "Leeds"},
    "q3": {"answer": "Blue"},
    "q4": {"answer": ["A", "C"]},
    "q5": {"answer": "yes"},
    "q6": {"answer": "4"},
    "about-you": {"display_name": "Sky", "email": "sky@example.org", "age_band": "16_17"},
}


def build_call(session: Session, now: datetime, questions=KINDS, **overrides: Any) -> Call:
    programme = make_programme(session)
    values: dict[str, Any] = {
        "programme_id": programme.id,
        "slug": f"call-{programme.id}",
        "kind": CallKind.IDEAS,
        "title": "Ideas for change",
        "summary": "Tell us what should change.",
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
    }
    values.update(overrides)
    call = Call(**values)
    session.add(call)
    session.flush()
    for number, spec in enumerate(questions, start=1):
        session.add(Question(call_id=call.id, number=number, **spec))
    session.commit()
    return call


@pytest.fixture
def call(session, clock) -> Call:
    return build_call(session, clock.now)


def answer_all(client: Client, call: Call, **changes: dict[str, Any]) -> None:
    answer_each(client, call, {**ANSWERS, **changes})


def send(client: Client, call: Call, quote: bool = False):
    return send_with(client, call, {"quote": "yes"} if quote else {})


def responses(session: Session, call: Call) -> list[CallResponse]:
    session.expire_all()
    return list(session.exec(select(CallResponse).where(CallResponse.call_id == call.id)))


# --- the call and its questions ---------------------------------------------------------------


def test_the_call_page_says_when_it_closes_and_where_to_start(client, call, clock):
    clock.now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    page = client.get(f"/calls/{call.slug}")
    assert page.status_code == 200
    assert "Closes on Wednesday 23 December at 10am" in page.text
    assert f'href="/calls/{call.slug}/answer/q1">Start now' in page.text
    assert "Answering online is coming soon" not in page.text
    clock.now = call.closes_at - timedelta(days=3)
    assert "Closes in 3 days" in client.get(f"/calls/{call.slug}").text
    clock.now = call.closes_at
    closed = client.get(f"/calls/{call.slug}").text
    assert "closed on Wednesday 23 December at 10am" in closed and "Start now" not in closed


def test_a_draft_call_is_seen_only_by_staff_who_build_it(client, session, clock):
    draft = build_call(session, clock.now, status=CallStatus.DRAFT)
    assert client.get(f"/calls/{draft.slug}").status_code == 404
    sign_in(client, session, staff=make_staff(session, Role.ANALYST), now=clock.now)
    assert client.get(f"/calls/{draft.slug}").status_code == 404
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    page = client.get(f"/calls/{draft.slug}")
    assert page.status_code == 200 and "Only staff can see it" in page.text
    # Nobody can answer a draft, not even its admin.
    assert client.get(f"/calls/{draft.slug}/answer/q1").status_code == 303


def test_one_question_a_page(client, call):
    page = client.get(f"/calls/{call.slug}/answer/q2")
    assert "<title>Where do you live? – Heard</title>" in page.text
    assert "Question 2 of 6" in page.text
    assert re.search(r"<h1><label[^>]*>Where do you live\?</label></h1>", page.text)
    assert 'value="save"' in page.text  # Save and come back later
    assert client.get(f"/calls/{call.slug}/answer/q99").status_code == 404
    assert client.get("/calls/no-such-call/answer/q1").status_code == 404


def test_every_kind_of_question_is_answered_checked_and_sent(client, session, call, clock):
    answer_all(client, call)
    check = client.get(f"/calls/{call.slug}/check")
    assert check.status_code == 200 and "Check your answers" in check.text
    for words in ("My nan", "Leeds", "Blue", "A<br>C", "Yes", "4 out of 5", "Sky", "16 or 17"):
        assert words in check.text
    assert f'href="/calls/{call.slug}/answer/q3?change=1"' in check.text
    response, token = send(client, call)
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"/calls/{call.slug}/done?token=")
    done = client.get(response.headers["location"])
    [row] = responses(session, call)
    assert re.fullmatch(r"HRD-[A-Z2-9]{4}-[A-Z2-9]{2}", row.reference)
    assert row.reference in done.text and "What happens next" in done.text
    assert row.submit_token_hash == token_hash(token) and token not in row.model_dump_json()
    assert [a["answer"] for a in row.answers] == [
        "My nan",
        "Leeds",
        "Blue",
        "A\nC",
        "Yes",
        "4 out of 5",
    ]
    assert (row.display_name, row.email, row.age_band) == ("Sky", "sky@example.org", "16_17")
    stored = session.exec(select(CallAnswer).where(CallAnswer.response_id == row.id)).all()
    assert sorted(a.choices for a in stored) == [[], [], ["4"], ["A", "C"], ["Blue"], ["yes"]]
    assert row.erase_after == call.closes_at + timedelta(days=365)
    # The draft is gone: a new visit starts afresh.
    assert session.exec(select(JourneyDraft)).all() == []


def test_errors_show_a_summary_and_keep_what_was_typed(client, session, clock):
    strict = build_call(session, clock.now, allow_skip=False)
    empty = answer(client, strict, "q1", {"answer": ""})
    assert empty.status_code == 200 and "<title>Error: What helped you?" in empty.text
    assert '<a href="#answer">Enter your answer</a>' in empty.text
    long = "x" * 130
    over = answer(client, strict, "q1", {"answer": long})
    assert "Your answer must be 100 characters or fewer" in over.text
    assert long in over.text and "You have 30 characters too many" in over.text
    wrong = answer(client, strict, "q3", {"answer": "Green"})
    assert "Choose one of the answers" in wrong.text
    several = answer(client, strict, "q4", {"answer": ["A", "Z"]})
    assert "Choose answers from the list" in several.text
    assert "Choose at least one answer" in answer(client, strict, "q4", {}).text
    assert "Choose an answer" in answer(client, strict, "q6", {"answer": ""}).text
    # Nothing that failed its checks reached the draft.
    assert session.exec(select(JourneyDraft)).all() == []


def test_questions_may_be_left_out_when_the_call_allows_it(client, session, call):
    answer_all(client, call, q1={"answer": ""}, q4={}, **{"about-you": {}})
    check = client.get(f"/calls/{call.slug}/check")
    assert check.text.count("Not answered") == 5  # q1, q4, name, email, age
    assert send(client, call)[0].status_code == 303
    assert responses(session, call)[0].email is None


def test_a_call_that_needs_a_name_asks_for_one(client, session, clock):
    named = build_call(session, clock.now, allow_anonymous=False)
    page = answer(client, named, "about-you", {"age_band": "18_25"})
    assert "Enter your name" in page.text and "Enter your email address" in page.text
    assert 'value="18_25" checked' in page.text
    assert (
        "Enter an email address like name@example.com"
        in answer(client, named, "about-you", {"display_name": "Sky", "email": "not an email"}).text
    )


def test_the_young_persons_words(client, call):
    usual = client.get(f"/calls/{call.slug}/answer/q1")
    assert "What helped you?" in usual.text and "Show easier words" in usual.text
    young = client.get(f"/calls/{call.slug}/answer/q1?young=1")
    assert "What made things better?" in young.text and "Show the usual words" in young.text
    assert f'action="/calls/{call.slug}/answer/q1?young=1"' in young.text
    # The choice is kept from page to page.
    nxt = answer(client, call, "q1", {"answer": "Nan"}, "?young=1")
    assert nxt.headers["location"] == f"/calls/{call.slug}/answer/q2?young=1"
    # A question without young words has no toggle.
    assert "Show easier words" not in client.get(f"/calls/{call.slug}/answer/q2").text
    # With HTMX, only the question block is swapped.
    fragment = client.get(
        f"/calls/{call.slug}/answer/q1?young=1",
        headers={"HX-Request": "true", "HX-Target": "question"},
    )
    assert fragment.text.lstrip().startswith('<div id="question"') and "<html" not in fragment.text
    start = client.get(f"/calls/{call.slug}?young=1").text
    assert "What made things better?" in start


def test_change_links_come_back_to_check_your_answers(client, call):
    answer_all(client, call)
    page = client.get(f"/calls/{call.slug}/answer/q2?change=1")
    assert f'href="/calls/{call.slug}/check"' in page.text  # Back goes to check
    changed = answer(client, call, "q2", {"answer": "York"}, "?change=1")
    assert changed.headers["location"] == f"/calls/{call.slug}/check"
    assert "York" in client.get(f"/calls/{call.slug}/check").text


def test_check_sends_people_to_what_is_missing(client, call):
    assert client.get(f"/calls/{call.slug}/check").headers["location"] == f"/calls/{call.slug}"
    answer(client, call, "q1", {"answer": "Nan"})
    missing = client.get(f"/calls/{call.slug}/check")
    assert missing.headers["location"] == f"/calls/{call.slug}/answer/q2"
    assert client.get(f"/calls/{call.slug}/send").headers["location"].endswith("/check")


# --- sending once ----------------------------------------------------------------------------


def test_a_double_tap_the_back_button_and_a_replay_make_one_response(client, session, call):
    answer_all(client, call)
    first, token = send(client, call)
    for _ in range(3):  # pressed again, or the page re-posted from history
        again = client.submit(f"/calls/{call.slug}/send", {"submit_token": token}, page="/")
        assert again.headers["location"] == first.headers["location"]
    assert len(responses(session, call)) == 1
    emails = session.exec(select(OutboxEmail).where(OutboxEmail.to_address == "sky@example.org"))
    assert len(emails.all()) == 1


def test_a_second_response_from_the_same_phone_is_a_new_one(client, session, call):
    answer_all(client, call)
    send(client, call)
    answer_all(client, call)
    send(client, call)
    assert len({r.reference for r in responses(session, call)}) == 2


def test_an_old_page_with_another_token_is_shown_again(client, session, call):
    answer_all(client, call)
    page = client.submit(f"/calls/{call.slug}/send", {"submit_token": "old"}, page="/")
    assert page.status_code == 200 and "Check them and press" in page.text
    assert responses(session, call) == []


@pytest.fixture
def real_app(engine, settings, clock):
    app = committing_app(settings, engine, clock)
    with Session(engine, expire_on_commit=False) as db:
        call = build_call(db, clock.now)
        db.expunge(call)
    yield app, call
    with Session(engine) as db:
        db.exec(delete(Call).where(col(Call.id) == call.id))
        db.exec(delete(Programme).where(col(Programme.id) == call.programme_id))
        db.exec(delete(JourneyDraft).where(col(JourneyDraft.journey) == f"call:{call.id}"))
        db.exec(delete(OutboxEmail).where(col(OutboxEmail.to_address) == "sky@example.org"))
        db.commit()


def test_ten_sends_at_once_from_two_tabs_make_one_response(real_app, engine):
    """Concurrent POSTs through the whole app, committing, on SQLite and PostgreSQL: one
    browser (its cookie) pressing "Send" in several tabs at the same moment."""
    app, call = real_app
    with Client(app, base_url="http://testserver", follow_redirects=False) as browser:
        answer_all(browser, call)
        token = submit_token(browser, call)
        csrf = browser.csrf("/")
        barrier = threading.Barrier(10)

        def press(_: int) -> tuple[int, str]:
            barrier.wait()
            response = browser.post(
                f"/calls/{call.slug}/send", data={"csrf_token": csrf, "submit_token": token}
            )
            return response.status_code, response.headers.get("location", "")

        with ThreadPoolExecutor(max_workers=10) as pool:
            results = list(pool.map(press, range(10)))
    assert {status for status, _ in results} == {303}
    assert len({location for _, location in results}) == 1
    with Session(engine) as db:
        assert len(db.exec(select(CallResponse).where(CallResponse.call_id == call.id)).all()) == 1
        receipts = db.exec(select(OutboxEmail).where(OutboxEmail.to_address == "sky@example.org"))
        assert len(receipts.all()) == 1


# --- the deadline ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closes", "label"),
    [
        (datetime(2027, 2, 5, 23, 59, tzinfo=LONDON), "winter"),
        (datetime(2026, 10, 25, 23, 59, tzinfo=LONDON), "the day the clocks go back"),
        (datetime(2026, 3, 29, 23, 59, tzinfo=LONDON), "the day the clocks go forward"),
    ],
)
@pytest.mark.parametrize("who", ["anonymous", "participant", "admin"])
@pytest.mark.parametrize(
    ("offset", "accepted"), [(-SECOND, True), (timedelta(0), False), (SECOND, False)]
)
def test_the_deadline_to_the_second(client, session, clock, closes, label, who, offset, accepted):
    closes_at = closes.astimezone(UTC)
    clock.now = closes_at - timedelta(days=2)
    call = build_call(
        session, clock.now, closes_at=closes_at, opens_at=clock.now - timedelta(days=9)
    )
    if who == "participant":
        sign_in(client, session, participant=make_participant(session), now=clock.now)
    elif who == "admin":
        sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    answer_all(client, call)
    page = client.get(f"/calls/{call.slug}/send")
    token = re.search(r'name="submit_token" value="([^"]*)"', page.text).group(1)
    clock.now = closes_at + offset
    response = client.submit(f"/calls/{call.slug}/send", {"submit_token": token}, page="/")
    if accepted:
        assert response.status_code == 303, label
        assert len(responses(session, call)) == 1
        return
    assert response.status_code == 200 and "<title>Error: Your saved answers" in response.text
    day = closes.strftime("%A %-d %B")
    assert f"Sorry, this call closed on {day} at 11:59pm" in response.text
    assert "We have kept them for you below" in response.text and "My nan" in response.text
    assert responses(session, call) == []
    # The draft is kept and visible afterwards, and saving still works.
    assert "Your saved answers" in client.get(f"/calls/{call.slug}").text
    assert answer(client, call, "q2", {"answer": "York"}).status_code == 303
    kept = client.get(f"/calls/{call.slug}/check")
    assert "York" in kept.text and "You can't send these answers now" in kept.text
    assert "Change" not in kept.text


def test_a_call_not_open_yet_takes_no_answers(client, session, clock):
    later = build_call(session, clock.now, opens_at=clock.now + timedelta(days=2))
    assert "Opens on Wednesday 25 November at 10am" in client.get(f"/calls/{later.slug}").text
    assert client.get(f"/calls/{later.slug}/answer/q1").status_code == 303


# --- save and come back later --------------------------------------------------------------------


def test_save_and_come_back_on_another_phone(client, app, session, call, clock):
    answer(client, call, "q1", {"answer": "My nan"})
    saving = answer(client, call, "q2", {"answer": "Leeds", "action": "save"})
    assert saving.headers["location"] == f"/calls/{call.slug}/save"
    assert "Email address" in client.get(f"/calls/{call.slug}/save").text
    bad = client.submit(f"/calls/{call.slug}/save", {"email": "nope"}, page="/")
    assert "Enter an email address like name@example.com" in bad.text and 'value="nope"' in bad.text
    sent = client.submit(f"/calls/{call.slug}/save", {"email": "me@example.org"}, page="/")
    assert sent.headers["location"] == f"/calls/{call.slug}/saved"
    link = resume_link(session, call, "me@example.org")
    token = link.split("token=")[1]
    [draft] = session.exec(select(JourneyDraft)).all()
    assert draft.resume_token_hash == token_hash(token) and token not in draft.model_dump_json()

    with Client(app, base_url="http://testserver", follow_redirects=False) as phone:
        opened = phone.get(link)  # opening the link uses nothing (email scanners open links)
        assert opened.status_code == 200 and "Carry on" in opened.text
        used = phone.submit(f"/calls/{call.slug}/resume", {"token": token}, page="/")
        assert used.headers["location"] == f"/calls/{call.slug}/answer/q3"
        assert 'value="Leeds"' in phone.get(f"/calls/{call.slug}/answer/q2").text
        again = phone.submit(f"/calls/{call.slug}/resume", {"token": token}, page="/")
        assert again.status_code == 400 and "does not work any more" in again.text
    assert "does not work any more" in client.get(link).text


def test_a_resume_link_expires_after_7_days(client, session, call, clock):
    answer(client, call, "q1", {"answer": "My nan", "action": "save"})
    client.submit(f"/calls/{call.slug}/save", {"email": "me@example.org"}, page="/")
    link = resume_link(session, call, "me@example.org")
    clock.advance(days=7)
    assert "does not work any more" in client.get(link).text


def test_saving_before_answering_anything_says_there_is_nothing_to_save(client, call):
    pressed = answer(client, call, "q1", {"answer": "", "action": "save"})
    assert pressed.headers["location"] == f"/calls/{call.slug}/save"
    assert "There is nothing to save yet" in client.get(f"/calls/{call.slug}/save").text


# --- receipt, consent, personal data --------------------------------------------------------------


def test_the_receipt_has_the_reference_and_a_copy_of_the_answers(client, session, call):
    answer_all(client, call)
    send(client, call)
    [row] = responses(session, call)
    [email] = session.exec(select(OutboxEmail).where(OutboxEmail.to_address == "sky@example.org"))
    assert row.reference in email.body_text and "What happens next" in email.body_text
    assert "3. Pick a colour\nBlue" in email.body_text and "My nan" in email.body_text
    assert email.dedupe_key == f"call-receipt-{row.id}"


def test_consent_to_be_quoted_is_separate_unticked_and_recorded_with_its_words(
    client, session, call, clock
):
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    answer_all(client, call)
    page = client.get(f"/calls/{call.slug}/send").text
    assert 'name="quote" type="checkbox" value="yes"' in page and " checked" not in page
    send(client, call, quote=True)
    [row] = responses(session, call)
    wording, version = consent.WORDING[ConsentPurpose.BE_QUOTED]
    assert (row.quote_consent, row.quote_wording, row.quote_version) == (True, wording, version)
    assert row.quote_consent_at == clock.now and row.participant_id == person.id
    assert consent.has_consent(session, person.id, ConsentPurpose.BE_QUOTED)
    # "Stop quoting me" on My stuff covers call answers too.
    consent.withdraw(session, person, ConsentPurpose.BE_QUOTED, clock.advance(days=1))
    session.refresh(row)
    assert not row.quote_consent and row.quote_withdrawn_at == clock.now


def test_no_quote_without_a_tick(client, session, call):
    answer_all(client, call)
    send(client, call)
    [row] = responses(session, call)
    assert not row.quote_consent and row.quote_consent_at is None and row.quote_wording


def test_a_participants_answers_and_drafts_are_exported_erased_and_kept_only_so_long(
    client, session, call, clock, settings
):
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    answer_all(client, call)
    send(client, call)
    answer(client, call, "q1", {"answer": "Unsent"})
    sections = {s.table: s for s in my_data.export(session, person.id)}
    assert sections["call_response"].rows[0]["answers"][0]["answer"] == "My nan"
    download = client.get("/me/data")
    assert download.status_code == 200 and "My nan" in download.text and "Unsent" in download.text
    assert client.get("/me/data.json").json()["sections"]["call_response"]["records"]
    assert sections["journey_draft"].rows[0]["answers"]["q1"]["answer"] == "Unsent"
    # Retention: drafts after 90 days untouched; responses once the call's period is over.
    retention.enforce(session, settings, clock.now + timedelta(days=91))
    assert session.exec(select(JourneyDraft)).all() == []
    assert len(responses(session, call)) == 1
    retention.enforce(session, settings, call.closes_at + timedelta(days=366))
    assert responses(session, call) == []


def test_erasing_a_participant_erases_their_responses(client, session, call, clock):
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    answer_all(client, call)
    send(client, call)
    my_data.erase(session, "participant", person.id, reason="asked")
    assert responses(session, call) == []


# --- hostile input ------------------------------------------------------------------------------


def test_hostile_input_in_every_field_is_never_a_500_and_is_kept(client, app, session, clock):
    strict = build_call(session, clock.now, allow_anonymous=False, allow_skip=False)
    base = f"/calls/{strict.slug}"
    for value in hostile_inputs():
        app.state.rate_limits.reset()  # the limits have tests of their own
        for step in ("q1", "q2", "q3", "q4", "q5", "q6"):
            page = client.submit_raw(f"{base}/answer/{step}", {"answer": value}, page="/")
            inert(page)
        about = {"display_name": value, "email": value, "age_band": value}
        inert(client.submit_raw(f"{base}/answer/about-you", about, page="/"))
        inert(client.submit_raw(f"{base}/send", {"submit_token": value, "quote": value}, page="/"))
        inert(client.submit_raw(f"{base}/save", {"email": value}, page="/"))
        inert(client.submit_raw(f"{base}/resume", {"token": value}, page="/"))
        inert(
            client.get(
                f"{base}/resume", params={"token": value[:500].encode("utf-8", "replace").decode()}
            )
        )
    # What was typed comes back (escaped) when it needs fixing.
    typed = client.submit(f"{base}/answer/q2", {"answer": "<b>" + "y" * 300}, page="/")
    assert "&lt;b&gt;" + "y" * 300 in typed.text
    # Within its limit, hostile text is kept exactly and shown inert.
    kept = client.submit(f"{base}/answer/q1", {"answer": "<script>alert(1)</script>"}, page="/")
    assert kept.status_code == 303
    shown = client.get(f"{base}/answer/q1").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


# --- the demo call on the home page ---------------------------------------------------------


def test_the_home_pages_first_item_is_the_demo_call_and_it_can_be_answered(client, session, clock):
    demo.load(session, clock.now)
    session.commit()
    home = client.get("/").text
    first = re.search(r'<h3><a href="(/calls/[^"]+)">', home)
    assert first and first.group(1) == "/calls/call-for-ideas"
    page = client.get(first.group(1)).text
    assert "Start now" in page
    question = client.get("/calls/call-for-ideas/answer/q2").text
    assert "Question 2 of 6" in question and 'type="radio"' in question


# --- staff: building a call -------------------------------------------------------------------


def test_an_admin_builds_a_call_with_questions_of_every_kind(client, session, clock):
    admin = make_staff(session, Role.ADMIN)
    programme = make_programme(session, "Care review")
    sign_in(client, session, staff=admin, now=clock.now)
    assert "Create a call" in client.get("/staff/calls").text
    empty = client.submit("/staff/calls/new", {"title": "Ideas"})
    assert empty.status_code == 200 and "Enter an introduction in plain English" in empty.text
    assert 'value="Ideas"' in empty.text
    backwards = {
        "programme_id": str(programme.id), "title": "Ideas for change", "summary": "Tell us.",
        "kind": "ideas", "opens_at": "2027-01-04T00:00", "closes_at": "2027-01-03T23:59",
        "allow_anonymous": "yes", "allow_skip": "no", "keep_days": "180", "status": "draft",
    }  # fmt: skip
    assert "The call must close after it opens" in client.submit("/staff/calls/new", backwards).text
    made = client.submit("/staff/calls/new", {**backwards, "closes_at": "2027-02-05T23:59"})
    assert made.status_code == 303
    call = session.exec(select(Call).where(Call.title == "Ideas for change")).one()
    assert call.status == CallStatus.DRAFT and not call.allow_skip and call.keep_days == 180
    assert call.closes_at == datetime(2027, 2, 5, 23, 59, tzinfo=UTC)  # UK winter: GMT
    assert made.headers["location"] == f"/staff/calls/{call.id}"

    base = f"/staff/calls/{call.id}/question"
    assert (
        "Enter at least 2 choices"
        in client.submit(base, {"text": "Pick", "kind": "one_choice"}).text
    )
    assert (
        "For a scale" in client.submit(base, {"text": "How", "kind": "scale", "options": "a"}).text
    )
    for spec in (
        {"text": "Why?", "kind": "long_text", "max_chars": "500", "young_text": "Why is that?"},
        {"text": "Pick", "kind": "one_choice", "options": "Red\nBlue\n"},
        {"text": "How much?", "kind": "scale", "options": "Not at all\nA lot"},
        {"text": "OK?", "kind": "yes_no", "options": "ignored"},
    ):
        assert client.submit(base, spec).status_code == 303
    questions = session.exec(
        select(Question).where(Question.call_id == call.id).order_by(col(Question.number))
    ).all()
    assert [(q.number, q.kind.value, q.options) for q in questions] == [
        (1, "long_text", []), (2, "one_choice", ["Red", "Blue"]),
        (3, "scale", ["Not at all", "A lot"]), (4, "yes_no", []),
    ]  # fmt: skip
    assert questions[0].max_chars == 500 and questions[0].young_text == "Why is that?"
    change = client.get(f"{base}?number=2")
    assert "Change question 2" in change.text and "Red\nBlue" in change.text
    client.submit(
        base, {"number": "2", "text": "Pick one", "kind": "one_choice", "options": "Red\nGreen"}
    )
    client.submit(f"{base}/remove", {"number": "1"}, page=f"/staff/calls/{call.id}")
    session.expire_all()
    left = session.exec(
        select(Question).where(Question.call_id == call.id).order_by(col(Question.number))
    ).all()
    assert [(q.number, q.text) for q in left] == [(1, "Pick one"), (2, "How much?"), (3, "OK?")]
    # Published, it can be answered.
    client.submit(
        f"/staff/calls/{call.id}/edit",
        {**backwards, "closes_at": "2027-02-05T23:59", "status": "published"},
    )
    session.expire_all()
    assert session.get(Call, call.id).status == CallStatus.PUBLISHED


def test_after_the_first_response_questions_keep_their_kind_and_stay(client, session, call, clock):
    answer_all(client, call)
    send(client, call)
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    base = f"/staff/calls/{call.id}/question"
    changed = client.submit(base, {"number": "2", "text": "Town?", "kind": "long_text"})
    assert "People have answered this question, so its kind can" in changed.text
    assert (
        client.submit(base, {"number": "2", "text": "Town?", "kind": "short_text"}).status_code
        == 303
    )
    client.submit(f"{base}/remove", {"number": "1"}, page=f"/staff/calls/{call.id}")
    assert len(session.exec(select(Question).where(Question.call_id == call.id)).all()) == 6


def test_staff_of_another_programme_find_nothing(client, session, call, clock):
    elsewhere = make_programme(session)
    from app.models import StaffRole

    for role in (Role.ADMIN, Role.ANALYST):
        member = make_staff(session)
        session.add(StaffRole(staff_id=member.id, role=role, programme_id=elsewhere.id))
        session.flush()
        sign_in(client, session, staff=member, now=clock.now)
        assert client.get(f"/staff/calls/{call.id}").status_code == 404
        assert client.get(f"/staff/calls/{call.id}/responses.csv").status_code == 404
        assert call.title not in client.get("/staff/calls").text
    own = make_staff(session)
    session.add(StaffRole(staff_id=own.id, role=Role.ANALYST, programme_id=call.programme_id))
    session.flush()
    sign_in(client, session, staff=own, now=clock.now)
    assert client.get(f"/staff/calls/{call.id}").status_code == 200
    assert client.get(f"/staff/calls/{call.id}/edit").status_code == 403  # admins only
    for huge in (2**31, 2**63, 10**30):
        assert client.get(f"/staff/calls/{huge}").status_code == 404


# --- staff: reading responses --------------------------------------------------------------------


def _three_responses(client: Client, session: Session, call: Call, app) -> None:
    for name, town, age, quote in (
        ("Ash", "Leeds", "16_17", True),
        ("Bo", '=HYPERLINK("http://x")', "18_25", False),
        ("Cy", "York", "16_17", False),
    ):
        client.cookies.clear()
        about = {"display_name": name, "email": f"{name.lower()}@example.org", "age_band": age}
        answer_all(client, call, q2={"answer": town}, **{"about-you": about})
        send(client, call, quote=quote)
        app.state.rate_limits.reset()


@pytest.fixture
def analyst(session):
    return make_staff(session, Role.ANALYST)


def test_responses_person_by_person_with_search_filters_and_themes(
    client, session, call, clock, app, analyst
):
    _three_responses(client, session, call, app)
    sign_in(client, session, staff=analyst, now=clock.now)
    base = f"/staff/calls/{call.id}/responses"
    page = client.get(base).text
    assert "3 responses" in page and "Leeds" in page and "Ash" not in page  # no names shown
    assert "1 response" in client.get(base, params={"q": "york"}).text
    assert "2 responses" in client.get(base, params={"age": "16_17"}).text
    assert "1 response" in client.get(base, params={"quote": "yes"}).text
    odd = client.get(
        base, params={"age": "<b>", "theme": "99999999999", "page": "-1", "quote": "x"}
    )
    assert odd.status_code == 200 and "3 responses" in odd.text
    # Themes: add one (a second with the same name is refused), tag, filter, untag.
    assert (
        client.submit(f"/staff/calls/{call.id}/themes", {"name": "Housing"}, page=base).status_code
        == 303
    )
    twice = client.submit(f"/staff/calls/{call.id}/themes", {"name": " Housing "}, page=base)
    assert "There is already a theme with that name" in twice.text
    from app.models import CallTheme

    theme = session.exec(select(CallTheme).where(CallTheme.call_id == call.id)).one()
    york = next(r for r in responses(session, call) if r.answers[1]["answer"] == "York")
    tagged = client.post(
        f"/staff/calls/{call.id}/tag",
        data={"response_id": str(york.id), "theme_id": str(theme.id), "on": "yes", "age": "16_17"},
        headers={"X-CSRF-Token": client.csrf(base), "HX-Request": "true", "HX-Target": "results"},
    )
    assert tagged.text.lstrip().startswith('<section id="results"') and "2 responses" in tagged.text
    assert "Remove “Housing”" in tagged.text
    only = client.get(base, params={"theme": str(theme.id)}).text
    assert "1 response" in only and "York" in only
    plain = client.submit(
        f"/staff/calls/{call.id}/tag",
        {"response_id": str(york.id), "theme_id": str(theme.id), "on": "no"},
        page=base,
    )
    assert plain.status_code == 303 and plain.headers["location"].endswith(f"#response-{york.id}")
    assert "0 responses" in client.get(base, params={"theme": str(theme.id)}).text
    # Someone else's response or theme can't be tagged.
    other = build_call(session, clock.now)
    refused = client.submit(
        f"/staff/calls/{other.id}/tag",
        {"response_id": str(york.id), "theme_id": str(theme.id), "on": "yes"},
        page=base,
    )
    assert refused.status_code == 400


def test_answers_question_by_question(client, session, call, clock, app, analyst):
    _three_responses(client, session, call, app)
    sign_in(client, session, staff=analyst, now=clock.now)
    text = client.get(f"/staff/calls/{call.id}/by-question", params={"number": "2"}).text
    assert "3 people answered" in text and "York" in text
    choice = client.get(f"/staff/calls/{call.id}/by-question", params={"number": "3"}).text
    assert re.search(r"<td>Blue</td><td>3</td>", choice) and re.search(
        r"<td>Red</td><td>0</td>", choice
    )
    fragment = client.get(
        f"/staff/calls/{call.id}/by-question?number=4",
        headers={"HX-Request": "true", "HX-Target": "question-view"},
    )
    assert fragment.text.lstrip().startswith('<section id="question-view"')
    assert client.get(f"/staff/calls/{call.id}/by-question?number=x").status_code == 200


def test_csv_exports_with_and_without_contacts_are_audited_and_safe(
    client, session, call, clock, app, analyst
):
    from app.models import AuditEntry

    _three_responses(client, session, call, app)
    sign_in(client, session, staff=analyst, now=clock.now)
    plain = client.get(f"/staff/calls/{call.id}/responses.csv")
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/csv")
    assert "ash@example.org" not in plain.text and "Name" not in plain.text.splitlines()[0]
    assert "'=HYPERLINK" in plain.text and ",=HYPERLINK" not in plain.text
    assert client.get(f"/staff/calls/{call.id}/responses-with-contacts.csv").status_code == 403
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    full = client.get(f"/staff/calls/{call.id}/responses-with-contacts.csv")
    assert "ash@example.org" in full.text and full.text.splitlines()[0].startswith(
        "Reference,Sent,Name,Email"
    )
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.action == "call.responses_exported")
    ).all()
    assert [(e.detail["personal"], e.detail["rows"]) for e in entries] == [(False, 3), (True, 3)]


def test_hostile_input_to_staff_forms(client, session, call, clock):
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    for value in hostile_inputs():
        fields = ("programme_id", "title", "summary", "kind", "opens_at", "closes_at",
                  "allow_anonymous", "allow_skip", "keep_days", "status")  # fmt: skip
        inert(client.submit_raw("/staff/calls/new", {f: value for f in fields}))
        inert(client.submit_raw(f"/staff/calls/{call.id}/edit", {f: value for f in fields}))
        question = {
            f: value
            for f in (
                "text",
                "hint",
                "young_text",
                "young_hint",
                "kind",
                "options",
                "max_chars",
                "number",
            )
        }
        inert(client.submit_raw(f"/staff/calls/{call.id}/question", question, page="/staff/calls"))
        inert(
            client.submit_raw(
                f"/staff/calls/{call.id}/question/remove", {"number": value}, page="/staff/calls"
            )
        )
        inert(
            client.submit_raw(
                f"/staff/calls/{call.id}/themes", {"name": value, "q": value}, page="/staff/calls"
            )
        )
        tag = {"response_id": value, "theme_id": value, "on": value, "q": value}
        inert(client.submit_raw(f"/staff/calls/{call.id}/tag", tag, page="/staff/calls"))
        params = {"q": value[:300].encode("utf-8", "replace").decode(), "theme": "1", "age": "x"}
        inert(client.get(f"/staff/calls/{call.id}/responses", params=params))
    kept = client.submit_raw(
        f"/staff/calls/{call.id}/themes", {"name": "x" * 90}, page="/staff/calls"
    )
    assert "80 characters or fewer" in kept.text and "x" * 90 in kept.text


# --- the programme page ----------------------------------------------------------------------


def test_the_programme_page_marks_the_phase_of_now_and_what_is_open(client, session, clock):
    demo.load(session, clock.now)
    session.commit()
    page = client.get("/programmes/care-review").text
    assert re.search(r'aria-current="step">\s*<h3 class="card__title">Discover <strong', page)
    assert page.count('aria-current="step"') == 1
    assert "Call for ideas: what should change?" in page and "Closes on" in page
    clock.advance(days=40)  # Develop, and the call has closed
    later = client.get("/programmes/care-review").text
    assert re.search(r'aria-current="step">\s*<h3 class="card__title">Develop <strong', later)
    assert "Other calls" in later and "Closed on" in later


def test_draft_calls_are_on_neither_the_home_page_nor_the_programme_page(client, session, clock):
    draft = build_call(session, clock.now, status=CallStatus.DRAFT, title="Secret draft call")
    assert "Secret draft call" not in client.get("/").text
    programme = session.get(Programme, draft.programme_id)
    assert "Secret draft call" not in client.get(f"/programmes/{programme.slug}").text


def test_search_takes_percent_and_underscore_as_typed(client, session, call, clock, app, analyst):
    _three_responses(client, session, call, app)
    sign_in(client, session, staff=analyst, now=clock.now)
    base = f"/staff/calls/{call.id}/responses"
    assert "0 responses" in client.get(base, params={"q": "%"}).text
    assert "0 responses" in client.get(base, params={"q": "_"}).text
    assert "1 response" in client.get(base, params={"q": "HYPERLINK"}).text
