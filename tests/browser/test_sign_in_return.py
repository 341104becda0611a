"""Back where you were, in real Chromium at 320 px, JavaScript on and off, axe-clean throughout.

A signed-out facilitator scans an attendee's check-in QR code: the phone opens the check-in
page, which sends them to sign in; they ask for a link, open it from their email, press
"Sign in" and land on that same check-in page.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest

from app.db import utcnow
from tests.browser.harness import check_page, press
from tests.conftest import build_workshop

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def a_facilitator_and_an_attendee(live_server: Any, n: int) -> tuple[str, str]:
    """A facilitator of a workshop with one confirmed sign-up; returns (their email, the
    path the attendee's check-in QR code opens)."""
    from app.models import Role, WorkshopFacilitator
    from app.services import signups, staff

    email = f"scanner{n}@heard.example.org"
    with live_server.db() as session:
        # On the day: check-in works only then (issue 10).
        workshop = build_workshop(
            session,
            utcnow(),
            title=f"Scanned at the door {n}",
            starts_at=utcnow() + timedelta(minutes=10),
        )
        session.flush()
        member = staff.create_or_update(session, email, [Role.FACILITATOR])
        session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=member.id))
        answers = {
            "display_name": f"Rowan {n}",
            "age_band": "16_17",
            "whose": "mine",
            "email": f"rowan{n}@example.org",
            "agree": ["yes"],
        }
        outcome = signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())
        assert outcome.sign_up is not None
        check_in = signups.links(live_server.settings, outcome.sign_up)["check_in"]
    return email, check_in.removeprefix(live_server.url)


def sign_in_link(live_server: Any, address: str) -> str:
    for email in live_server.outbox():
        if email.to_address == address and "sign in" in email.subject:
            found = re.search(r"http://127\.0\.0\.1:\d+(/staff/sign-in/link\?\S+)", email.body_text)
            assert found, email.body_text
            return found.group(1)
    raise AssertionError(f"no sign-in email to {address}")


def test_a_signed_out_facilitator_scans_a_qr_signs_in_and_lands_on_check_in(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    email, check_in = a_facilitator_and_an_attendee(live_server, n)

    phone.goto(check_in)
    assert phone.url == live_server.path("/staff/sign-in?next=" + quote(check_in, safe=""))
    check_page(phone)
    assert phone.locator("h1").inner_text() == "Staff sign in"

    press(phone, "Email me a sign-in link")  # nothing typed: the error keeps `next`
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Work email address").fill(email)
    press(phone, "Email me a sign-in link")
    assert phone.locator("h1").inner_text() == "Check your email"

    link = sign_in_link(live_server, email)
    assert "&next=" in link
    phone.goto(link)
    check_page(phone)
    press(phone, "Sign in")
    assert phone.url == live_server.path(check_in)
    assert f"Rowan {n}" in phone.locator("main").inner_text()
    press(phone, "Mark as here")
    assert "is checked in" in phone.locator("main").inner_text()


def test_timing_out_on_a_page_comes_back_to_it_after_signing_in(
    page: Any, live_server: Any
) -> None:
    """With JavaScript, an idle staff page goes to sign-in by itself, remembering the page."""
    n = next(_n)
    email, check_in = a_facilitator_and_an_attendee(live_server, 100 + n)
    page.clock.install()
    page.goto(live_server.staff_sign_in_url(email))
    press(page, "Sign in")
    page.goto(check_in)
    check_page(page)
    with page.expect_navigation(url=re.compile(r"/staff/sign-in\?next=")):
        page.clock.run_for(31 * 60 * 1000)
    assert page.url == live_server.path("/staff/sign-in?next=" + quote(check_in, safe=""))
    check_page(page)
