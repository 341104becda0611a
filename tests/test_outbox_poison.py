"""Mail that can't be poisoned (issue 8): one bad email never stops the others.

Header text is made one line when an email is queued and again when it is built, so a CR/LF
can't add a header; an email that still can't be built, or that the mail server refuses for
good, is marked failed with the type of the error (never an address in the log), and the rest
of the batch goes on. Sent through a real SMTP server on loopback (aiosmtpd), which also
records each envelope: the recipients the server was really given.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select

from app.log import JsonFormatter
from app.models import OutboxEmail
from app.services import consent, outbox, participants
from tests import smtp_server as smtp_module
from tests.smtp_server import Inbox, smtp_server

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
INJECTED = "x@example.org"
POISONED_SUBJECT = f"Your place\r\nBcc: {INJECTED}\x00 is kept"


class EnvelopeInbox(Inbox):
    """An inbox that also keeps each envelope, and refuses the addresses in `refuse` (550)."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp(settings, monkeypatch):
    monkeypatch.setattr(smtp_module, "Inbox", EnvelopeInbox)
    with smtp_server() as (inbox, port):
        settings.smtp_host = "127.0.0.1"
        settings.smtp_port = port
        settings.smtp_starttls = False
        yield inbox


@pytest.fixture(autouse=True)
def empty_outbox(session: Session) -> None:
    """Only this test's emails: tests that commit for real may have left some behind (this
    delete is rolled back with the rest of the test)."""
    session.exec(delete(OutboxEmail))  # type: ignore[call-overload]
    session.commit()


def _open(session: Session):
    """Sessions on the test's own connection, as the sender opens them."""
    connection = session.connection()

    def open_session(write: bool) -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint")

    return open_session


def _queue(session: Session, to: str, subject: str = "Hello") -> int:
    email = outbox.queue(session, to=to, subject=subject, body="Body text", now=NOW)
    assert email is not None and email.id is not None
    return email.id


