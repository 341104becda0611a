"""Every email comes from its templates: a text part and an HTML part that say the same.

Each template is rendered with sample data in which everything a person could type is
hostile HTML: the HTML part must show it escaped, the text part as it was typed. A queued
email then goes through a real SMTP server on loopback as multipart/alternative.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace as Thing
from typing import Any

import pytest
from sqlmodel import Session, delete

from app import emails
from app.models import OutboxEmail
from app.services import consent, outbox, participants

NOW = datetime(2026, 12, 3, 10, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
URL = "https://heard.example.org/a-link?token=abc&next=/me"


def _workshop(**changes: Any) -> Thing:
    values = {
        "title": f"Art {HOSTILE}",
        "starts_at": NOW + timedelta(days=3),
        "ends_at": NOW + timedelta(days=3, hours=2),
        "place": f"Hall {HOSTILE}",
        "access_info": f"Ramp {HOSTILE}",
        "online_link": "https://meet.example.org/art",
    }
    return Thing(**{**values, **changes})


URLS = {"manage": URL, "calendar": URL + "/calendar.ics", "cancel": URL + "/cancel"}
WHERE = {"in_person": True, "online": True, "link": "https://meet.example.org/art"}
SIGN_UP = Thing(display_name=HOSTILE, reference="W-ABC123")
ANSWERS = [
    {"number": 1, "question": f"Why {HOSTILE}?", "answer": f"Because\n\n{HOSTILE}"},
    {"number": 2, "question": "Anything else?", "answer": ""},
]
CHANGES = {
    "before": Thing(starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=2, hours=1)),
    "after": Thing(starts_at=NOW + timedelta(days=3), ends_at=NOW + timedelta(days=3, hours=2)),
    "when": True,
    "where": True,
    "was": "Online",
    "now_at": f"Hall {HOSTILE}",
    "link": True,
}
ROUND = Thing(title=f"Young advisers {HOSTILE}")

# One sample per email (a test below checks that none is missing).
SAMPLES: dict[str, dict[str, Any]] = {
    "calls/receipt": {
        "call": Thing(title=f"Listen {HOSTILE}"),
        "name": HOSTILE,
        "submitted_at": NOW,
        "reference": "R-ABC",
        "answers": ANSWERS,
        "quote_consent": True,
        "what_next": "We read everything.",
    },
    "calls/resume_link": {
        "call": Thing(title=f"Listen {HOSTILE}"),
        "url": URL,
        "closes": "Closes on Friday 5 February at 11:59pm",
    },
    "consent/parent_consent": {
        "name": HOSTILE,
        "activity": f'the workshop "{HOSTILE}"',
        "url": URL,
    },
    "contact/message": {
        "reference": "C-ABCDEF",
        "topic": "Something else",
        "name": HOSTILE,
        "reply_to": "someone@example.org",
        "message": f"Hello\n{HOSTILE}",
    },
    "participants/sign_in_link": {
        "people": [{"name": HOSTILE, "url": URL}, {"name": "Mo", "url": URL + "2"}],
        "minutes": 30,
    },
    "rounds/later_closing": {"round": ROUND, "url": URL, "closes": "Closes on Friday"},
    "rounds/outcome": {"round": ROUND, "name": HOSTILE, "outcome": HOSTILE, "reference": "A-1"},
    "rounds/receipt": {
        "round": ROUND,
        "name": HOSTILE,
        "submitted_at": NOW,
        "reference": "A-1",
        "answers": ANSWERS,
        "what_next": "We decide soon.",
        "url": URL,
    },
    "rounds/resume_link": {
        "round": ROUND,
        "url": URL,
        "more_time_until": NOW + timedelta(days=2),
        "closes": "Closes on Friday",
    },
    "safeguarding/concern": {"url": URL, "raised_at": NOW, "escalation": True, "minutes": 15},
    "staff/invite": {"name": HOSTILE, "url": URL, "days": 7},
    "staff/sign_in_link": {"name": HOSTILE, "url": URL, "minutes": 30},
    "subscriptions/confirm": {"programme": Thing(title=HOSTILE), "url": URL, "hours": 48},
    "subscriptions/update": {
        "programme": Thing(title=HOSTILE),
        "update": Thing(you_said=HOSTILE, we_did=f"Fixed\n\n{HOSTILE}"),
        "page": URL,
        "unsubscribe": URL + "/unsubscribe",
    },
    "workshops/cancelled": {"workshop": _workshop(), "name": HOSTILE, "reason": HOSTILE},
    "workshops/family_signed_up": {
        "workshop": _workshop(),
        "names": f"{HOSTILE} and Sam",
        "children": [
            {"name": HOSTILE, "status": "has a place", "reference": "W-1", "urls": URLS},
            {"name": "Sam", "status": "is on the waiting list", "reference": "W-2", "urls": URLS},
        ],
        "where": WHERE,
    },
    "workshops/message": {
        "workshop": _workshop(),
        "name": HOSTILE,
        "message_subject": HOSTILE,
        "message": f"Bring pens\n\n{HOSTILE}",
    },
    "workshops/reminder": {
        "workshop": _workshop(),
        "sign_up": SIGN_UP,
        "words": "in 2 days",
        "where": WHERE,
        "urls": URLS,
    },
    "workshops/sign_up": {
        "kind": "changed",
        "workshop": _workshop(),
        "sign_up": SIGN_UP,
        "confirmed": True,
        "place_kept": True,
        "where": WHERE,
        "urls": URLS,
        "changes": CHANGES,
        "waiting": "You're on the waiting list, number 2",
    },
}


def test_every_email_has_a_sample() -> None:
    assert sorted(SAMPLES) == emails.names()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_email_renders_text_and_accessible_html(name: str, settings) -> None:
    mail = emails.render(name, settings, NOW, **SAMPLES[name])
    assert mail.subject and "\n" not in mail.subject
    assert mail.text.strip() and mail.html.strip()
    html = mail.html
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in html
    title = re.search(r"<title>(.*)</title>", html)
    assert title and title.group(1).strip()
    # Nothing fetched, nothing run, no styles to break without CSS.
    for banned in ("<img", "<script", "<style", "<link", "<iframe", "style=", "onload"):
        assert banned not in html, banned
    # Whatever a person typed is shown, escaped; the text part keeps it as typed.
    if HOSTILE in mail.text or HOSTILE in mail.subject:
        assert ESCAPED in html
    # Every link is a real web or mail link.
    for href in re.findall(r'href="([^"]*)"', html):
        assert href.startswith(("https://", "http://", "mailto:")), href


def test_the_text_part_keeps_the_words_exactly(settings) -> None:
    mail = emails.render("staff/sign_in_link", settings, NOW, name="Tom & Ann", url=URL, minutes=9)
    assert mail.subject == "Your link to sign in to Heard"
    assert mail.text == (
        f"Hello Tom & Ann,\n\nUse this link to sign in to Heard:\n\n{URL}\n\n"
        "It works once, for 9 minutes.\nIf you did not ask for it, you can ignore this email.\n"
    )
    assert "Hello Tom &amp; Ann," in mail.html
    assert f'<a href="{URL.replace("&", "&amp;")}">Sign in to Heard</a>' in mail.html


def test_a_link_that_is_not_a_web_link_is_never_made_a_link(settings) -> None:
    sample = {**SAMPLES["workshops/reminder"], "where": {**WHERE, "link": "javascript:alert(1)"}}
    mail = emails.render("workshops/reminder", settings, NOW, **sample)
    assert "javascript:alert(1)" in mail.text
    assert 'href="javascript' not in mail.html


def test_a_missing_value_fails_loudly(settings) -> None:
    with pytest.raises(Exception, match="minutes"):
        emails.render("staff/sign_in_link", settings, NOW, name="Mo", url=URL)


# --- through the outbox ----------------------------------------------------------------


def _open(session: Session):
    connection = session.connection()

    def open_session(write: bool) -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint")

    return open_session


def test_a_queued_email_is_sent_as_multipart_alternative(session, settings, smtp) -> None:
    session.exec(delete(OutboxEmail))  # type: ignore[call-overload]
    person = participants.create(session, display_name=f"Mo {HOSTILE}", now=NOW)
    consent.request_parent_consent(
        session, settings, person, "parent@example.org", NOW, context="a workshop"
    )
    session.commit()
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (1, 0)

    [message] = smtp.messages
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # text first: the HTML is preferred
    assert message["Subject"] == f"Mo {HOSTILE} wants to take part in a workshop"
    [text] = smtp.bodies("plain")
    [html] = smtp.bodies("html")
    assert f"Mo {HOSTILE} has asked to take part in a workshop" in text
    assert HOSTILE not in html and f"Mo {ESCAPED} has asked" in html
    link = re.search(r"http://testserver/parent/consent\?token=\S+", text)
    assert link and f'href="{link.group(0)}"' in html


def test_an_email_with_an_attachment_keeps_both_parts_and_its_headers(session, settings):
    email = outbox.queue(
        session,
        to="someone@example.org",
        subject="Update: News",
        body="Plain words\n",
        html="<!DOCTYPE html><html lang='en'><p>Plain words</p></html>",
        now=NOW,
        attachments=(outbox.Attachment("workshop.ics", "text/calendar", b"BEGIN:VCALENDAR"),),
        headers={"List-Unsubscribe": "<https://heard.example.org/u/x>"},
        limited=False,
    )
    assert email is not None
    message = outbox.build_message(settings, email)
    assert message.get_content_type() == "multipart/mixed"
    body, attached = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in body.iter_parts()] == ["text/plain", "text/html"]
    assert attached.get_filename() == "workshop.ics"
    assert message["List-Unsubscribe"] == "<https://heard.example.org/u/x>"


def test_an_email_queued_without_html_is_sent_as_text(session, settings) -> None:
    email = outbox.queue(session, to="a@example.org", subject="Hi", body="Words\n", now=NOW)
    assert email is not None and email.body_html is None
    assert outbox.build_message(settings, email).get_content_type() == "text/plain"


def test_the_html_part_is_personal_data_like_the_text() -> None:
    declared = OutboxEmail.personal_data
    assert "body_html" in declared.fields and "body_text" in declared.fields
    assert declared.erase == "delete"  # erasure removes the row, both parts with it
