"""Rounds in real Chromium at 320 px, JavaScript on and off, axe-clean at every step.

An applicant reads the start page, answers one question a page (an error, kept text), saves
and comes back on another phone by the emailed link, checks their answers (a change link),
ticks the declaration and consent (an error first), sends, gets a reference and a receipt,
sees their application and takes it back. An admin builds a round; reviewers score blind; the
admin decides and emails every applicant their outcome.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from tests.browser.harness import check_page, js_on, press

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def follow(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name).first.click()
    check_page(page, label=f"after {name}")


def email_to(live_server: Any, address: str, subject_part: str) -> Any:
    for email in live_server.outbox():
        if email.to_address == address and subject_part in email.subject:
            return email
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def _seed_round(live_server: Any, n: int) -> Any:
    from app.models import Group, QuestionKind, Round, RoundQuestion, RoundStatus

    now = utcnow()
    with live_server.db() as db:
        group = Group(slug=f"browser-group-{n}", name=f"Experts group {n}")
        db.add(group)
        db.flush()
        round_ = Round(
            group_id=group.id,
            slug=f"browser-round-{n}",
            title=f"Join the experts group {n}",
            summary="The group tells the review what it is like to be in care.",
            time_asked="One afternoon a month for a year.",
            in_return="A voucher each time, and we pay for travel.",
            who_can_apply="You have been in care, or you are in care now.",
            how_info_used="A small team reads your application to choose people.",
            criteria=["Lived experience", "Wants to help others"],
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=3, hours=2),
            status=RoundStatus.OPEN,
        )
        db.add(round_)
        db.flush()
        db.add(
            RoundQuestion(
                round_id=round_.id,
                number=1,
                text="Why do you want to join?",
                kind=QuestionKind.LONG_TEXT,
                max_chars=100,
            )
        )
        db.add(
            RoundQuestion(
                round_id=round_.id,
                number=2,
                text="Which school or college do you go to?",
                kind=QuestionKind.SHORT_TEXT,
                identifying=True,
            )
        )
        db.flush()
        db.expunge(round_)
        return round_


def test_apply_save_come_back_on_another_phone_send_and_withdraw(
    phone: Any, live_server: Any, open_page: Any
) -> None:
    n = next(_n)
    address = f"applicant{n}@example.org"
    made = _seed_round(live_server, n)
    phone.goto(f"/rounds/{made.slug}")
    check_page(phone)
    main = phone.locator("main").inner_text()
    assert "Closes in 3 days" in main and "16 to 25 years old" in main
    follow(phone, "Start your application")
    assert phone.locator(".caption").inner_text().endswith("Question 1 of 2")
    too_long = "x" * 101
    phone.get_by_label("Why do you want to join?").fill(too_long)
    press(phone, "Continue")
    assert phone.title().startswith("Error: ")
    assert phone.get_by_label("Why do you want to join?").input_value() == too_long
    phone.get_by_label("Why do you want to join?").fill("To help others like me")
    press(phone, "Continue")
    phone.get_by_label("Which school or college do you go to?").fill("Hilltop")
    press(phone, "Save and come back later")
    phone.get_by_label("Email address").fill(address)
    press(phone, "Send me a link")
    assert phone.locator("h1").inner_text() == "Check your email"

    link = re.search(
        r"https?://[^\s]+/resume\?token=[\w-]+", email_to(live_server, address, "saved").body_text
    )
    assert link
    other = open_page(javascript=js_on(phone))
    other.goto(link.group(0))
    check_page(other)
    press(other, "Carry on")
    assert other.locator("h1").inner_text() == "Is there anything that would help you take part?"
    other.get_by_label("Is there anything that would help you take part?").fill("A quiet room")
    press(other, "Continue")
    other.get_by_label("Your name").fill("Sky")
    other.get_by_label("Email address").fill(address)
    other.get_by_label("How old are you?").fill("17")
    press(other, "Continue")
    assert other.locator("h1").inner_text() == "Check your answers"
    follow(other, "Change Which school or college do you go to?")
    other.get_by_label("Which school or college do you go to?").fill("Riverside")
    press(other, "Continue")
    assert "Riverside" in other.locator("#answers").inner_text()
    follow(other, "Continue")
    assert other.locator("h1").inner_text() == "Before you send your application"
    press(other, "Send my application")  # nothing ticked: both boxes are needed
    assert other.title().startswith("Error: ")
    other.get_by_label(re.compile("The answers I gave are true")).check()
    other.get_by_label(re.compile("I agree that the team may keep")).check()
    press(other, "Send my application")
    assert other.locator(".panel h1").inner_text() == "We have your application"
    reference = other.locator(".panel strong").inner_text()
    assert re.fullmatch(r"HRD-[A-Z2-9]{4}-[A-Z2-9]{2}", reference)
    assert reference in email_to(live_server, address, "We have your application").body_text

    follow(other, "See your application")
    assert "We have not decided yet" in other.locator("main").inner_text()
    press(other, "Take my application back")
    assert "You took your application back" in other.locator("main").inner_text()


def test_a_used_link_and_nothing_to_save(phone: Any, live_server: Any) -> None:
    made = _seed_round(live_server, next(_n))
    phone.goto(f"/rounds/{made.slug}/resume?token=not-a-real-token")
    check_page(phone)
    assert phone.locator("h1").inner_text() == "That link does not work any more"
    phone.goto(f"/rounds/{made.slug}/save")
    check_page(phone)
    assert phone.locator("h1").inner_text() == "There is nothing to save yet"


def _seed_applications(live_server: Any, made: Any, n: int) -> list[int]:
    from app import journeys
    from app.services import rounds
    from app.services.identity import Identity

    now = utcnow()
    numbers = []
    with live_server.db() as db:
        found = rounds.find_round(db, made.slug, Identity())
        assert found is not None
        for i in range(2):
            owner = f"seed-round-{n}-{i}"
            values = {
                "q1": {"answer": f"Reason {i}"},
                "q2": {"answer": f"Secret school {i}"},
                "adjustments": {"answer": ""},
                "about-you": {"name": f"Name{i}", "email": f"r{n}-{i}@example.org", "age": "18"},
            }
            for step, data in values.items():
                state = found.journey.parse(
                    found.journey.step(step), journeys.as_form_data(data), {}
                )
                journeys.save(db, rounds.journey_name(made), owner, step, state, now)
            draft = rounds.draft(db, found, owner)
            application, _ = rounds.send(
                db, live_server.settings, found, draft, draft.submit_token, now, Identity()
            )
            numbers.append(application.number)
    return sorted(numbers)


def test_reviewers_score_blind_and_an_admin_decides(phone: Any, live_server: Any) -> None:
    n = next(_n)
    made = _seed_round(live_server, n)
    numbers = _seed_applications(live_server, made, n)
    phone.goto(live_server.staff_sign_in_url(f"reviewer-rounds{n}@heard.example.org", "reviewer"))
    press(phone, "Sign in")
    phone.goto("/staff/rounds")
    check_page(phone)
    follow(phone, f"Review applications for {made.title}")
    follow(phone, f"Applicant {numbers[0]}")
    main = phone.locator("main").inner_text()
    assert "Reason" in main and "Secret school" not in main and "Name0" not in main
    press(phone, "Save my scores")
    assert phone.title().startswith("Error: ")
    phone.locator("#score-0-4").check()
    phone.locator("#score-1-3").check()
    press(phone, "Save my scores")
    assert "Reviewer 1" in phone.locator("main").inner_text()

    phone.goto(live_server.staff_sign_in_url(f"admin-rounds{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto(f"/staff/rounds/{made.id}/review/{numbers[0]}")
    check_page(phone)
    phone.get_by_label("Offer a place").check()
    phone.get_by_label("Reason, for the record").fill("Strong answers")
    press(phone, "Save the decision")
    phone.goto(f"/staff/rounds/{made.id}/review/{numbers[1]}")
    phone.get_by_label("Waiting list").check()
    phone.get_by_label("Reason, for the record").fill("Fewer places")
    press(phone, "Save the decision")
    phone.goto(f"/staff/rounds/{made.id}")
    check_page(phone)
    press(phone, "Email the outcome to everyone decided")
    assert "2 applicants told" in phone.locator("main").inner_text()
    told = [email_to(live_server, f"r{n}-{i}@example.org", "Your app").body_text for i in (0, 1)]
    assert any("offer you a place" in t for t in told) and any("waiting list" in t for t in told)


def test_an_admin_builds_a_round(phone: Any, live_server: Any) -> None:
    n = next(_n)
    phone.goto(live_server.staff_sign_in_url(f"admin-build{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto("/staff/rounds")
    check_page(phone)
    follow(phone, "Create a round")
    press(phone, "Create the round")
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Title").fill(f"Young advisers {n}")
    for label, text in [
        ("What the group does", "We advise the review."),
        ("How much time it takes", "Two hours a month."),
        ("What people get in return", "Vouchers."),
        ("Who can apply", "Care experience."),
        ("How we use the information", "To choose people."),
        ("What reviewers score", "Experience\nIdeas"),
    ]:
        phone.get_by_label(label, exact=True).fill(text)
    opens = utcnow() + timedelta(days=40)
    phone.get_by_label("Opens", exact=True).fill(opens.strftime("%Y-%m-%dT00:00"))
    phone.get_by_label("Closes", exact=True).fill(
        (opens + timedelta(days=30)).strftime("%Y-%m-%dT23:59")
    )
    press(phone, "Create the round")
    assert phone.locator("h1").inner_text() == f"Young advisers {n}"
    phone.get_by_label("Question", exact=True).fill("What would you change?")
    phone.get_by_label("Long answer, with a limit").check()
    press(phone, "Add the question")
    assert "What would you change?" in phone.locator("main").inner_text()
