"""Who's who in real Chromium at 320px, JavaScript on and off: coming back by link, My stuff,
consent (a parent's too), download and delete, the staff admin screen and the timeout warning.
axe and target sizes are checked on every page (`check_page`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from app.models import AgeBand, ConsentPurpose, Role
from app.services import consent, participants
from tests.browser.harness import (
    LiveServer,
    check_after_swap,
    check_page,
    htmx_settled_count,
    participant_link,
)

pytestmark = pytest.mark.browser
JS = [pytest.param(True, id="js"), pytest.param(False, id="nojs")]


def _latest_link(server: LiveServer, to: str, path: str) -> str:
    email = next((e for e in server.outbox() if e.to_address == to), None)
    assert email is not None, f"no email to {to}"
    found = re.search(re.escape(server.url) + re.escape(path) + r"\S+", email.body_text)
    assert found, email.body_text
    return found.group(0)


class _page:
    """`with _page(open_page, javascript) as page:` one more phone."""

    def __init__(self, open_page: Any, javascript: bool) -> None:
        self.page = open_page(javascript)

    def __enter__(self) -> Any:
        return self.page

    def __exit__(self, *exc: object) -> None:
        return None


def _submit(page, name: str) -> None:
    page.get_by_role("button", name=name, exact=True).click()
    page.wait_for_load_state()


@pytest.mark.parametrize("javascript", JS)
def test_come_back_by_link_then_my_stuff_consents_download_and_delete(
    server, open_page, javascript
):
    email = f"sam-{int(javascript)}@example.org"
    with server.db() as session:
        participants.create(
            session,
            display_name="Sam",
            now=datetime.now(UTC),
            contact_email=email,
            age_band=AgeBand.FROM_13_TO_15,
        )
    with _page(open_page, javascript) as page:
        page.goto(f"{server.url}/me/sign-in")
        check_page(page)
        _submit(page, "Send me a link")
        assert page.title().startswith("Error: ")
        assert page.locator(".error-summary").is_visible()
        check_page(page)
        page.fill("#email", email)
        _submit(page, "Send me a link")
        assert page.locator("h1").inner_text() == "Check your email"
        check_page(page)

        page.goto(_latest_link(server, email, "/me/sign-in/link?token="))
        check_page(page)
        _submit(page, "Carry on")
        assert page.url == f"{server.url}/me"
        assert "Hello, Sam." in page.content()
        check_page(page)

        page.click("text=Change what you agree to")
        check_page(page)
        page.check("#take_part")  # Yes
        page.check("#be_quoted")  # Yes
        page.check("#be_contacted_again-2")  # No
        _submit(page, "Save my choices")
        assert "Your choices are saved" in page.content()
        check_page(page)

        swaps = htmx_settled_count(page) if javascript else 0
        page.locator(".card", has_text="Using your words").get_by_role("button").click()
        if javascript:  # one click, swapped in place by HTMX
            check_after_swap(page, "#consents-block .flash", settled_more_than=swaps)
            assert page.url.startswith(f"{server.url}/me#consents")  # no navigation
        else:  # a plain form post, then a redirect back
            page.wait_for_load_state()
            check_page(page)
        assert "We have stopped" in page.content()
        assert "You said stop on" in page.content()

        page.click("text=See everything on one page")
        assert "Everything Heard keeps about you" in page.locator("h1").inner_text()
        check_page(page)

        page.goto(f"{server.url}/me/delete")
        check_page(page)
        _submit(page, "Yes, delete everything")
        assert page.url == f"{server.url}/me/deleted"
        check_page(page)
        page.goto(f"{server.url}/me")
        assert page.url == f"{server.url}/me/sign-in"


@pytest.mark.parametrize("javascript", JS)
def test_a_child_waits_for_a_parent_who_says_yes(server, open_page, javascript):
    parent_email = f"carer-{int(javascript)}@example.org"
    with server.db() as session:
        child = participants.create(
            session,
            display_name="Rae",
            now=datetime.now(UTC),
            age_band=AgeBand.UNDER_13,
            contact_email=parent_email,
            contact_is_parent=True,
        )
        consent.give_current(session, child, ConsentPurpose.TAKE_PART, datetime.now(UTC))
        consent.request_parent_consent(
            session,
            server.settings,
            child,
            parent_email,
            datetime.now(UTC),
            context="a workshop on Friday 5 February",
        )
        child_id = child.id
    assert child_id is not None
    with _page(open_page, javascript) as page:
        page.goto(participant_link(server, child_id))
        _submit(page, "Carry on")
        assert "We have emailed your parent or carer" in page.content()
        check_page(page)

    with _page(open_page, javascript) as parent:
        link = _latest_link(server, parent_email, "/parent/consent?token=")
        parent.goto(link)
        assert parent.locator("h1").inner_text() == "Can Rae take part?"
        check_page(parent)
        _submit(parent, "Yes, I agree")
        assert "You said yes" in parent.content()
        check_page(parent)
        parent.goto(link)  # used once already
        assert parent.locator("h1").inner_text() == "That link does not work any more"
        check_page(parent)

    with _page(open_page, javascript) as page:
        page.goto(participant_link(server, child_id))
        _submit(page, "Carry on")
        assert "Your parent or carer said yes" in page.content()
        check_page(page)
        _submit(page, "Sign out on this phone")
        assert page.url == f"{server.url}/me/signed-out"
        check_page(page)


def test_a_parent_who_says_no(server, open_page):
    with server.db() as session:
        child = participants.create(
            session, display_name="Ola", now=datetime.now(UTC), age_band=AgeBand.UNDER_13
        )
        consent.request_parent_consent(
            session,
            server.settings,
            child,
            "no-parent@example.org",
            datetime.now(UTC),
            context="a workshop",
        )
    with _page(open_page, False) as parent:
        parent.goto(_latest_link(server, "no-parent@example.org", "/parent/consent?token="))
        _submit(parent, "No, I do not agree")
        assert "You said no" in parent.content()
        check_page(parent)


def test_an_expiredparticipant_link(server, open_page):
    with _page(open_page, True) as page:
        page.goto(f"{server.url}/me/sign-in/link?token=not-a-real-token")
        check_page(page)
        _submit(page, "Carry on")
        assert page.locator("h1").inner_text() == "That link does not work any more"
        check_page(page)


def _staff_page(server: LiveServer, page, email: str, *roles: Role) -> None:
    page.goto(server.staff_sign_in_url(email, *roles))
    _submit(page, "Sign in")


@pytest.mark.parametrize("javascript", JS)
def test_the_staff_admin_screen(server, open_page, javascript):
    with _page(open_page, javascript) as page:
        _staff_page(server, page, f"admin-{int(javascript)}@heard.example.org", Role.ADMIN)
        page.goto(f"{server.url}/staff/people")
        check_page(page)
        page.click("text=Invite someone")
        check_page(page)
        _submit(page, "Send invitation")
        assert page.title().startswith("Error: ")
        check_page(page)
        page.fill("#email", f"new-{int(javascript)}@heard.example.org")
        page.fill("#display_name", "Noor")
        page.check("text=Moderator")
        _submit(page, "Send invitation")
        assert "Invitation sent" in page.content()
        check_page(page)
        page.check("#roles-4")  # Reviewer, everywhere
        _submit(page, "Save roles")
        assert "Roles saved" in page.content()
        check_page(page)
        _submit(page, "Sign out everywhere")
        assert "signed out everywhere" in page.content()
        _submit(page, "Switch off account")
        assert "Account switched off" in page.content()
        check_page(page)


def test_the_timeout_warning_lets_staff_stay_signed_in(server, open_page):
    with _page(open_page, True) as page:
        page.clock.install()
        _staff_page(server, page, "idle@heard.example.org", Role.ANALYST)
        assert page.url == f"{server.url}/staff"
        dialog = page.locator("#session-timeout")
        assert not dialog.is_visible()
        page.clock.run_for(28 * 60 * 1000 + 5000)
        dialog.wait_for(state="visible")
        assert page.evaluate("document.activeElement.textContent") == "Stay signed in"
        check_page(page)
        before = page.get_attribute("[data-session-expires]", "data-session-expires")
        page.get_by_role("button", name="Stay signed in").click()
        dialog.wait_for(state="hidden")
        page.wait_for_function(
            "(b) => document.querySelector('[data-session-expires]')"
            ".getAttribute('data-session-expires') !== b",
            arg=before,
        )
        check_page(page)


def test_without_javascript_staff_pages_say_when_they_end(server, open_page):
    with _page(open_page, False) as page:
        _staff_page(server, page, "nojs@heard.example.org", Role.ANALYST)
        assert "you will be signed out at" in page.content()
        assert not page.locator("#session-timeout").is_visible()
        check_page(page)
