"""The email outbox: queue in the same transaction as the cause, send later with retries."""

from __future__ import annotations

import asyncio
import base64
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from app.config import Settings
from app.models import OutboxEmail

log = logging.getLogger("heard.outbox")

MAX_ATTEMPTS = 8
BASE_BACKOFF = timedelta(minutes=1)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


def queue(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    attachments: tuple[Attachment, ...] = (),
    dedupe_key: str | None = None,
    participant_id: int | None = None,
) -> OutboxEmail | None:
    """Add an email to the outbox. With a dedupe_key, the same email is only ever queued once.

    Returns None when a row with that key already exists.
    """
    if dedupe_key is not None:
        existing = session.exec(
            select(OutboxEmail.id).where(OutboxEmail.dedupe_key == dedupe_key)
        ).first()
        if existing is not None:
            return None
    email = OutboxEmail(
        to_address=to,
        subject=subject[:200],
        body_text=body,
        attachments=[
            {
                "filename": a.filename,
                "content_type": a.content_type,
                "content_b64": base64.b64encode(a.content).decode(),
            }
            for a in attachments
        ],
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


def build_message(settings: Settings, email: OutboxEmail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain="heard.invalid")
    message.set_content(email.body_text)
    for attachment in email.attachments:
        maintype, _, subtype = attachment["content_type"].partition("/")
        message.add_attachment(
            base64.b64decode(attachment["content_b64"]),
            maintype=maintype,
            subtype=subtype.split(";")[0] or "octet-stream",
            filename=attachment["filename"],
        )
    return message


async def deliver(settings: Settings, message: EmailMessage, email_id: int) -> None:
    if settings.smtp_host:
        await aiosmtplib.send(
            message,
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
    (folder / f"{email_id:08d}.eml").write_bytes(message.as_bytes())


CLAIM_LEASE = timedelta(minutes=10)


def claim_due(session: Session, now: datetime, limit: int = 50) -> list[OutboxEmail]:
    """Claim due emails for this sender: another sender running at once skips them.

    A claim is a lease: if this sender dies mid-send, the email is due again after it.
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
    for email in rows:
        email.status = "sending"
        email.next_attempt_at = now + CLAIM_LEASE
        session.add(email)
    session.flush()
    return list(rows)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes, at most a day."""
    return min(BASE_BACKOFF * (2 ** max(attempts - 1, 0)), timedelta(days=1))


async def send_due(open_session: object, settings: Settings, now: datetime) -> tuple[int, int]:
    """Send what is due. Each email is claimed, sent and marked in its own short transaction.

    Returns (sent, failed).
    """
    sent = failed = 0
    with open_session(True) as session:  # type: ignore[operator]
        batch = [(e.id, build_message(settings, e)) for e in claim_due(session, now)]
        session.commit()
    for email_id, message in batch:
        assert email_id is not None
        error: Exception | None = None
        try:
            await deliver(settings, message, email_id)
        except Exception as exc:
            error = exc
        with open_session(True) as session:  # type: ignore[operator]
            email = session.get(OutboxEmail, email_id)
            if email is None or email.status != "sending":
                continue
            email.attempts += 1
            if error is None:
                email.status, email.sent_at, email.last_error = "sent", now, None
                sent += 1
            else:
                email.last_error = f"{type(error).__name__}"[:500]
                if email.attempts >= MAX_ATTEMPTS:
                    email.status = "failed"
                else:
                    email.status = "pending"
                    email.next_attempt_at = now + backoff(email.attempts)
                failed += 1
                log.warning(
                    "email not sent",
                    extra={
                        "outbox_id": email_id,
                        "attempts": email.attempts,
                        "error_type": email.last_error,
                    },
                )
            session.add(email)
            session.commit()
    return sent, failed


def send_due_blocking(open_session: object, settings: Settings, now: datetime) -> tuple[int, int]:
    """`send_due` for synchronous callers (`heard jobs run`, tests).

    Runs on its own event loop; in a thread when the caller's thread already runs one.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(send_due(open_session, settings, now))
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, send_due(open_session, settings, now)).result()
