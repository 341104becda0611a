"""Workshops in real Chromium at 320 px, JavaScript on and off, axe-clean at every step.

Find a workshop, sign up one question at a time (errors, change links), the confirmation
and its email with a calendar file, cancel, be promoted from the waiting list, join on the
day with a code or with the link in the sign-up email, and the facilitator's pages:
attendees, check-in (HTMX and plain), the join code with its QR, scanning an attendee's QR,
messages, cancelling, a new workshop.
"""

from __future__ import annotations

import base64
import itertools
import re
from datetime import timedelta
from typing import Any

import pytest
from icalendar import Calendar
from playwright.sync_api import expect

from app.db import utcnow
from tests.browser.harness import check_after_swap, check_page, htmx_settled_count, js_on, press
from tests.conftest import build_workshop

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def new_workshop(live_server: Any, **values: Any) -> Any:
    with live_server.db() as session:
        workshop = build_workshop(session, utcnow(), **values)
        session.flush()
        session.expunge(workshop)
    return workshop


def email_to(live_server: Any, address: str, subject_part: str) -> Any:
    for email in live_server.outbox():
        if email.to_address == address and subject_part in email.subject:
            return email
    raise AssertionError(f"no email to {address} about {subject_part!r}")


def link_in(email: Any, path: str) -> str:
    found = re.search(
        r"http://127\.0\.0\.1:\d+(/sign-ups/[A-Za-z0-9_-]+" + path + ")", email.body_text
    )
    assert found, email.body_text
    return found.group(1)


def answer_everything(page: Any, *, name: str, email: str) -> None:
    page.get_by_label("What should we call you?").fill(name)
    press(page, "Continue")
    page.get_by_label("16 or 17").check()
    press(page, "Continue")
    page.get_by_label("Mine").check()
    page.get_by_label("Email address").fill(email)
    press(page, "Continue")
    page.get_by_label("Do you need anything to help you take part?").fill("A quiet room")
    press(page, "Continue")
    press(page, "Continue")  # "anything else" can be left empty
    page.get_by_label("I want to take part").check()
    press(page, "Continue")
    assert page.locator("h1").inner_text() == "Check your answers"


def test_find_a_workshop_sign_up_get_the_email_and_cancel(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Care workshop {n}", capacity=20)
    address = f"browser{n}@example.org"

    phone.goto("/")
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name="See all workshops").click()
    check_page(phone)
    phone.get_by_label("Who is it for?").select_option("young_people")
    if js_on(phone):
        before = htmx_settled_count(phone)
        phone.get_by_role("button", name="Show workshops").click()
        check_after_swap(phone, "#workshop-results", settled_more_than=before)
        assert "audience=young_people" in phone.url
    else:
        press(phone, "Show workshops")
    assert phone.get_by_text("20 places left").count() >= 1
    with phone.expect_navigation():
        phone.get_by_role("link", name=workshop.title).click()
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name="Sign up").click()
    check_page(phone)
    assert phone.title().startswith("What should we call you?")

    press(phone, "Continue")  # nothing typed: the error summary
    assert phone.title().startswith("Error: ")
    assert phone.locator(".error-summary").inner_text().count("Enter a name or nickname") == 1
    answer_everything(phone, name="Sky", email=address)

    # A change link goes to the question and comes back to check your answers.
    with phone.expect_navigation():
        phone.get_by_role("link", name="Change name").click()
    check_page(phone)
    phone.get_by_label("What should we call you?").fill("Sky B")
    press(phone, "Continue")
    assert phone.locator("h1").inner_text() == "Check your answers"
    assert "Sky B" in phone.locator("#answers").inner_text()

    press(phone, "Sign up")
    # The same page whether the address is new or already signed up: the email says which.
    assert phone.locator("h1").inner_text() == "Check your email"

    email = email_to(live_server, address, "You have a place")
    with phone.expect_navigation():
        phone.goto(link_in(email, ""))
    check_page(phone)
    assert "You have a place" in phone.locator("main").inner_text()
    assert "W-" in phone.locator("main").inner_text()
    [attachment] = email.attachments
    event = Calendar.from_ical(base64.b64decode(attachment["content_b64"])).walk("VEVENT")[0]
    assert str(event["summary"]) == workshop.title
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert event.decoded("dtstart") == workshop.starts_at.replace(microsecond=0)
    assert str(event["location"]) == "The Hive, Leeds"

    with phone.expect_navigation():
        phone.goto(link_in(email, "/cancel"))
    check_page(phone)
    press(phone, "Yes, give up my place")
    assert "You have given up your place" in phone.locator("main").inner_text()