def _raw_row(session: Session, **values: Any) -> int:
    """A row written without `queue` (as an older version, or a script, might have)."""
    row = OutboxEmail(
        **{
            "to_address": "raw@example.org",
            "subject": "Raw",
            "body_text": "Body",
            "created_at": NOW,
            "next_attempt_at": NOW,
            **values,
        }
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def _rows(session: Session) -> dict[int, OutboxEmail]:
    session.expire_all()
    return {row.id: row for row in session.exec(select(OutboxEmail)) if row.id is not None}


def test_one_line_removes_line_breaks_and_control_characters():
    assert outbox.one_line(POISONED_SUBJECT) == f"Your place Bcc: {INJECTED} is kept"
    assert outbox.one_line("  Mo \t\n  Smith\u2028\x7f\x85 ") == "Mo Smith"
    assert outbox.one_line("a\u202ebad\u2066name") == "a bad name"
    # Letters, accents and emoji (with their joiners) are kept as they are.
    assert outbox.one_line("Zoë 👩\u200d👩\u200d👧") == "Zoë 👩\u200d👩\u200d👧"


def test_queue_makes_header_text_one_line(session):
    row = session.get(OutboxEmail, _queue(session, f" mo@example.org\r\nBcc: {INJECTED}", "A\nB"))
    assert row is not None
    assert "\n" not in row.to_address and "\r" not in row.to_address
    assert row.subject == "A B"


def test_queue_keeps_a_body_every_database_can_store(session):
    email = outbox.queue(
        session, to="a@example.org", subject="S", body="Hello Mo\x00\ud800.", now=NOW
    )
    session.commit()  # PostgreSQL refuses a NUL: this commit is the test
    assert email is not None and email.body_text == "Hello Mo\ufffd."


def test_a_poisoned_email_between_good_ones_never_stops_them(session, settings, smtp, caplog):
    first = _queue(session, "first@example.org", "First")
    subject = _queue(session, "subject@example.org", POISONED_SUBJECT)
    # Written straight to the table, so only the check at build time stands in the way.
    # (Without the NUL: PostgreSQL can't store one, which is why `queue` takes it out.)
    raw_subject = _raw_row(
        session, to_address="raw@example.org", subject=POISONED_SUBJECT.replace("\x00", "")
    )
    raw_to = _raw_row(session, to_address=f"raw-to@example.org\nBcc: {INJECTED}")
    queued_to = _queue(session, f"queued-to@example.org\r\nBcc: {INJECTED}")
    unbuildable = _raw_row(session, attachments=[{"filename": "a.ics"}])  # no content
    last = _queue(session, "last@example.org", "Last")
    session.commit()

    with caplog.at_level(logging.INFO, logger="heard.outbox"):
        sent, not_sent = outbox.send_due_blocking(_open(session), settings, NOW)

    assert (sent, not_sent) == (4, 3)
    rows = _rows(session)
    assert {i for i, row in rows.items() if row.status == "sent"} == {
        first,
        subject,
        raw_subject,
        last,
    }
    assert {i for i, row in rows.items() if row.status == "failed"} == {
        raw_to,
        queued_to,
        unbuildable,
    }
    # The reason is the type of the error: nothing from the email itself.
    assert rows[raw_to].last_error == "Unsendable:ValueError"
    assert rows[unbuildable].last_error == "KeyError"
    assert all("@" not in (row.last_error or "") for row in rows.values())

    # The server got four messages, each for its one address, and no injected header.
    assert sorted(rcpt for _, (rcpt,) in smtp.envelopes) == [
        "first@example.org",
        "last@example.org",
        "raw@example.org",
        "subject@example.org",
    ]
    for message in smtp.messages:
        assert message["Bcc"] is None
        assert set(message.keys()) <= {
            "From",
            "To",
            "Subject",
            "Message-ID",
            "Date",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        }
    subjects = sorted(str(m["Subject"]) for m in smtp.messages)
    assert subjects.count(f"Your place Bcc: {INJECTED} is kept") == 2

    # The log names emails by id and errors by type: no address, no subject.
    logged = [JsonFormatter().format(record) for record in caplog.records]
    assert len(logged) == 3
    assert all("@" not in line and "Your place" not in line for line in logged)
    assert {json.loads(line)["outbox_id"] for line in logged} == {raw_to, queued_to, unbuildable}

    # Failed emails stay failed: the next run sends nothing and fails nothing again.
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (0, 0)


def test_poison_in_every_batch_does_not_stop_the_ones_after(session, settings, smtp):
    good = []
    for n in range(outbox.BATCH_SIZE * 2 + 3):
        if n % 4 == 1:
            _raw_row(session, to_address=f"bad{n}@example.org\nBcc: {INJECTED}")
        else:
            good.append(_queue(session, f"good{n}@example.org", f"Email {n}"))
    session.commit()
    sent, not_sent = outbox.send_due_blocking(_open(session), settings, NOW)
    assert sent == len(good)
    assert not_sent == outbox.BATCH_SIZE * 2 + 3 - len(good)
    assert sorted(rcpt for _, (rcpt,) in smtp.envelopes) == sorted(
        row.to_address for i, row in _rows(session).items() if i in good
    )


def test_an_address_the_server_refuses_for_good_fails_at_once_and_the_rest_go(
    session, settings, smtp
):
    smtp.refuse.add("gone@example.org")
    first = _queue(session, "first@example.org")
    gone = _queue(session, "gone@example.org")
    last = _queue(session, "last@example.org")
    session.commit()
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (2, 1)
    rows = _rows(session)
    assert (rows[first].status, rows[last].status) == ("sent", "sent")
    assert rows[gone].status == "failed"
    assert rows[gone].last_error == "SMTPRecipientsRefused"
    assert rows[gone].attempts == 1  # not retried: a 5xx answer would only come again


def test_a_server_that_is_down_is_retried_not_failed(session, settings):
    settings.smtp_host, settings.smtp_port = "127.0.0.1", 9  # nothing listens on discard
    first = _queue(session, "first@example.org")
    session.commit()
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (0, 1)
    row = _rows(session)[first]
    assert (row.status, row.attempts) == ("pending", 1)


def test_a_bad_sender_setting_sends_nothing_and_fails_nothing(session, settings):
    settings.mail_from = "not an address"
    email_id = _queue(session, "first@example.org")
    session.commit()
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (0, 0)
    row = _rows(session)[email_id]
    assert (row.status, row.attempts) == ("pending", 0)


def test_the_same_email_has_the_same_message_id_every_time(session, settings):
    email_id = _queue(session, "first@example.org")
    session.commit()
    row = session.get(OutboxEmail, email_id)
    assert row is not None
    one, two = outbox.build(settings, row), outbox.build(settings, row)
    assert one.content == two.content
    assert outbox.build_message(settings, row)["Message-ID"].endswith("@heard.example.org>")


def test_a_display_name_with_a_newline_is_saved_on_one_line(session, settings):
    person = participants.create(
        session, display_name=f"  Mo\r\nBcc: {INJECTED}\x00\t Smith  ", now=NOW, age_band=None
    )
    assert person.display_name == f"Mo Bcc: {INJECTED} Smith"


def test_the_parent_consent_email_from_a_poisoned_name_is_sent(session, settings, smtp):
    """The issue's case: a name with a newline reached a subject and stopped all mail."""
    person = participants.create(session, display_name="Mo\nBcc: x@example.org", now=NOW)
    consent.request_parent_consent(
        session, settings, person, "parent@example.org", NOW, context="a workshop"
    )
    other = _queue(session, "other@example.org")
    session.commit()
    assert outbox.send_due_blocking(_open(session), settings, NOW) == (2, 0)
    assert sorted(rcpt for _, (rcpt,) in smtp.envelopes) == [
        "other@example.org",
        "parent@example.org",
    ]
    assert all(message["Bcc"] is None for message in smtp.messages)
    assert _rows(session)[other].status == "sent"
    subjects = session.exec(select(OutboxEmail.subject).order_by(col(OutboxEmail.id))).all()
    assert all("\n" not in s for s in subjects)
