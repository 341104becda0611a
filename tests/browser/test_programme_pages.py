"""Programmes in real Chromium at 320 px, JavaScript on and off, axe-clean at every step.

A subscriber asks for updates on the demo programme's page (an error first), confirms from
the email, and unsubscribes from the link every update carries. Staff write an update,
publish it, send it to subscribers and watch "Sent N of N" (the worker's part is run here).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest
from sqlmodel import select

from app.db import utcnow
from tests.browser.harness import check_after_swap, check_page, htmx_settled_count, js_on

pytestmark = pytest.mark.browser
_n = itertools.count(1)
PROGRAMME = "/programmes/care-review"


def press(page: Any, name: str | re.Pattern[str]) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=name).first.click()
    check_page(page, label=f"after {name}")


def follow(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name).first.click()
    check_page(page, label=f"after {name}")


def confirm_path(live_server: Any, address: str) -> str:
    for email in live_server.outbox():
        if email.to_address == address and email.subject.startswith("Confirm"):
            found = re.search(r"/subscribe/confirm/[A-Za-z0-9_-]+", email.body_text)
            assert found
            return found.group(0)
    raise AssertionError(f"no confirm email to {address}")


def unsubscribe_path(live_server: Any, address: str) -> str:
    """The link every update email carries (as the next update would)."""
    from app.models import Subscription
    from app.services import subscriptions

    with live_server.db() as session:
        row = session.exec(select(Subscription).where(Subscription.email == address)).one()
        return f"/unsubscribe/{subscriptions.unsubscribe_token(live_server.settings, row)}"


def test_subscribe_confirm_from_the_email_and_unsubscribe(phone: Any, live_server: Any) -> None:
    address = f"follower{next(_n)}@example.org"
    phone.goto(PROGRAMME)
    check_page(phone)
    assert phone.locator('[aria-current="step"]').count() == 1
    press(phone, "Keep me updated")  # no address: the error, on a page of its own
    assert phone.title().startswith("Error: ")
    phone.get_by_label("Your email address").fill(address)
    press(phone, "Keep me updated")
    assert phone.locator("h1").inner_text() == "Check your email"

    phone.goto(confirm_path(live_server, address))
    check_page(phone)
    press(phone, "Yes, send me updates")
    assert phone.locator("h1").inner_text() == "You will get updates"

    phone.goto(unsubscribe_path(live_server, address))
    check_page(phone)
    press(phone, "Stop my updates")
    assert phone.locator("h1").inner_text() == "You will not get any more updates"
    press(phone, "Delete my email address now")
    assert phone.url.endswith(PROGRAMME)
    assert "We have deleted your email address" in phone.locator("main").inner_text()


def _confirmed_follower(live_server: Any, n: int) -> None:
    from app.models import Programme
    from app.services import subscriptions

    address = f"reader{n}@example.org"
    with live_server.db() as session:
        programme = session.exec(select(Programme).where(Programme.slug == "care-review")).one()
        subscriptions.subscribe(session, live_server.settings, programme, address, utcnow())
    with live_server.db() as session:
        row = session.exec(
            select(subscriptions.Subscription).where(subscriptions.Subscription.email == address)
        ).one()
        subscriptions.confirm(session, row, utcnow())


def _run_the_worker(live_server: Any) -> None:
    from app.services import outbox

    outbox.send_due_blocking(live_server.app.state.open_session, live_server.settings, utcnow())


def test_staff_publish_an_update_and_send_it(phone: Any, live_server: Any) -> None:
    n = next(_n)
    _confirmed_follower(live_server, n)
    phone.goto(live_server.staff_sign_in_url(f"admin-updates{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto("/staff/programmes")
    check_page(phone)
    follow(phone, "Listening review of children's social care")
    press(phone, "Save as a draft")  # nothing typed: the error summary
    assert phone.title().startswith("Error: ")
    phone.get_by_label("You said").fill(f"Update {n}: meetings are at school time")
    phone.get_by_label("We did").fill("We moved them to after school")
    press(phone, "Save as a draft")
    press(phone, "Publish this draft")
    press(phone, re.compile("^Email to subscribers"))
    assert phone.locator("h1").inner_text() == "Sending an update"
    assert re.search(r"Sent 0 of [1-9]", phone.locator("#progress").inner_text())
    if js_on(phone):
        before = htmx_settled_count(phone)
        _run_the_worker(live_server)
        check_after_swap(phone, "#progress", settled_more_than=before)
    else:
        _run_the_worker(live_server)
        follow(phone, "Check again")
    assert re.search(r"Sent (\d+) of \1\. Done\.", phone.locator("#progress").inner_text())

    phone.goto(PROGRAMME)
    check_page(phone)
    assert f"Update {n}: meetings are at school time" in phone.locator("main").inner_text()


def test_staff_look_up_what_is_held_for_an_address_and_delete_it(
    phone: Any, live_server: Any
) -> None:
    n = next(_n)
    _confirmed_follower(live_server, 100 + n)
    phone.goto(live_server.staff_sign_in_url(f"admin-data{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto("/staff/programmes")
    check_page(phone)
    follow(phone, "Look up an email address")
    phone.get_by_label("Their email address").fill(f"reader{100 + n}@example.org")
    press(phone, "Find")
    assert "Listening review of children's social care" in phone.locator("table").inner_text()
    press(phone, "Delete all of it")
    assert "Deleted 1 subscription." in phone.locator("main").inner_text()
