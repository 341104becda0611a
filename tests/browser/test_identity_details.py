"""Changing my details on "My stuff", and an admin erasing a former member of staff, in real
Chromium at 320px with JavaScript on and off. `check_page` runs on every page, after the
error re-render and after every HTMX swap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.models import AgeBand, ConsentPurpose, ConsentState, Role
from app.services import consent, participants
from app.services import staff as staff_service
from tests.browser.harness import (
    check_after_swap,
    check_page,
    htmx_settled_count,
    participant_link,
)

pytestmark = pytest.mark.browser
JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]


def _submit(page: Any, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


def _save_and_expect_error(page: Any, javascript: bool, message: str) -> None:
    """Press save; the form comes back with an error (swapped in place with JavaScript)."""
    swaps = htmx_settled_count(page) if javascript else 0
    page.get_by_role("button", name="Save my details", exact=True).click()
    if javascript:
        check_after_swap(page, ".error-summary", settled_more_than=swaps)
        assert page.url.endswith("/me/details")  # no navigation: the block was swapped
        assert page.evaluate("document.activeElement.id") == ""  # the summary has focus
        assert page.evaluate("document.activeElement.className") == "error-summary"
    else:
        page.wait_for_load_state()
        check_page(page)
    assert page.title().startswith("Error: ")
    assert message in page.locator(".error-summary").inner_text()


@pytest.mark.parametrize("javascript", JS)
def test_change_my_details_and_a_parent_is_asked_when_i_say_i_am_under_13(
    server, open_page, javascript
):
    carer = f"details-carer-{int(javascript)}@example.org"
    with server.db() as session:
        person = participants.create(
            session,
            display_name="Pip",
            now=datetime.now(UTC),
            age_band=AgeBand.FROM_13_TO_15,
            contact_email=f"pip-{int(javascript)}@example.org",
        )
        consent.give_current(session, person, ConsentPurpose.TAKE_PART, datetime.now(UTC))
        person_id = person.id
    assert person_id is not None
    page = open_page(javascript)
    page.goto(participant_link(server, person_id))
    _submit(page, "Carry on")
    page.get_by_role("link", name="Change my details").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Change my details"
    assert page.input_value("#display_name") == "Pip"
    assert page.is_checked("#age_band-2")  # 13 to 15
    check_page(page)

    # A mistake: the error summary, the same words by the field, what was typed kept.
    page.fill("#display_name", "")
    page.fill("#role_words", "young carer <b>")
    _save_and_expect_error(page, javascript, "Enter the name you want to use")
    assert page.input_value("#role_words") == "young carer <b>"
    assert page.locator("#display_name-error").is_visible()

    # Under 13 with my own email: a parent or carer must be asked, so their email is needed.
    page.fill("#display_name", "Pip Star")
    page.check("#age_band")  # Under 13
    _save_and_expect_error(page, javascript, "give your parent or carer's email address")
    assert page.input_value("#display_name") == "Pip Star"
    assert page.is_checked("#age_band")

    page.check("#whose-2")  # My parent or carer's
    page.fill("#contact_email", carer)
    _submit(page, "Save my details")
    page.wait_for_url(f"{server.url}/me")
    assert "Your details are saved" in page.content()
    assert "Hello, Pip Star." in page.content()
    assert "We have emailed your parent or carer" in page.content()
    check_page(page)
    with server.db() as session:
        assert consent.parent_consent_status(session, person_id) == ConsentState.WAITING
    assert any(e.to_address == carer for e in server.outbox())


@pytest.mark.parametrize("javascript", JS)
def test_an_admin_erases_a_former_member_of_staff(server, open_page, javascript):
    gone = f"leaver-{int(javascript)}@heard.example.org"
    with server.db() as session:
        member = staff_service.create_or_update(
            session, gone, [Role.MODERATOR], display_name="Lee Leaver"
        )
        member.active = False
        session.add(member)
        member_id = member.id
    page = open_page(javascript)
    page.goto(server.staff_sign_in_url(f"eraser-{int(javascript)}@heard.example.org", Role.ADMIN))
    _submit(page, "Sign in")

    page.goto(f"{server.url}/staff/people/{member_id}")
    page.get_by_role("link", name="Remove Lee Leaver's details").click()
    page.wait_for_load_state()
    assert (
        page.locator("h1").inner_text() == "Are you sure you want to remove Lee Leaver's details?"
    )
    check_page(page)
    _submit(page, "Yes, remove their details")
    assert page.url == f"{server.url}/staff/people"
    assert "Their details have been removed" in page.content()
    assert gone not in page.content() and "Lee Leaver" not in page.content()
    check_page(page)

    # Back, and press again: a kind page, not an error.
    page.goto(f"{server.url}/staff/people/{member_id}/erase")
    assert page.locator("h1").inner_text() == "These details have already been removed"
    check_page(page)
