"""Spaces, moderation and safeguarding in real Chromium at 320 px, JavaScript on and off,
axe-clean at every step and after every live update.

A young person in a workshop room posts in a pre-moderated space and sees "Waiting to be
checked"; a moderator approves; the author sees "Shared" and another participant sees the
post appear, live (with JavaScript) or on a reload (without). A post with a phone number is
held with the gentle note. A disclosure shows the help message, its urgent email reaches a
real SMTP server on loopback through a real `heard worker`, and it is in the safeguarding
lead's urgent queue. Every page of the feature is checked.
"""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from app.models import Role, Space
from app.services import spaces, spaces_staff
from app.services.identity import Identity
from tests.browser.harness import check_after_swap, check_page, htmx_settled_count, press
from tests.conftest import build_workshop
from tests.factories import make_staff

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def word(n: int) -> str:
    """A number as letters ("Sky Bc"): digits in a display name would make any number in a
    post look like that person's name to screening."""
    return str(n).translate(str.maketrans("0123456789", "abcdefghij")).capitalize()


LIVE_WAIT_MS = 15_000
GENTLE = "Please don't share personal details like phone numbers. A moderator will check your post."


def follow(page: Any, name: str) -> None:
    with page.expect_navigation():
        page.get_by_role("link", name=name).first.click()
    check_page(page, label=f"after the {name} link")


def a_room(live_server: Any, *, prompt: str = "What would have made moving home easier?") -> Any:
    """A workshop starting soon, its space (pre-moderated) and one question."""
    n = next(_n)
    with live_server.db() as session:
        workshop = build_workshop(
            session, utcnow(), title=f"Spaces room {n}", starts_at=utcnow() + timedelta(minutes=10)
        )
        admin = make_staff(session, Role.ADMIN)
        who = Identity(staff=admin, roles={(Role.ADMIN, None)})
        space = spaces_staff.open_for_workshop(session, workshop, who, utcnow())
        thread = spaces_staff.add_thread(session, space, prompt, who, utcnow())
        session.flush()
        for row in (workshop, space, thread):
            session.expunge(row)
    return workshop, space, thread


def go(page: Any, path: str) -> None:
    """Open a page of the live server (pages made by `open_page` have no base URL)."""
    page.goto(_base["url"] + path)


_base: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _remember_base(live_server: Any) -> None:
    _base["url"] = live_server.url