def test_the_waiting_list_and_being_promoted(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Small workshop {n}", capacity=1)
    first, second = f"first{n}@example.org", f"second{n}@example.org"
    from app.services import signups

    with live_server.db() as session:
        answers = {
            "display_name": "First",
            "age_band": "16_17",
            "whose": "mine",
            "email": first,
            "agree": ["yes"],
        }
        signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())

    phone.goto(f"/workshops/{workshop.slug}")
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name="Join the waiting list").click()
    check_page(phone)
    answer_everything(phone, name="Second", email=second)
    press(phone, "Sign up")
    assert phone.locator("h1").inner_text() == "Check your email"
    email_to(live_server, second, "waiting list")

    cancel = link_in(email_to(live_server, first, "You have a place"), "/cancel")
    phone.goto(cancel)
    check_page(phone)
    press(phone, "Yes, give up my place")

    promoted = email_to(live_server, second, "Good news")
    phone.goto(link_in(promoted, ""))
    check_page(phone)
    assert "You have a place" in phone.locator("main").inner_text()
    assert phone.get_by_role("img", name=re.compile("check-in code")).count() == 1


def test_join_by_code_on_the_day(phone: Any, live_server: Any) -> None:
    workshop = new_workshop(
        live_server, title=f"Today {next(_n)}", starts_at=utcnow() + timedelta(minutes=5)
    )
    phone.goto("/")
    check_page(phone)
    phone.get_by_label("Type your code").fill("nope12")
    press(phone, "Join")
    assert (
        "That code didn't work. Check it with your facilitator."
        in phone.locator("main").inner_text()
    )
    code = workshop.join_code
    phone.get_by_label("Join your workshop").fill(f"{code[:3].lower()} {code[3:]}")
    if js_on(phone):
        # The code form is HTMX-enhanced: a good code redirects (HX-Redirect).
        with phone.expect_navigation():
            phone.get_by_role("button", name="Join").click()
        check_page(phone)
    else:
        press(phone, "Join")
    assert phone.title().startswith("Choose a name for today")
    phone.get_by_label("Choose a name for today").fill("Robin")
    press(phone, "Go to the workshop")  # not agreed yet
    assert phone.title().startswith("Error: ")
    assert phone.get_by_label("Choose a name for today").input_value() == "Robin"
    phone.get_by_label("I have read the house rules").check()
    press(phone, "Go to the workshop")
    assert phone.locator("h1").inner_text() == workshop.title
    assert "Hello Robin" in phone.locator("main").inner_text()


def test_join_the_room_from_the_link_in_the_email(phone: Any, live_server: Any) -> None:
    """Someone who signed up joins with their place: their emailed link is the proof."""
    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"Signed up {n}", starts_at=utcnow() + timedelta(minutes=5)
    )
    from app.services import signups

    with live_server.db() as session:
        answers = {
            "display_name": f"Jo {n}",
            "age_band": "16_17",
            "whose": "mine",
            "email": f"jo{n}@example.org",
            "agree": ["yes"],
        }
        outcome = signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())
        token = outcome.manage_token

    # The code pages point people who signed up to their email.
    phone.goto("/join")
    check_page(phone)
    assert (
        "Open the link in your email to join with your place" in phone.locator("main").inner_text()
    )

    phone.goto(f"/sign-ups/{token}")
    check_page(phone)
    assert phone.get_by_role("heading", name="Join the room").count() == 1
    press(phone, "Join the room")
    assert phone.locator("h1").inner_text() == workshop.title
    assert f"Hello Jo {n}" in phone.locator("main").inner_text()
    with live_server.db() as session:
        row = signups.by_manage_token(session, token)
        assert row is not None and row.checked_in_at is not None


def _sign_in_staff(page: Any, live_server: Any, email: str, *roles: str) -> None:
    page.goto(live_server.staff_sign_in_url(email, *roles))
    press(page, "Sign in")


# Counts swaps the live stream makes of the attendee list (a check-in's own response swaps
# the whole #attendees section instead).
_COUNT_LIVE_SWAPS = """() => {
  window.__liveSwaps = 0;
  document.addEventListener("htmx:afterSettle", (e) => {
    if (e.target.id === "attendee-list") window.__liveSwaps += 1;
  }, true);
}"""


