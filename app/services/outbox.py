"""The email outbox: queue in the same transaction as the cause, send later with retries.

Sending is safe to run in several processes at once (`heard worker` twice, or a worker and
`heard jobs run` from cron): each email is claimed in one short write transaction (FOR UPDATE
SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite) before it is sent, so no two senders
ever hold the same email. A claim is a lease: if its sender dies, the email is due again
when the lease runs out.

No email can stop the others. Header text (recipient, subject, sender, file names) is made
one line when queued and again when built; an email that still can't be built, or that the
mail server refuses for good, is marked failed with the type of the error, and the rest go on.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import aiosmtplib
from limits import RateLimitItem, parse
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from app.config import Settings
from app.models import OutboxEmail

log = logging.getLogger("heard.outbox")

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(minutes=1)
# Emails claimed at a time. A claim must be sent within its lease, so a batch is kept small
# enough that even a batch of slow sends (each cut off at SEND_DEADLINE) fits in CLAIM_LEASE.
BATCH_SIZE = 10
SEND_DEADLINE = timedelta(seconds=60)
CLAIM_LEASE = timedelta(minutes=15)
assert BATCH_SIZE * SEND_DEADLINE < CLAIM_LEASE

OpenSession = Callable[[bool], Session]

# Emails to one mailbox across every flow (HEARD_MAIL_RATE_PER_RECIPIENT), so nobody can fill
# someone's inbox by signing them up again and again. Counted in the outbox itself, so every
# web process, the worker and cron count together. Set from the settings at start-up.
_per_recipient: RateLimitItem = parse(Settings.model_fields["mail_rate_per_recipient"].default)


def limit_per_recipient(rate: str) -> None:
    """Use this limit (from HEARD_MAIL_RATE_PER_RECIPIENT) for every email queued from now."""
    global _per_recipient
    _per_recipient = parse(rate)


def recipient_key(address: str) -> str:
    """One key per mailbox: case, a +tag and Gmail's dots don't make another one. A hash, so
    counting never needs the address itself."""
    local, _, domain = one_line(address).strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in {"gmail.com", "googlemail.com"}:
        local, domain = local.replace(".", ""), "gmail.com"
    return hashlib.sha256(f"{local}@{domain}".encode()).hexdigest()


def _over_limit(session: Session, key: str, now: datetime) -> bool:
    since = now - timedelta(seconds=_per_recipient.get_expiry())
    sent = session.exec(
        select(func.count())
        .select_from(OutboxEmail)
        .where(OutboxEmail.recipient_key == key, col(OutboxEmail.created_at) > since)
    ).one()
    return int(sent) >= _per_recipient.amount


# Bidirectional-text controls: invisible, and able to make a name or subject read backwards.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Control characters (CR, LF, NUL …), lone surrogates (they can't be encoded), and line and
# paragraph separators (some mail programs break lines at them).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_SURROGATES = re.compile("[\ud800-\udfff]")


def one_line(text: str) -> str:
    """Text that is safe on one line of an email header, or a name shown on one line.

    Control and separator characters become spaces and runs of spaces become one: a CR or
    LF can't start a new header (no injected "Bcc:"), and a NUL can't cut a header short.
    """
    kept = (
        " " if unicodedata.category(ch) in _UNSAFE_CATEGORIES or ch in _BIDI_CONTROLS else ch
        for ch in text
    )
    return " ".join("".join(kept).split())


def storable(text: str) -> str:
    """Text every database can store and every mail can encode: no NUL (PostgreSQL refuses
    it, and the whole request that queued the email would fail), no lone surrogate."""
    return _SURROGATES.sub("\ufffd", text.replace("\x00", ""))


# The only extra headers a flow may add: never From, To, Bcc or anything that routes mail.
EXTRA_HEADERS = frozenset({"List-Unsubscribe", "List-Unsubscribe-Post"})


def _extra_headers(headers: dict[str, str]) -> dict[str, str]:
    """Allowed names only, each value made one line (no injected header) and kept short."""
    unknown = set(headers) - EXTRA_HEADERS
    if unknown:
        raise ValueError(f"headers not allowed in the outbox: {sorted(unknown)}")
    return {name: one_line(value)[:900] for name, value in headers.items()}


class Unsendable(Exception):
    """This email can never be built into a message: trying again would not help."""


class SenderDied(Exception):
    """Every lease on this email ran out without a result."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Outgoing:
    """A built message: exactly the bytes to send, and the envelope (never read from headers)."""

    sender: str
    recipient: str
    content: bytes