def join(page: Any, workshop: Any, name: str) -> None:
    """The real journey: the code, a name for today, the house rules, the room."""
    go(page, f"/join?code={workshop.join_code}")
    check_page(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Join").click()
    check_page(page)
    page.get_by_label("Choose a name for today").fill(name)
    page.get_by_label("I have read the house rules").check()
    press(page, "Go to the workshop")


def to_thread(page: Any, workshop: Any, thread: Any) -> None:
    """From the room (its "Talk about it" link) to the question, as a young person would."""
    assert page.url.endswith(f"/workshops/{workshop.slug}/room")
    follow(page, "Talk about it")
    assert page.locator("h1").inner_text() == "Talk about it"
    follow(page, thread.prompt)
    assert page.locator("h1").inner_text() == thread.prompt


def write(page: Any, text: str) -> None:
    page.get_by_label("Your post").fill(text)
    press(page, "Send")


def sign_in_staff(page: Any, live_server: Any, email: str, *roles: str) -> None:
    page.goto(live_server.staff_sign_in_url(email, *roles))
    press(page, "Sign in")


def staff_page(open_page: Any, live_server: Any, role: str) -> Any:
    page = open_page(True)
    page.set_viewport_size({"width": 320, "height": 640})
    sign_in_staff(page, live_server, f"{role}-{next(_n)}@heard.example.org", role)
    return page


def wait_streaming(page: Any) -> None:
    page.wait_for_selector("#thread-live[data-live-state='streaming']", timeout=LIVE_WAIT_MS)


# --- the journey ---------------------------------------------------------------------------


def test_a_post_is_checked_then_appears_live_for_everyone(
    page: Any, page_nojs: Any, open_page: Any, live_server: Any
) -> None:
    workshop, space, thread = a_room(live_server)
    n = next(_n)

    # A young person on their phone writes a post: it waits to be checked.
    join(page, workshop, f"Sky {word(n)}")
    to_thread(page, workshop, thread)
    textarea = page.get_by_label("Your post")
    textarea.fill("Being told ")
    page.wait_for_function(
        "() => document.getElementById('body-count').textContent.includes('characters left')"
    )
    write(page, f"Being told before I moved, not on the day ({n}).")
    assert "waiting to be checked" in page.locator(".flash").inner_text()
    mine = page.locator("li.post--mine").first
    assert "Waiting to be checked" in mine.inner_text()
    wait_streaming(page)

    # Another young person in the room, with JavaScript: nothing yet.
    other = open_page(True)
    other.set_viewport_size({"width": 320, "height": 640})
    join(other, workshop, f"Robin {word(n)}")
    to_thread(other, workshop, thread)
    assert "Nobody has posted yet" in other.locator("#thread-posts").inner_text()
    wait_streaming(other)

    # A moderator approves it from the queue, with one thumb.
    moderator = staff_page(open_page, live_server, "moderator")
    go(moderator, "/moderation")
    check_page(moderator)
    item = moderator.locator("li.queue-item", has_text=f"not on the day ({n})")
    assert item.count() == 1
    mine_before = htmx_settled_count(page)
    other_before = htmx_settled_count(other)
    with moderator.expect_navigation():
        item.get_by_role("button", name="Share").click()
    check_page(moderator)
    assert "Shared." in moderator.locator(".flash").inner_text()

    # The author sees it shared, live, and hears it once.
    page.wait_for_function(
        "() => document.querySelector('li.post--mine .tag').textContent.includes('Shared')",
        timeout=LIVE_WAIT_MS,
    )
    check_after_swap(page, "li.post--mine", settled_more_than=mine_before)
    page.wait_for_function(
        "() => document.getElementById('announcer').textContent === 'Your post has been shared'"
    )

    # The other young person sees it appear, live, announced politely.
    other.wait_for_function(
        f"() => document.getElementById('posts-list').innerText.includes('day ({n})')",
        timeout=LIVE_WAIT_MS,
    )
    check_after_swap(other, "#posts-list li.post", settled_more_than=other_before)
    assert other.locator("#no-posts").count() == 0
    other.wait_for_function(
        "() => document.getElementById('announcer').textContent === '1 new post'"
    )
    assert other.get_by_role("button", name="Me too").count() == 1

    # Without JavaScript, someone else in the room sees it on loading the page.
    join(page_nojs, workshop, f"Ash {word(n)}")
    go(page_nojs, f"/spaces/{space.id}/threads/{thread.id}")
    check_page(page_nojs, label="without JavaScript")
    assert f"not on the day ({n})" in page_nojs.locator("#posts-list").inner_text()
    press(page_nojs, f"Me too (the post by Sky {word(n)})")
    assert page_nojs.locator("button[aria-pressed='true']").count() == 1


def test_a_phone_number_is_held_with_the_gentle_note(
    phone: Any, open_page: Any, live_server: Any
) -> None:
    workshop, _space, thread = a_room(live_server)
    n = next(_n)
    join(phone, workshop, f"Jo {word(n)}")
    to_thread(phone, workshop, thread)
    press(phone, "Send")  # nothing written: the error summary, the title says so
    assert phone.title().startswith("Error: ")
    assert "Write something before you send it" in phone.locator(".error-summary").inner_text()
    write(phone, f"call me on 07700 900{n:03d} after school")
    assert GENTLE in phone.locator(".flash").inner_text()
    assert GENTLE in phone.locator("li.post--mine").inner_text()

    # The moderator does not share it, with a kind reason the author then reads.
    moderator = staff_page(open_page, live_server, "moderator")
    go(moderator, "/moderation")
    check_page(moderator)
    item = moderator.locator("li.queue-item", has_text=f"900{n:03d}")
    with moderator.expect_navigation():
        item.get_by_role("link", name="More choices").click()
    check_page(moderator)
    moderator.get_by_role("button", name="Don't share it").click()
    moderator.wait_for_load_state("load")
    check_page(moderator, label="no reason chosen")
    assert moderator.title().startswith("Error: ")
    moderator.get_by_label("It had personal details in it").check()
    press(moderator, "Don't share it")

    phone.reload()
    check_page(phone, label="after the decision")
    mine = phone.locator("li.post--mine").inner_text()
    assert "Not shared" in mine and "Please leave those out and try again" in mine


def test_a_disclosure_shows_help_and_reaches_the_safeguarding_lead(
    page: Any, open_page: Any, live_server: Any, tmp_path: Any
) -> None:
    from tests.live_processes import heard_env, start_heard, stop
    from tests.smtp_server import smtp_server

    workshop, _space, thread = a_room(live_server)
    n = next(_n)
    lead_email = f"lead-{n}@heard.example.org"
    live_server.staff_sign_in_url(lead_email, "safeguarding_lead")  # the lead's account

    join(page, workshop, f"Kit {word(n)}")
    to_thread(page, workshop, thread)
    write(page, "my dad hits me when he is drunk and im scared to go home")
    help_box = page.locator(".notice--important").first.inner_text()
    for where in ("0800 1111", "116 123", "SHOUT to 85258", "999", "trusted adult"):
        assert where in help_box
    assert "We cannot always keep it secret" in help_box
    assert "Only you and our safety team can see this" in page.locator("li.post--mine").inner_text()

    # The urgent email goes through a real `heard worker` to a real SMTP server on loopback.
    with smtp_server() as (inbox, port):
        env = heard_env(
            live_server.settings.database_url,
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=str(port),
            smtp_starttls="false",
            worker_outbox_seconds="1",
        )
        worker = start_heard(["worker"], env, tmp_path)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(
                m["To"] == lead_email for m in inbox.messages
            ):
                time.sleep(0.2)
        finally:
            stop(worker)
        sent = [m for m in inbox.messages if m["To"] == lead_email]
        assert len(sent) == 1, "the urgent email did not arrive within a minute"
        assert "Urgent" in sent[0]["Subject"]
        body = inbox.bodies()[inbox.messages.index(sent[0])]
        assert "hits me" not in body and "/safeguarding/concerns/" in body

    # The lead's urgent queue, and the concern.
    lead = open_page(True)
    lead.set_viewport_size({"width": 320, "height": 640})
    sign_in_staff(lead, live_server, lead_email, "safeguarding_lead")
    go(lead, "/safeguarding")
    check_page(lead)
    assert "(not opened yet)" in lead.locator("#new ~ ul").first.inner_text()
    with lead.expect_navigation():
        lead.locator("#new ~ ul a").first.click()
    check_page(lead)
    assert "hits me when he is drunk" in lead.locator(".concern-text").inner_text()
    lead.get_by_label("Action taken").check()
    lead.get_by_label("Details").fill("Spoke to the facilitator; calling the DSL")
    lead.get_by_label("In progress").check()
    press(lead, "Save")
    assert "calling the DSL" in lead.locator("main").inner_text()

    # In the moderation queue it is urgent, and the lead can keep it private.
    go(lead, "/moderation")
    check_page(lead)
    assert "hits me" in lead.locator("#urgent ~ ul").first.inner_text()


# --- replies, changes, reports, deleting ---------------------------------------------------


def test_reply_change_report_and_delete(phone: Any, open_page: Any, live_server: Any) -> None:
    workshop, space, thread = a_room(live_server)
    n = next(_n)
    with live_server.db() as session:
        fresh_space = session.get(Space, space.id)
        fresh_space.mode = spaces.SpaceMode.POST_MODERATED
        fresh_space.under_18s = False
        session.add(fresh_space)

    other = open_page(True)
    other.set_viewport_size({"width": 320, "height": 640})
    join(other, workshop, f"Lee {word(n)}")
    to_thread(other, workshop, thread)
    write(other, f"Moving school was the hardest part ({n}).")

    join(phone, workshop, f"Mo {word(n)}")
    to_thread(phone, workshop, thread)
    follow(phone, f"Reply to Lee {word(n)}")
    write_reply = phone.get_by_label("Your reply")
    write_reply.fill("Same for me.")
    press(phone, "Send reply")
    assert "Same for me." in phone.locator("#posts-list").inner_text()

    follow(phone, "Change your post")
    phone.get_by_label("Your post").fill("Same for me, twice.")
    press(phone, "Save changes")
    assert "Same for me, twice." in phone.locator("#posts-list").inner_text()

    follow(phone, f"Something wrong? Tell us about the post by Lee {word(n)}")
    press(phone, "Tell the team")  # no reason chosen
    assert phone.title().startswith("Error: ")
    phone.get_by_label("It is upsetting").check()
    press(phone, "Tell the team")
    assert "A moderator will look at it" in phone.locator(".flash").inner_text()

    follow(phone, "Delete your post")
    press(phone, "Yes, delete it")
    assert "Your post has been deleted" in phone.locator(".flash").inner_text()
    assert "twice" not in phone.locator("#posts-list").inner_text()


def test_the_room_links_to_a_space_that_is_not_open_yet(phone: Any, live_server: Any) -> None:
    n = next(_n)
    with live_server.db() as session:
        workshop = build_workshop(
            session, utcnow(), title=f"No space {n}", starts_at=utcnow() + timedelta(minutes=10)
        )
        session.flush()
        session.expunge(workshop)
    join(phone, workshop, f"Zed {word(n)}")
    follow(phone, "Talk about it")
    assert "There is nothing to talk about here yet" in phone.locator("main").inner_text()


# --- staff ---------------------------------------------------------------------------------


def test_staff_open_a_space_add_a_question_and_screening_words(
    desktop_page: Any, page: Any, live_server: Any
) -> None:
    n = next(_n)
    email = f"spaces-admin-{n}@heard.example.org"
    with live_server.db() as session:
        workshop = build_workshop(
            session, utcnow(), title=f"Staff space {n}", starts_at=utcnow() + timedelta(days=1)
        )
        session.flush()
        session.expunge(workshop)
    for screen in (page, desktop_page):
        sign_in_staff(screen, live_server, email, "admin", "moderator")
    go(page, "/staff")
    check_page(page)
    follow(page, "Discussion spaces")
    press(page, f"Open a space for Staff space {n}")
    assert page.locator("h1").inner_text() == "Run the space"
    press(page, "Add the question")  # empty: the error summary
    assert page.title().startswith("Error: ")
    page.get_by_label("Add a question").fill("What helped you most?")
    press(page, "Add the question")
    assert "What helped you most?" in page.locator("main").inner_text()
    # Anyone under 18 can take part, so checking after posting is not offered.
    assert page.get_by_label("Shared at once", exact=False).count() == 0

    go(page, "/staff/spaces")
    check_page(page)
    follow(page, "Run the space for Staff space " + str(n))

    go(desktop_page, "/moderation/words")
    check_page(desktop_page)
    desktop_page.get_by_label("Word or phrase").fill(f"blue lanyard {n}")
    desktop_page.get_by_label("A sign someone may be at risk").check()
    press(desktop_page, "Add it")
    assert f"blue lanyard {n}" in desktop_page.locator("table").inner_text()
    press(desktop_page, f"Remove blue lanyard {n}")
    assert f"blue lanyard {n}" not in desktop_page.locator("main").inner_text()
