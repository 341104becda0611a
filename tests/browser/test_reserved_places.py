"""Giving a reserved place, in real Chromium at 320 px, JavaScript on and off, axe-clean."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.browser.harness import check_page
from tests.browser.test_workshop_journeys import email_to, new_workshop, press

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def _facilitator_of(page: Any, live_server: Any, workshop: Any, email: str) -> None:
    page.goto(live_server.staff_sign_in_url(email, "facilitator"))
    press(page, "Sign in")
    from sqlmodel import select

    from app.models import StaffUser, WorkshopFacilitator

    with live_server.db() as session:
        me = session.exec(select(StaffUser).where(StaffUser.email == email)).one()
        session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))


def test_a_facilitator_gives_a_reserved_place(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server, title=f"Reserved workshop {n}", capacity=6, reserved_places=2
    )
    address = f"reserved{n}@example.org"
    _facilitator_of(phone, live_server, workshop, f"reserve{n}@heard.example.org")

    phone.goto(f"/staff/workshops/{workshop.id}")
    check_page(phone)
    assert "Reserved places: 2 of 2 left" in phone.locator("#reserved-places").inner_text()
    with phone.expect_navigation():
        phone.get_by_role("link", name="Give a reserved place").click()
    check_page(phone, label="the reserved place form")
    assert phone.title().startswith("Give a reserved place")

    phone.get_by_label("Their name or nickname").fill("Robin <b>")
    press(phone, "Give the place")  # most answers missing: the error summary
    assert phone.title().startswith("Error: ")
    summary = phone.locator(".error-summary").inner_text()
    assert "Choose how old they are" in summary and "Enter an email address" in summary
    assert phone.get_by_label("Their name or nickname").input_value() == "Robin <b>"

    phone.get_by_label("16 or 17").check()
    phone.get_by_label("Theirs").check()
    phone.get_by_label("Email address").fill(address)
    phone.get_by_label("They (or their parent or carer) agreed to take part").check()
    press(phone, "Give the place")
    assert phone.url.endswith(f"/staff/workshops/{workshop.id}")
    assert "The reserved place is given" in phone.locator("main").inner_text()
    assert "Reserved places: 1 of 2 left" in phone.locator("#reserved-places").inner_text()
    assert "Robin <b>" in phone.locator("#attendees").inner_text()
    email = email_to(live_server, address, "You have a place")
    assert email.attachments and email.attachments[0]["filename"] == "workshop.ics"
