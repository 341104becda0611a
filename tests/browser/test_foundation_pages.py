"""The foundation's pages in real Chromium, at 320 px, with JavaScript on and off.

Every page reached is put through `check_page` (axe-core, target sizes, no sideways
scroll) and must show the "Need to talk?" box. Journeys: the contact form (errors, hostile
input, sent), a join code that does not work, staff sign-in by emailed link and sign-out,
the skip link, "Exit this page", the live character count and the HTMX swap.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.services.contact import MESSAGE_MAX
from tests.browser.harness import (
    assert_focus_visible,
    check_after_swap,
    check_page,
    context_info,
    htmx_settled_count,
)

pytestmark = pytest.mark.browser

HOSTILE = "<script>alert(1)</script>"
PUBLIC_PAGES = [
    "/",
    "/privacy",
    "/privacy/adults",
    "/accessibility",
    "/help",
    "/contact",
    "/join",
    "/staff/sign-in",
    "/programmes/care-review",
    "/calls/call-for-ideas",
    "/dev/mail",
]


def js_on(page: Any) -> bool:
    return context_info(page).js


def assert_help_box(page: Any) -> None:
    box = page.locator("aside.help-box")
    assert box.count() == 1, f"no 'Need to talk?' box on {page.url}"
    assert box.locator("h2").inner_text() == "Need to talk?"
    childline = box.locator("li", has_text="Childline")
    assert "0800 1111" in childline.inner_text()
    assert childline.locator("a").get_attribute("href") == "tel:08001111"


def visit(page: Any, path: str, status: int = 200) -> None:
    response = page.goto(path)
    assert response is not None and response.status == status, (path, response and response.status)
    checked(page)


def checked(page: Any, label: str = "") -> None:
    check_page(page, label=label)
    assert_help_box(page)


# ---- every public page ----


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_page(phone: Any, path: str) -> None:
    visit(phone, path)
    assert phone.locator("h1").count() == 1
    assert phone.locator("main#main-content").count() == 1


def test_page_not_found(phone: Any) -> None:
    visit(phone, "/no-such-page", status=404)
    assert phone.locator("h1").inner_text() == "Page not found"
    assert phone.title().startswith("Page not found")


def test_home_page_on_a_desktop(desktop_page: Any) -> None:
    visit(desktop_page, "/")
    assert desktop_page.locator("h1").inner_text() == "Have your say"


# ---- contact us ----


def _submit_contact(page: Any) -> None:
    button = page.get_by_role("button", name="Send message", exact=True)
    if js_on(page):
        before = htmx_settled_count(page)
        button.click()
        if page.url.endswith("/contact"):
            check_after_swap(page, ".error-summary", settled_more_than=before)
    else:
        with page.expect_navigation():
            button.click()
        check_page(page)
    assert_help_box(page)


def _assert_errors(page: Any, *messages: str) -> None:
    summary = page.locator(".error-summary")
    assert summary.locator("h2").inner_text() == "There is a problem"
    for message in messages:
        assert summary.get_by_text(message).count() == 1, message
    assert page.title().startswith("Error: "), page.title()


def test_contact_form_errors_keep_what_was_typed_then_send(phone: Any) -> None:
    visit(phone, "/contact")
    js = js_on(phone)
    if js:
        phone.evaluate("() => { window.__stillHere = true; }")

    _submit_contact(phone)
    _assert_errors(phone, "Choose what your message is about", "Enter your message")
    if js:
        assert phone.evaluate("() => document.activeElement.classList.contains('error-summary')")
        assert phone.evaluate("() => window.__stillHere === true"), (
            "HTMX should not reload the page"
        )
    # Each link in the summary goes to its field.
    assert phone.locator(".error-summary a[href='#message']").count() == 1
    assert phone.locator("#message-error").count() == 1

    dialogs: list[str] = []
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    too_long = "I want to say something. " * (MESSAGE_MAX // 25 + 4)
    phone.get_by_label("A question about taking part").check()
    phone.fill("#message", too_long)
    phone.fill("#name", HOSTILE)
    _submit_contact(phone)
    _assert_errors(phone, f"Your message must be {MESSAGE_MAX:,} characters or fewer")
    assert phone.input_value("#name") == HOSTILE
    assert phone.input_value("#message") == too_long
    assert phone.get_by_label("A question about taking part").is_checked()
    assert phone.locator("#message-count").inner_text().endswith("characters too many")
    # Escaped, never run: no script appeared and nothing popped up.
    assert phone.locator("script:not([src])").count() == 0
    assert not dialogs
    if js:
        assert phone.evaluate("() => window.__stillHere === true")

    phone.fill("#message", "The page about workshops was hard to find.")
    phone.get_by_label("A question about taking part").check()
    if js:
        with phone.expect_navigation(url=re.compile(r"/contact/sent\?reference=")):
            phone.get_by_role("button", name="Send message", exact=True).click()
    else:
        _submit_contact(phone)
    assert re.search(r"/contact/sent\?reference=C-[A-Z0-9]{6}$", phone.url), phone.url
    checked(phone)
    assert phone.locator(".panel h1").inner_text() == "Message sent"
    reference = phone.url.rsplit("=", 1)[1]
    assert reference in phone.locator(".panel").inner_text()
    assert phone.get_by_role("heading", name="What happens next").count() == 1


def test_contact_character_count_is_live_and_lets_you_type_past_the_limit(page: Any) -> None:
    visit(page, "/contact")
    count = page.locator("#message-count")
    live = page.locator("#message-count-live")
    assert live.get_attribute("aria-live") == "polite"
    assert count.inner_text() == f"You have {MESSAGE_MAX} characters left"

    page.locator("#message").press_sequentially("Hello")
    assert count.inner_text() == f"You have {MESSAGE_MAX - 5} characters left"
    page.wait_for_function(
        "(text) => document.getElementById('message-count-live').textContent === text",
        arg=f"You have {MESSAGE_MAX - 5} characters left",
    )

    page.fill("#message", "x" * (MESSAGE_MAX + 3))
    assert len(page.input_value("#message")) == MESSAGE_MAX + 3, "typing past the limit is allowed"
    assert count.inner_text() == "You have 3 characters too many"
    page.wait_for_function(
        "() => document.getElementById('message-count-live').textContent"
        " === 'You have 3 characters too many'"
    )
    check_page(page, label="a message over the limit")


# ---- join with a code ----


def _press_join(page: Any) -> None:
    button = page.locator("main").get_by_role("button", name="Join", exact=True)
    if js_on(page):
        before = htmx_settled_count(page)
        button.click()
        check_after_swap(page, ".error-summary", settled_more_than=before)
    else:
        with page.expect_navigation():
            button.click()
        check_page(page)
    assert_help_box(page)


def test_join_with_a_code_that_does_not_work(phone: Any) -> None:
    visit(phone, "/join")
    phone.fill("#code", "ZZ")
    _press_join(phone)
    _assert_errors(phone, "Codes have 6 letters and numbers. Check it with your facilitator.")
    assert phone.input_value("#code") == "ZZ"

    phone.fill("#code", "QQQ999")
    _press_join(phone)
    _assert_errors(phone, "That code didn't work. Check it with your facilitator.")


# ---- staff sign-in and sign-out ----


def test_staff_sign_in_by_emailed_link_and_sign_out(phone: Any, live_server: Any) -> None:
    email = f"browser-staff-{'js' if js_on(phone) else 'nojs'}@example.org"
    live_server.staff_sign_in_url(email, "moderator")  # makes the account

    visit(phone, "/staff/sign-in")
    phone.fill("#email", email)
    with phone.expect_navigation(url=re.compile(r"/staff/sign-in/check-email$")):
        phone.get_by_role("button", name="Email me a sign-in link").click()
    checked(phone)
    assert phone.locator("h1").inner_text() == "Check your email"

    sent = live_server.outbox()[0]
    assert sent.to_address == email
    visit(phone, "/dev/mail")
    with phone.expect_navigation(url=re.compile(rf"/dev/mail/{sent.id}$")):
        phone.locator(f"a[href='/dev/mail/{sent.id}']").click()
    checked(phone)
    with phone.expect_navigation(url=re.compile(r"/staff/sign-in/link\?token=")):
        phone.locator("pre.mail a").first.click()
    checked(phone)

    with phone.expect_navigation(url=re.compile(r"/staff$")):
        phone.get_by_role("button", name="Sign in", exact=True).click()
    checked(phone)
    assert phone.locator("h1").inner_text().startswith("Hello")

    with phone.expect_navigation(url=re.compile(r"/staff/signed-out$")):
        phone.get_by_role("button", name="Sign out", exact=True).click()
    checked(phone)
    assert phone.locator("h1").inner_text() == "You have signed out"


def test_staff_sign_in_link_made_for_the_test(phone: Any, live_server: Any) -> None:
    url = live_server.staff_sign_in_url("browser-admin@example.org", "admin")
    visit(phone, url)
    with phone.expect_navigation(url=re.compile(r"/staff$")):
        phone.get_by_role("button", name="Sign in", exact=True).click()
    checked(phone)
    assert "Admin" in phone.locator("main").inner_text()


# ---- skip link and exit this page ----


def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(phone: Any) -> None:
    visit(phone, "/help")
    focused = assert_focus_visible(phone)
    assert focused.startswith("a Skip to main content"), focused
    phone.keyboard.press("Enter")
    phone.wait_for_function("() => document.activeElement.id === 'main-content'")
    assert phone.evaluate("() => document.activeElement.tagName") == "MAIN"


def test_exit_this_page_without_javascript_is_a_link(page_nojs: Any, live_server: Any) -> None:
    visit(page_nojs, "/help")
    link = page_nojs.get_by_role("link", name="Exit this page")
    assert link.get_attribute("href") == live_server.settings.exit_url
    with page_nojs.expect_navigation(url=live_server.settings.exit_url):
        link.click()


def test_exit_this_page_by_pressing_shift_three_times(page: Any, live_server: Any) -> None:
    visit(page, "/help")
    with page.expect_navigation(url=live_server.settings.exit_url):
        for _ in range(3):
            page.keyboard.press("Shift")