def test_the_facilitator_runs_the_day(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Facilitated session {n}",
        capacity=5,
        starts_at=utcnow() + timedelta(minutes=20),
    )
    from app.services import signups

    with live_server.db() as session:
        answers = {
            "display_name": f"Alex {n}",
            "age_band": "16_17",
            "whose": "mine",
            "email": f"alex{n}@example.org",
            "agree": ["yes"],
            "access_needs": "Step-free",
        }
        outcome = signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())
        check_in_url = signups.links(live_server.settings, outcome.sign_up)[
            "check_in"
        ].removeprefix(live_server.url)

    _sign_in_staff(phone, live_server, f"facilitator{n}@heard.example.org", "facilitator")
    with live_server.db() as session:
        from sqlmodel import select

        from app.models import StaffUser, WorkshopFacilitator

        me = session.exec(
            select(StaffUser).where(StaffUser.email == f"facilitator{n}@heard.example.org")
        ).one()
        session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))

    phone.goto("/staff/workshops")
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name=workshop.title).click()
    check_page(phone)
    assert "Step-free" in phone.locator("#attendees").inner_text()

    button = phone.get_by_role("button", name=f"Mark as here: Alex {n}")
    if js_on(phone):
        before = htmx_settled_count(phone)
        phone.evaluate(_COUNT_LIVE_SWAPS)
        button.click()
        check_after_swap(phone, "#attendees", settled_more_than=before)
        assert f"Alex {n} is checked in" in phone.locator("#attendees").inner_text()
        assert phone.locator("#announcer").inner_text() == f"Alex {n} is checked in"
        focused = phone.evaluate("() => document.activeElement.getAttribute('aria-label')")
        assert focused == f"Undo check-in for Alex {n}"
        # The live stream brings the same list a moment later: it is not swapped in again, so
        # the button under the facilitator's thumb stays put (and focus stays on it).
        assert phone.locator("#attendees-live").get_attribute("data-live-state") == "streaming"
        undo = phone.get_by_role("button", name=f"Undo check-in for Alex {n}")
        phone.wait_for_timeout(1500)
        assert phone.evaluate("() => window.__liveSwaps") == 0, "the same list was swapped in"
        settled = htmx_settled_count(phone)
        undo.click()
        expect(phone.get_by_role("button", name=f"Mark as here: Alex {n}")).to_be_visible(
            timeout=20_000
        )
        check_after_swap(phone, "#attendees", settled_more_than=settled)
    else:
        with phone.expect_navigation():
            button.click()
        check_page(phone)
        with phone.expect_navigation():
            phone.get_by_role("button", name=f"Undo check-in for Alex {n}").click()
        check_page(phone)

    # Scanning the attendee's QR code opens this page on the facilitator's phone.
    phone.goto(check_in_url)
    check_page(phone)
    press(phone, "Mark as here")
    assert "is checked in" in phone.locator("main").inner_text()

    phone.goto(f"/staff/workshops/{workshop.id}/code")
    check_page(phone)
    assert phone.locator(".join-code").inner_text() == workshop.join_code
    svg = phone.request.get(f"/staff/workshops/{workshop.id}/code.svg")
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml")
    press(phone, "Make a new code")
    assert phone.locator(".join-code").inner_text() != workshop.join_code

    phone.goto(f"/staff/workshops/{workshop.id}/message")
    check_page(phone)
    press(phone, "Send email")
    assert phone.title().startswith("Error: ")
    phone.get_by_label(re.compile(r"^Everyone with a place \(")).check()
    phone.get_by_label("Subject").fill("See you soon")
    phone.get_by_label("Message").fill("Bring a drink.")
    press(phone, "Send email")
    assert email_to(live_server, f"alex{n}@example.org", "See you soon")

    phone.goto(f"/staff/workshops/{workshop.id}/edit")
    check_page(phone)
    phone.get_by_label("Capacity").fill("6")
    press(phone, "Save workshop")

    phone.goto(f"/staff/workshops/{workshop.id}/cancel")
    check_page(phone)
    press(phone, "Cancel the workshop")
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Yes, cancel the workshop and email everyone").check()
    press(phone, "Cancel the workshop")
    assert email_to(live_server, f"alex{n}@example.org", "Cancelled")


def test_an_admin_creates_a_workshop(desktop_page: Any, live_server: Any) -> None:
    n = next(_n)
    page = desktop_page
    _sign_in_staff(page, live_server, f"admin{n}@heard.example.org", "admin")
    page.goto("/staff/workshops/new")
    check_page(page)
    press(page, "Save workshop")
    assert page.title().startswith("Error: ")
    # An admin everywhere may choose any programme (with only one, it is chosen already).
    page.get_by_role("group", name="Programme").get_by_role("radio").first.check()
    page.get_by_label("Title").fill(f"New workshop {n}")
    page.get_by_label("Description").fill("We talk about care.")
    page.get_by_label("Parents and carers").check()
    page.get_by_label("Online", exact=True).check()
    page.get_by_label("Joining link").fill("https://video.example.org/new")
    start = utcnow() + timedelta(days=30)
    page.get_by_label("Starts").fill(start.strftime("%Y-%m-%dT10:00"))
    page.get_by_label("Ends").fill(start.strftime("%Y-%m-%dT11:00"))
    page.get_by_label("Capacity").fill("12")
    page.get_by_label("Published").check()
    press(page, "Save workshop")
    assert page.locator("h1").inner_text() == f"New workshop {n}"
