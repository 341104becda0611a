"""Issue 10 in real Chromium: at 320 px with JavaScript on and off, axe-clean at every step
(and the projector view at 1920 x 1080)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from tests.browser.harness import (
    check_after_swap,
    check_page,
    htmx_settled_count,
    new_context,
    participant_link,
)
from tests.browser.test_workshop_journeys import email_to, js_on, link_in, new_workshop, press

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def sign_in_staff(page: Any, live_server: Any, email: str, *roles: str) -> None:
    page.goto(live_server.staff_sign_in_url(email, *roles))
    press(page, "Sign in")


def sign_up(live_server: Any, workshop: Any, name: str, email: str, **extra: Any) -> Any:
    from app.services import signups

    answers = {
        "display_name": name,
        "age_band": "16_17",
        "whose": "mine",
        "email": email,
        "agree": ["yes"],
        **extra,
    }
    with live_server.db() as session:
        outcome = signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())
        assert outcome.sign_up is not None, outcome.result
        session.expunge(outcome.sign_up)
        return outcome


def test_someone_outside_the_audience_is_told_kindly_and_shown_their_workshops(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Teens only {n}")
    new_workshop(live_server, title=f"Parents evening {n}", audience="parents", age_range="parents")
    phone.goto(f"/workshops/{workshop.slug}/sign-up/name")
    phone.get_by_label("What should we call you?").fill("Sam")
    press(phone, "Continue")
    phone.get_by_label("26 or over").check()
    press(phone, "Continue")
    assert phone.locator("h1").inner_text() == "This workshop is for someone else"
    main = phone.locator("main").inner_text()
    assert "young people aged 13 to 17" in main and f"Parents evening {n}" in main
    with phone.expect_navigation():
        phone.get_by_role("link", name="sign up your child").click()
    check_page(phone, label="the parent's journey, from the kind page")


def test_a_parent_signs_up_two_children_in_one_journey(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Drawing day {n}",
        audience="children",
        age_range="8 to 12",
        capacity=5,
    )
    address = f"family{n}@example.org"
    phone.goto(f"/workshops/{workshop.slug}")
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name="I'm a parent or carer signing up my child").click()
    check_page(phone)
    assert phone.title().startswith("Who are you signing up?")
    phone.get_by_label("Your second child's first name or nickname").fill("Sam")
    press(phone, "Continue")  # every problem at once
    assert phone.title().startswith("Error: ")
    summary = phone.locator(".error-summary").inner_text()
    assert "Enter your child's first name" in summary and "second child is" in summary
    assert phone.get_by_label("Your second child's first name or nickname").input_value() == "Sam"
    phone.get_by_label("Your child's first name or nickname").fill("Ava")
    phone.get_by_role("group", name="How old is your child?").get_by_label("Under 13").check()
    phone.get_by_role("group", name="How old is your second child?").get_by_label(
        "Under 13"
    ).check()
    press(phone, "Continue")
    phone.get_by_label("What is your email address?").fill(address)
    press(phone, "Continue")
    phone.get_by_label("What Ava needs (optional)").fill("A quiet corner")
    press(phone, "Continue")
    assert "Ava and Sam" in phone.locator("main").inner_text()
    phone.get_by_label(re.compile("I am the parent or carer of Ava and Sam")).check()
    press(phone, "Continue")
    assert phone.locator("h1").inner_text() == "Check your answers"
    assert "A quiet corner" in phone.locator("#answers").inner_text()
    press(phone, "Sign them up")
    assert phone.locator("h1").inner_text() == "Check your email"
    email = email_to(live_server, address, "Signed up for")
    assert "Ava has a place" in email.body_text and "Sam has a place" in email.body_text
    assert not [e for e in live_server.outbox() if e.to_address == address and "wants" in e.subject]
    phone.goto(link_in(email, ""))
    check_page(phone)
    assert "Also signed up with this email" in phone.locator("main").inner_text()


def test_sign_up_asks_in_person_or_online_and_about_travel(phone: Any, live_server: Any) -> None:
    from app.models import WorkshopMode

    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Both ways {n}",
        mode=WorkshopMode.BOTH,
        online_link="https://video.example.org/both",
        pays_travel=True,
    )
    phone.goto(f"/workshops/{workshop.slug}/sign-up/name")
    phone.get_by_label("What should we call you?").fill("Sky Brown")
    press(phone, "Continue")
    assert "Is that your full name?" in phone.locator("main").inner_text()  # a nudge
    assert not phone.title().startswith("Error")
    press(phone, "Continue")  # keeping it is fine
    phone.get_by_label("16 or 17").check()
    press(phone, "Continue")
    phone.get_by_label("Mine").check()
    phone.get_by_label("Email address").fill(f"both{n}@example.org")
    press(phone, "Continue")
    assert phone.title().startswith("Will you come in person or join online?")
    phone.get_by_label("In person").check()
    press(phone, "Continue")
    phone.get_by_label("Yes, please pay for my travel").check()
    press(phone, "Continue")
    press(phone, "Continue")
    press(phone, "Continue")
    phone.get_by_label("I want to take part").check()
    press(phone, "Continue")
    answers = phone.locator("#answers").inner_text()
    assert "In person" in answers and "Yes, please" in answers


def test_the_waiting_list_page_says_the_number_and_asks_before_taking_a_name_off(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Tiny {n}", capacity=1)
    sign_up(live_server, workshop, "First", f"tiny-a{n}@example.org")
    waiting = sign_up(live_server, workshop, "Second", f"tiny-b{n}@example.org")
    phone.goto(f"/sign-ups/{waiting.manage_token}")
    check_page(phone)
    main = phone.locator("main").inner_text()
    assert "You're on the waiting list, number 1" in main and "calendar" not in main.lower()
    with phone.expect_navigation():
        phone.get_by_role("link", name="Take your name off the waiting list").click()
    check_page(phone)
    press(phone, "Yes, take my name off")


def test_staff_find_people_filter_check_in_and_message_on_the_day(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"On the day {n}", capacity=2, starts_at=utcnow() + timedelta(minutes=5)
    )
    for name in (f"Zed {n}", f"Amy {n}", f"Max {n}"):
        sign_up(live_server, workshop, name, f"{name.split()[0].lower()}{n}@example.org")
    sign_in_staff(phone, live_server, f"dayadmin{n}@heard.example.org", "admin")
    phone.goto("/staff/workshops")
    check_page(phone)
    card = phone.locator(".staff-workshop", has_text=workshop.title)
    assert "2 of 2 taken" in card.inner_text() and "not looked at it yet" in card.inner_text()
    phone.goto(f"/staff/workshops/{workshop.id}")
    check_page(phone)
    assert "0 of 2 here" in phone.locator("#here-count").inner_text()
    phone.get_by_label("Show", exact=True).select_option("waiting")
    if js_on(phone):
        before = htmx_settled_count(phone)
        phone.get_by_role("button", name="Show attendees").click()
        check_after_swap(phone, "#attendee-list", settled_more_than=before)
        assert "show=waiting" in phone.url
    else:
        press(phone, "Show attendees")
    names = phone.locator("#attendee-list h3").all_inner_texts()
    assert names == [f"Max {n}"]
    phone.goto(f"/staff/workshops/{workshop.id}?q=amy")
    check_page(phone)
    button = phone.get_by_role("button", name=f"Mark as here: Amy {n}")
    if js_on(phone):
        before = htmx_settled_count(phone)
        button.click()
        check_after_swap(phone, "#attendees", settled_more_than=before)
    else:
        with phone.expect_navigation():
            button.click()
        check_page(phone)
    phone.goto(f"/staff/workshops/{workshop.id}")
    assert "1 of 2 here" in phone.locator("#here-count").inner_text()

    phone.goto(f"/staff/workshops/{workshop.id}/message")
    check_page(phone)
    phone.get_by_label(re.compile(r"^Only the people who are here")).check()
    phone.get_by_label("Subject").fill(f"Room 4 {n}")
    phone.get_by_label("Message").fill("We are in room 4.")
    press(phone, "Send email")
    assert "on its way to 1 person" in phone.locator("main").inner_text()
    assert email_to(live_server, f"amy{n}@example.org", f"Room 4 {n}")


def test_check_in_days_before_says_when_and_checks_nobody_in(phone: Any, live_server: Any) -> None:
    from app.services import signups

    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"Far off {n}", starts_at=utcnow() + timedelta(days=12)
    )
    outcome = sign_up(live_server, workshop, f"Rae {n}", f"rae{n}@example.org")
    scanned = signups.links(live_server.settings, outcome.sign_up)["check_in"].removeprefix(
        live_server.url
    )
    sign_in_staff(phone, live_server, f"farscan{n}@heard.example.org", "admin")
    phone.goto(scanned)
    check_page(phone)
    assert "You can check people in on the day" in phone.locator("main").inner_text()
    assert phone.get_by_role("button", name="Mark as here").count() == 0


def test_a_parents_yes_on_paper_and_a_reserved_place_with_a_reason(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Kids day {n}",
        audience="children",
        age_range="8 to 12",
        reserved_places=1,
    )
    sign_up(
        live_server,
        workshop,
        f"Kit {n}",
        f"kitmum{n}@example.org",
        age_band="under_13",
        whose="parent",
    )
    sign_in_staff(phone, live_server, f"kidsadmin{n}@heard.example.org", "admin")
    phone.goto(f"/staff/workshops/{workshop.id}")
    with phone.expect_navigation():
        phone.get_by_role("link", name=f"Record a parent's yes for Kit {n}").click()
    check_page(phone)
    press(phone, "Record their yes")
    assert phone.title().startswith("Error: ")
    phone.get_by_label("On a paper form").check()
    phone.get_by_label(re.compile("I confirm")).check()
    press(phone, "Record their yes")
    assert "said yes" in phone.locator("main").inner_text()

    phone.goto(f"/staff/workshops/{workshop.id}/reserved")
    phone.get_by_label("Their name or nickname").fill("Jo")
    phone.get_by_label("26 or over").check()
    phone.get_by_label("Theirs").check()
    phone.get_by_label("Email address").fill(f"jo{n}@example.org")
    phone.get_by_label("They (or their parent or carer) agreed to take part").check()
    press(phone, "Give the place")
    assert "Say why" in phone.locator(".error-summary").inner_text()
    phone.get_by_label("Why are you giving them this place?").fill("Peer ambassador")
    press(phone, "Give the place")
    assert "Peer ambassador" in phone.locator("#attendees").inner_text()


def test_editing_warns_about_capacity_and_confirms_what_it_did(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Busy {n}", capacity=2)
    sign_up(live_server, workshop, "One", f"one{n}@example.org")
    sign_up(live_server, workshop, "Two", f"two{n}@example.org")
    sign_in_staff(phone, live_server, f"editor{n}@heard.example.org", "admin")
    phone.goto(f"/staff/workshops/{workshop.id}/edit")
    phone.get_by_label("Capacity").fill("1")
    phone.get_by_label("What will happen today").fill("A game, then groups.")
    press(phone, "Save workshop")
    assert "2 people already have a place" in phone.locator(".error-summary").inner_text()
    phone.get_by_label("Yes, keep the new capacity. Everyone keeps their place").check()
    assert phone.get_by_label("What will happen today").input_value() == "A game, then groups."
    press(phone, "Save workshop")
    assert "Workshop changed." in phone.locator("main").inner_text()


def test_the_audit_log_the_lost_page_and_someone_elses_workshop(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    workshop = new_workshop(live_server, title=f"Not yours {n}")
    sign_in_staff(phone, live_server, f"auditor{n}@heard.example.org", "admin")
    with phone.expect_navigation():
        phone.get_by_role("link", name="Audit log").click()
    check_page(phone)
    phone.goto("/staff/nowhere")
    assert phone.get_by_role("link", name="Staff").count() >= 1  # the menu stays
    sign_in_staff(phone, live_server, f"notmine{n}@heard.example.org", "facilitator")
    phone.goto(f"/staff/workshops/{workshop.id}")
    assert phone.locator("h1").inner_text() == "This workshop is run by someone else"
    check_page(phone, label="a workshop run by someone else")


def test_the_projector_view_fills_a_big_screen(browser: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"Projected {n}", starts_at=utcnow() + timedelta(minutes=5)
    )
    context = new_context(
        browser, viewport={"width": 1920, "height": 1080}, base_url=live_server.url
    )
    try:
        page = context.new_page()
        sign_in_staff(page, live_server, f"projector{n}@heard.example.org", "admin")
        page.goto(f"/staff/workshops/{workshop.id}/code/projector")
        check_page(page)
        code = page.locator(".projector__code").bounding_box()
        qr = page.locator(".projector__qr").bounding_box()
        assert code is not None and qr is not None
        assert code["height"] >= 200, code  # as large as the screen allows
        assert qr["width"] >= 800, qr  # readable from the back of the room
        assert qr["y"] + qr["height"] <= 1080 and code["y"] + code["height"] <= 1080
        assert page.locator(".site-header, .exit-bar, .help-box, footer").count() == 0
        assert workshop.join_code in page.locator("main").inner_text()
    finally:
        context.close()


def test_the_join_form_shows_a_refusal_on_the_page(page: Any, live_server: Any) -> None:
    """Too many tries: the page says so, with JavaScript too (not only a screen reader)."""
    settings = live_server.app.state.settings
    before = settings.join_rate_per_ip
    object.__setattr__(settings, "join_rate_per_ip", "2/minute")
    try:
        page.goto("/join")
        check_page(page)
        assert js_on(page)
        for _ in range(3):
            page.get_by_label("Join your workshop").fill("WRONG1")
            page.get_by_role("button", name="Join").click()
            page.wait_for_timeout(300)
        page.locator("h1", has_text="Please wait a moment").wait_for()
        assert "too many tries" in page.locator("main").inner_text()
        check_page(page, label="a refusal swapped in")
    finally:
        object.__setattr__(settings, "join_rate_per_ip", before)


def test_a_code_for_another_day_says_when_it_works(phone: Any, live_server: Any) -> None:
    workshop = new_workshop(
        live_server, title=f"Later {next(_n)}", starts_at=utcnow() + timedelta(days=3)
    )
    phone.goto("/join")
    phone.get_by_label("Join your workshop").fill(workshop.join_code)
    if js_on(phone):
        before = htmx_settled_count(phone)
        phone.get_by_role("button", name="Join").click()
        check_after_swap(phone, "#join-form", settled_more_than=before)
    else:
        press(phone, "Join")
    assert "This code works on" in phone.locator("main").inner_text()


def test_families_see_the_room_my_stuff_and_the_way_back(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Room day {n}",
        starts_at=utcnow() + timedelta(minutes=5),
        today_plan="We start with a game.\nThen we talk.",
        toilets="Down the hall",
        quiet_space="Room 2",
    )
    outcome = sign_up(live_server, workshop, f"Lee {n}", f"lee{n}@example.org")
    phone.goto(participant_link(live_server, outcome.sign_up.participant_id))
    press(phone, "Carry on")
    phone.goto("/")
    check_page(phone)
    with phone.expect_navigation():
        phone.get_by_role("link", name="Back to your workshop").click()
    check_page(phone)
    press(phone, "Join the room")
    main = phone.locator("main").inner_text()
    assert "We start with a game." in main and "Down the hall" in main and "Room 2" in main
    phone.goto("/me")
    check_page(phone)
    assert "16 or 17" in phone.locator("#summary").inner_text()
    phone.get_by_text("Show everything we hold").click()
    check_page(phone, label="everything we hold, open")
    with phone.expect_navigation():
        phone.get_by_role("link", name="Stop taking part").click()
    check_page(phone)
    assert workshop.title in phone.locator("main").inner_text()
    press(phone, "Yes, stop taking part")


def test_a_parent_reads_when_where_and_what_before_saying_yes(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"Paint day {n}", audience="children", age_range="8 to 12"
    )
    sign_up(
        live_server,
        workshop,
        f"Bea {n}",
        f"beamum{n}@example.org",
        age_band="under_13",
        whose="parent",
    )
    asked = email_to(live_server, f"beamum{n}@example.org", "wants to take part")
    link = re.search(r"http://127\.0\.0\.1:\d+(/parent/consent\?token=\S+)", asked.body_text)
    assert link
    phone.goto(link.group(1))
    check_page(phone)
    main = phone.locator("main").inner_text()
    assert "The Hive, Leeds" in main and "What they will do" in main
    phone.goto("/parent/consent/done")
    check_page(phone)
    assert "You said no" not in phone.locator("main").inner_text()
