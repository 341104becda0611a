"""Calls in real Chromium at 320 px, JavaScript on and off, axe-clean at every step.

A person opens the home page's first item (the demo call for ideas), reads the young person's
words, answers one question a page (an error, a change link), saves and comes back on another
phone by the emailed link, checks their answers, says yes to being quoted and sends, and gets
a reference and a receipt. Staff build a call and its questions, and read the responses per
person (search, filters, themes, tagging) and per question.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from tests.browser.harness import check_after_swap, check_page, htmx_settled_count, js_on, press

pytestmark = pytest.mark.browser
_n = itertools.count(1)
DEMO = "/calls/call-for-ideas"


def follow(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name).first.click()
    check_page(page, label=f"after {name}")


def swap_or_follow(page: Any, name: str, target: str) -> None:
    """A link HTMX enhances: a swap with JavaScript (checked after it), a new page without."""
    if js_on(page):
        before = htmx_settled_count(page)
        page.get_by_role("link", name=name).first.click()
        check_after_swap(page, target, settled_more_than=before)
    else:
        follow(page, name)


def email_to(live_server: Any, address: str, subject_part: str) -> Any:
    for email in live_server.outbox():
        if email.to_address == address and subject_part in email.subject:
            return email
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def test_answer_the_call_save_come_back_on_another_phone_and_send(
    phone: Any, live_server: Any, open_page: Any
) -> None:
    n = next(_n)
    address = f"caller{n}@example.org"
    phone.goto("/")
    check_page(phone)
    with phone.expect_navigation():
        phone.locator("main h3 a").first.click()
    check_page(phone)
    assert phone.url.endswith(DEMO) and "Closes on" in phone.locator("main").inner_text()
    swap_or_follow(phone, "Show easier words", "#questions")
    assert "Did your social worker listen to you?" in phone.locator("#questions").inner_text()
    follow(phone, "Start now")
    assert phone.locator(".caption").inner_text().endswith("Question 1 of 6")
    assert phone.title().startswith("What helped you most when life was hard?")  # kept
    swap_or_follow(phone, "Show the usual words", "#question")
    assert phone.locator("h1").inner_text() == "What helped you most when things were hard?"
    phone.get_by_label("What helped you most when things were hard?").fill("My nan and my dog")
    press(phone, "Continue")
    phone.get_by_label("4 out of 5", exact=True).check()
    press(phone, "Save and come back later")
    assert phone.title().startswith("Save and come back later")
    press(phone, "Send me a link")  # no address: the error summary
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Email address").fill(address)
    press(phone, "Send me a link")
    assert phone.locator("h1").inner_text() == "Check your email"

    # Another phone, from the emailed link.
    link = re.search(
        r"https?://[^\s]+/resume\?token=[\w-]+", email_to(live_server, address, "saved").body_text
    )
    assert link
    other = open_page(javascript=js_on(phone))
    other.goto(link.group(0))
    check_page(other)
    press(other, "Carry on")
    assert other.locator(".caption").inner_text().endswith("Question 3 of 6")
    too_long = "x" * 1001
    other.get_by_label(re.compile("change one thing")).fill(too_long)
    press(other, "Continue")
    assert other.title().startswith("Error: ")
    assert "1,000 characters or fewer" in other.locator(".error-summary").inner_text()
    assert other.get_by_label(re.compile("change one thing")).input_value() == too_long
    other.get_by_label(re.compile("change one thing")).fill("Listen first")
    press(other, "Continue")
    press(other, "Continue")  # question 4 may be left out
    other.get_by_label("Help to find a home").check()
    other.get_by_label("Someone to call at any time").check()
    press(other, "Continue")
    press(other, "Continue")  # question 6
    assert other.locator("h1").inner_text() == "About you"
    other.get_by_label(re.compile("Email address")).fill(address)
    press(other, "Continue")
    assert other.locator("h1").inner_text() == "Check your answers"
    answers = other.locator("#answers").inner_text()
    assert "My nan and my dog" in answers and "Help to find a home" in answers

    follow(other, "Change How much did you feel listened to by your social worker?")
    other.get_by_label("5 out of 5 – All the time").check()
    press(other, "Continue")
    assert other.locator("h1").inner_text() == "Check your answers"
    follow(other, "Continue")
    assert other.locator("h1").inner_text() == "Before you send your answers"
    assert not other.get_by_label(re.compile("Heard may use my words")).is_checked()
    other.get_by_label(re.compile("Heard may use my words")).check()
    press(other, "Send my answers")
    assert other.locator(".panel h1").inner_text() == "We have your answers"
    reference = other.locator(".panel strong").inner_text()
    assert re.fullmatch(r"HRD-[A-Z2-9]{4}-[A-Z2-9]{2}", reference)
    assert other.get_by_role("heading", name="What happens next").count() == 1
    receipt = email_to(live_server, address, "We have your answers")
    assert reference in receipt.body_text and "Listen first" in receipt.body_text

    # Back on the first phone: the draft moved with the link, so it starts afresh.
    phone.goto(DEMO)
    check_page(phone)
    assert phone.get_by_role("link", name="Start now").count() == 1


def test_a_link_that_has_been_used_and_a_call_with_nothing_saved(
    phone: Any, live_server: Any
) -> None:
    phone.goto(f"{DEMO}/resume?token=not-a-real-token")
    check_page(phone)
    assert phone.locator("h1").inner_text() == "That link does not work any more"
    phone.goto(f"{DEMO}/save")
    check_page(phone)
    assert phone.locator("h1").inner_text() == "There is nothing to save yet"


def _seed_responses(live_server: Any, n: int) -> int:
    """A published call with two questions and three responses, sent through the services."""
    from app import journeys
    from app.models import Call, CallKind, Programme, Question, QuestionKind
    from app.services import calls
    from app.services.identity import Identity

    now = utcnow()
    with live_server.db() as db:
        programme = Programme(slug=f"calls-programme-{n}", title=f"Programme {n}", summary="x")
        db.add(programme)
        db.flush()
        call = Call(
            programme_id=programme.id,
            slug=f"staff-call-{n}",
            kind=CallKind.EVIDENCE,
            title=f"Evidence call {n}",
            summary="Tell us what you know.",
            opens_at=now - timedelta(days=1),
            # After the demo call closes, so the demo call stays the home page's first item.
            closes_at=now + timedelta(days=90),
        )
        db.add(call)
        db.flush()
        db.add(Question(call_id=call.id, number=1, text="What works?", kind=QuestionKind.LONG_TEXT))
        db.add(
            Question(
                call_id=call.id,
                number=2,
                text="Pick one",
                kind=QuestionKind.ONE_CHOICE,
                options=["Homes", "Money"],
            )
        )
        db.flush()
        found = calls.find_call(db, call.slug, Identity())
        assert found is not None
        for i, (text, choice, age) in enumerate(
            [
                ("Trusted adults", "Homes", "16_17"),
                ("Stable homes", "Money", "18_25"),
                ("Time", "Homes", ""),
            ]
        ):
            owner = f"seed-{n}-{i}"
            values = {
                "q1": {"answer": text},
                "q2": {"answer": choice},
                "about-you": {"age_band": age},
            }
            for step, data in values.items():
                state = found.journey.parse(
                    found.journey.step(step), journeys.as_form_data(data), {}
                )
                calls.save_answer(db, found, owner, step, state, now, Identity())
            draft = calls.draft(db, found, owner)
            calls.send(
                db, live_server.settings, found, draft, draft.submit_token, i == 0, now, Identity()
            )
        return int(call.id or 0)


def test_staff_read_tag_and_filter_responses(phone: Any, live_server: Any) -> None:
    n = next(_n)
    call_id = _seed_responses(live_server, n)
    phone.goto(live_server.staff_sign_in_url(f"analyst-calls{n}@heard.example.org", "analyst"))
    press(phone, "Sign in")
    phone.goto("/staff/calls")
    check_page(phone)
    follow(phone, f"Evidence call {n}")
    assert phone.locator("h1").inner_text() == f"Evidence call {n}"
    follow(phone, "Read the responses, person by person")
    assert "3 responses" in phone.locator("#results").inner_text()

    phone.get_by_label("New theme").fill("Housing")
    press(phone, "Add the theme")
    tag = phone.get_by_role("button", name=re.compile("Add “Housing”")).first
    if js_on(phone):
        before = htmx_settled_count(phone)
        tag.click()
        check_after_swap(phone, "#results", settled_more_than=before)
        phone.get_by_label("Search the answers").fill("stable")
        before = htmx_settled_count(phone)
        phone.get_by_role("button", name="Show responses").click()
        check_after_swap(phone, "#results", settled_more_than=before)
    else:
        with phone.expect_navigation():
            tag.click()
        check_page(phone)
        phone.get_by_label("Search the answers").fill("stable")
        press(phone, "Show responses")
    assert phone.get_by_role("button", name=re.compile("Remove “Housing”")).count() <= 1
    assert "1 response" in phone.locator("#results").inner_text()
    assert "Stable homes" in phone.locator("#results").inner_text()

    phone.goto(f"/staff/calls/{call_id}/by-question")
    check_page(phone)
    assert "Trusted adults" in phone.locator("#question-view").inner_text()
    swap_or_follow(phone, "Question 2", "#question-view")
    assert re.search(r"Homes\s+2", phone.locator("#question-view").inner_text())


def test_an_admin_builds_a_call(phone: Any, live_server: Any) -> None:
    n = next(_n)
    phone.goto(live_server.staff_sign_in_url(f"admin-calls{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto("/staff/calls")
    check_page(phone)
    follow(phone, "Create a call")
    press(phone, "Save the call")
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Listening review of children's social care").check()
    phone.get_by_label("Title").fill(f"Call for advice {n}")
    phone.get_by_label("Introduction").fill("Tell us what would help.")
    phone.get_by_label("Call for advice").check()
    # Opens later (so it stays off the home page), closes 30 days after that.
    opens = utcnow() + timedelta(days=40)
    phone.get_by_label("Opens", exact=True).fill(opens.strftime("%Y-%m-%dT00:00"))
    phone.get_by_label("Closes", exact=True).fill(
        (opens + timedelta(days=30)).strftime("%Y-%m-%dT23:59")
    )
    phone.get_by_label("Published").check()
    press(phone, "Save the call")
    assert phone.locator("h1").inner_text() == f"Call for advice {n}"
    follow(phone, "Add a question")
    phone.get_by_label("Question", exact=True).fill("What would help?")
    phone.get_by_label("Choose one", exact=True).check()
    press(phone, "Save the question")
    assert "Enter at least 2 choices" in phone.locator(".error-summary").inner_text()
    phone.get_by_label("Choices").fill("More time\nThe same worker")
    press(phone, "Save the question")
    assert "What would help?" in phone.locator("#questions").inner_text()
    follow(phone, "Change question 1")
    assert phone.get_by_label("Question", exact=True).input_value() == "What would help?"
    phone.goto(phone.url.split("/question")[0] + "/edit")
    check_page(phone)
    assert phone.get_by_label("Title").input_value() == f"Call for advice {n}"