def queue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    html: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    dedupe_key: str | None = None,
    participant_id: int | None = None,
    limited: bool = True,
    headers: dict[str, str] | None = None,
) -> OutboxEmail | None:
    """Add an email to the outbox. With a dedupe_key, the same email is only ever queued once.

    `body` is the plain text; `html`, when given, the same words as HTML (see app/emails.py,
    which renders both from the email's templates).

    Returns None when a row with that key already exists, or when the recipient has had
    their share of email lately (the caller's page should look the same either way).
    `limited=False` only for the organisation's own inbox. `headers`: extra headers, only
    those in EXTRA_HEADERS (List-Unsubscribe and List-Unsubscribe-Post).
    """
    extra = _extra_headers(headers or {})
    if dedupe_key is not None:
        existing = session.exec(
            select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)
        ).first()
        if existing is not None:
            return None
    key = recipient_key(to)
    if limited and _over_limit(session, key, now):
        log.warning(
            "email not queued: its recipient has had enough email lately",
            extra={
                "event": "outbox.recipient_limit",
                "record_type": "recipient",
                "record_id": key[:12],
            },
        )
        return None
    email = OutboxEmail(
        to_address=one_line(to)[:254],
        recipient_key=key,
        subject=one_line(subject)[:200],
        body_text=storable(body),
        body_html=storable(html) if html is not None else None,
        attachments=[
            {
                "filename": one_line(a.filename)[:100],
                "content_type": one_line(a.content_type),
                "content_b64": base64.b64encode(a.content).decode(),
            }
            for a in attachments
        ],
        headers=extra,
        dedupe_key=dedupe_key,
        participant_id=participant_id,
        created_at=now,
        next_attempt_at=now,
    )
    if dedupe_key is None:
        session.add(email)
        session.flush()
        return email
    # A concurrent run may have queued the same key a moment ago: the unique key decides.
    try:
        with session.begin_nested():
            session.add(email)
            session.flush()
    except IntegrityError:
        return None
    return email


def envelope_sender(settings: Settings) -> tuple[str, str]:
    """(the From header, the envelope sender) from HEARD_MAIL_FROM.

    Raises ValueError when it is not one address: that is the configuration's fault, not any
    email's, so the caller sends nothing rather than failing every email.
    """
    header = one_line(settings.mail_from)
    message = EmailMessage()
    message["From"] = header
    addresses = message["From"].addresses
    if len(addresses) != 1 or not addresses[0].addr_spec or "@" not in addresses[0].addr_spec:
        raise ValueError("HEARD_MAIL_FROM must be one address, like Heard <no-reply@example.org>")
    return header, addresses[0].addr_spec


def message_id(settings: Settings, email_id: int, domain: str) -> str:
    """The same Message-ID every time an email is built: a receiving server can tell a resend
    (after a crash between sending and recording it) from a new email. Keyed with the secret so
    two installations never share one and the id says nothing."""
    key = settings.secret_key.encode()
    digest = hmac.new(key, f"outbox:{email_id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def build_message(settings: Settings, email: OutboxEmail) -> EmailMessage:
    """The message for a queued email. Header text is made one line again here: rows queued
    before that rule existed, or written some other way, must not reach a header as they are."""
    assert email.id is not None
    from_header, sender = envelope_sender(settings)
    to = one_line(email.to_address)
    try:
        recipient = Address(addr_spec=to)
    except Exception as exc:
        raise Unsendable(f"recipient is not one address ({type(exc).__name__})") from exc
    message = EmailMessage()
    message["From"] = from_header
    message["To"] = recipient
    message["Subject"] = one_line(email.subject)
    message["Message-ID"] = message_id(settings, email.id, sender.rpartition("@")[2])
    # When it was queued, not built: a resend is the same message, byte for byte.
    message["Date"] = format_datetime(email.created_at)
    for name, value in (email.headers or {}).items():
        # Checked again here, like every header: a row written some other way gets no say.
        if name in EXTRA_HEADERS:
            message[name] = one_line(value)
    message.set_content(email.body_text)
    if email.body_html:
        # multipart/alternative: the text first, the HTML after it (the one a mail program
        # prefers when it can show it). Attachments then make it multipart/mixed around both.
        message.add_alternative(email.body_html, subtype="html")
    for attachment in email.attachments:
        maintype, _, subtype = one_line(attachment["content_type"]).partition("/")
        message.add_attachment(
            base64.b64decode(attachment["content_b64"], validate=True),
            maintype=maintype,
            subtype=subtype.split(";")[0].strip() or "octet-stream",
            filename=one_line(attachment["filename"]),
        )
    return message


def build(settings: Settings, email: OutboxEmail) -> Outgoing:
    """Build and flatten now, so anything that can't be encoded fails here, marked as this
    email's fault, and never in the middle of sending."""
    message = build_message(settings, email)
    recipient = message["To"].addresses[0].addr_spec
    return Outgoing(
        sender=envelope_sender(settings)[1], recipient=recipient, content=message.as_bytes()
    )


async def deliver(settings: Settings, outgoing: Outgoing, email_id: int) -> None:
    if settings.smtp_host:
        # The envelope is given, never read from the headers: a header can't add a recipient.
        await aiosmtplib.send(
            outgoing.content,
            sender=outgoing.sender,
            recipients=[outgoing.recipient],
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            start_tls=settings.smtp_starttls,
            timeout=30,
        )
        return
    folder = Path(settings.mail_dir)
    folder.mkdir(parents=True, exist_ok=True)
    # Written whole then renamed: a process killed mid-write leaves no half email, and
    # writing the same email again (a resend after a crash) replaces it, so it is there once.
    final = folder / f"{email_id:08d}.eml"
    partial = folder / f".{email_id:08d}.{os.getpid()}.partial"
    partial.write_bytes(outgoing.content)
    os.replace(partial, final)


def claim_due(
    session: Session, now: datetime, limit: int = BATCH_SIZE, lease: timedelta = CLAIM_LEASE
) -> list[OutboxEmail]:
    """Claim due emails for this sender: another sender running at once skips them.

    A claim is a lease: if this sender dies mid-send, the email is due again after it. The
    attempt is counted here, so an email that kills its sender every time still stops after
    MAX_ATTEMPTS instead of taking a sender down forever.
    """
    rows = session.exec(
        select(OutboxEmail)
        .where(
            col(OutboxEmail.status).in_(["pending", "sending"]),
            or_(
                col(OutboxEmail.next_attempt_at).is_(None), col(OutboxEmail.next_attempt_at) <= now
            ),
        )
        .order_by(col(OutboxEmail.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    claimed = []
    for email in rows:
        if email.attempts >= MAX_ATTEMPTS:
            # Its last lease ran out with no result: whatever sent it died every time.
            _give_up(email, SenderDied())
        else:
            email.status = "sending"
            email.attempts += 1
            email.next_attempt_at = now + lease
            claimed.append(email)
        session.add(email)
    session.flush()
    return claimed


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes, at most a day."""
    return min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), timedelta(days=1))


def permanent(error: BaseException) -> bool:
    """The mail server refused this email for good (5xx): trying again would only repeat it.

    Only refusals about the email itself count; a refused sign-in or sender is the
    configuration's fault and is retried, so fixing the settings sends everything.
    """
    if isinstance(error, Unsendable):
        return True
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
    if isinstance(error, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return error.code >= 500
    return False


def _claim_batch(
    open_session: OpenSession, settings: Settings, now: datetime, lease: timedelta
) -> tuple[list[tuple[int, Outgoing]], int]:
    """Claim a batch and build each email. Returns (ready to send, how many were claimed).

    An email that can't be built is marked failed here, in the claiming transaction.
    """
    ready: list[tuple[int, Outgoing]] = []
    with open_session(True) as session:
        claimed = claim_due(session, now, BATCH_SIZE, lease)
        for email in claimed:
            assert email.id is not None
            try:
                ready.append((email.id, build(settings, email)))
            except Exception as exc:
                _give_up(email, exc)
                session.add(email)
        session.commit()
    return ready, len(claimed)


def _give_up(email: OutboxEmail, error: BaseException) -> None:
    email.status = "failed"
    email.next_attempt_at = None
    email.last_error = _reason(error)
    # The type of the error only: its message could hold the address or the subject.
    log.warning(
        "email failed for good",
        extra={"outbox_id": email.id, "attempts": email.attempts, "error_type": email.last_error},
    )


def _reason(error: BaseException) -> str:
    cause = error.__cause__ if isinstance(error, Unsendable) and error.__cause__ else error
    prefix = "Unsendable:" if isinstance(error, Unsendable) else ""
    return f"{prefix}{type(cause).__name__}"[:500]


def _record(
    open_session: OpenSession, email_id: int, error: BaseException | None, now: datetime
) -> bool | None:
    """Record how sending went. Returns True if sent, False if not, None if no longer ours."""
    with open_session(True) as session:
        email = session.get(OutboxEmail, email_id)
        if email is None or email.status != "sending":
            return None
        if error is None:
            email.status, email.sent_at, email.last_error = "sent", now, None
            email.next_attempt_at = None
        elif permanent(error) or email.attempts >= MAX_ATTEMPTS:
            _give_up(email, error)
        else:
            email.status = "pending"
            email.next_attempt_at = now + backoff(email.attempts)
            email.last_error = _reason(error)
            log.warning(
                "email not sent, will retry",
                extra={
                    "outbox_id": email_id,
                    "attempts": email.attempts,
                    "error_type": email.last_error,
                },
            )
        session.add(email)
        session.commit()
        return error is None


def release(open_session: OpenSession, email_ids: list[int], now: datetime) -> None:
    """Give back claimed emails that were not tried (the sender is stopping): due at once."""
    if not email_ids:
        return
    with open_session(True) as session:
        for email in session.exec(
            select(OutboxEmail).where(
                col(OutboxEmail.id).in_(email_ids), OutboxEmail.status == "sending"
            )
        ):
            email.status, email.next_attempt_at = "pending", now
            email.attempts = max(email.attempts - 1, 0)
            session.add(email)
        session.commit()


async def send_due(
    open_session: OpenSession,
    settings: Settings,
    now: datetime,
    *,
    stop: Callable[[], bool] = lambda: False,
    lease: timedelta = CLAIM_LEASE,
) -> tuple[int, int]:
    """Send everything due, a batch at a time, until none is left or `stop()` says so.

    Each batch is claimed in its own short transaction and each email is recorded in its own,
    so a sender killed at any moment loses at most its lease. When `stop()` turns true the
    email being sent is finished and the rest of the batch is given back.

    Returns (sent, not sent: to retry later or failed for good).
    """
    try:
        envelope_sender(settings)
    except ValueError:
        log.error("no email sent: HEARD_MAIL_FROM is not a single address")
        return 0, 0
    sent = not_sent = 0
    started = time.monotonic()
    while not stop():
        # Times recorded are the caller's `now`; only the lease also counts the time this run
        # has taken so far, so a later batch gets its whole lease from when it is claimed.
        held = lease + timedelta(seconds=time.monotonic() - started)
        ready, claimed = _claim_batch(open_session, settings, now, held)
        not_sent += claimed - len(ready)
        for index, (email_id, outgoing) in enumerate(ready):
            if stop():
                release(open_session, [i for i, _ in ready[index:]], now)
                return sent, not_sent
            error: BaseException | None = None
            try:
                await asyncio.wait_for(
                    deliver(settings, outgoing, email_id), SEND_DEADLINE.total_seconds()
                )
            except Exception as exc:
                error = exc
            outcome = _record(open_session, email_id, error, now)
            sent += outcome is True
            not_sent += outcome is False
        if claimed < BATCH_SIZE:
            break
    return sent, not_sent


def send_due_blocking(
    open_session: OpenSession,
    settings: Settings,
    now: datetime,
    *,
    stop: Callable[[], bool] = lambda: False,
    lease: timedelta = CLAIM_LEASE,
) -> tuple[int, int]:
    """`send_due` for synchronous callers (`heard worker`, `heard jobs run`, tests).

    Runs on its own event loop; in a thread when the caller's thread already runs one.
    """
    work = send_due(open_session, settings, now, stop=stop, lease=lease)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()
