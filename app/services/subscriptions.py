""" "Keep me updated": subscribe by email, confirm by a link, unsubscribe in one click.

Nobody learns from Heard who follows a programme (it may be a care review): asking to
subscribe looks the same whether or not the address is known, confirmed or over its limit.
Confirm links are random, stored hashed and short-lived (as every one-time link in Heard);
the unsubscribe link is HMAC(secret key, the row's nonce), so every email can carry it and
only its hash is kept. A change of secret key ends old unsubscribe links; the next email
carries a working one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app import emails
from app.config import Settings
from app.forms import EmailAddress, FormModel
from app.models import OutboxEmail, Programme, ProgrammeUpdate, Subscription, SubscriptionStatus
from app.security import new_token, token_hash
from app.services import jobs, outbox

CONFIRMED = SubscriptionStatus.CONFIRMED
PENDING = SubscriptionStatus.PENDING
UNSUBSCRIBED = SubscriptionStatus.UNSUBSCRIBED


class SubscribeForm(FormModel):
    email: EmailAddress

    messages = {
        "email": {
            "missing": "Enter your email address",
            "too_long": "Your email address must be 254 characters or fewer",
        }
    }


def normalise(email: str) -> str:
    """One spelling per address: already checked by the form; small letters throughout."""
    return outbox.one_line(email).strip().lower()


def mailbox_key(email: str) -> str:
    """A rate-limit key per mailbox (+tags and Gmail's dots are the same inbox), hashed."""
    return outbox.recipient_key(normalise(email))[:24]


# --- tokens ----------------------------------------------------------------------------


def unsubscribe_token(settings: Settings, subscription: Subscription) -> str:
    mac = hmac.new(
        settings.secret_key.encode(), f"unsubscribe:{subscription.nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _current_unsubscribe_token(settings: Settings, subscription: Subscription) -> str:
    """The token for the next email; after a change of secret key, the row follows it."""
    token = unsubscribe_token(settings, subscription)
    if subscription.unsubscribe_hash != token_hash(token):
        subscription.unsubscribe_hash = token_hash(token)
    return token


def unsubscribe_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/unsubscribe/{token}"


def by_confirm_token(session: Session, token: str) -> Subscription | None:
    if not token or len(token) > 100:
        return None
    return session.exec(
        select(Subscription).where(Subscription.confirm_token_hash == token_hash(token))
    ).first()


def by_unsubscribe_token(session: Session, token: str) -> Subscription | None:
    if not token or len(token) > 100:
        return None
    return session.exec(
        select(Subscription).where(Subscription.unsubscribe_hash == token_hash(token))
    ).first()


# --- subscribing -----------------------------------------------------------------------


def subscribe(
    session: Session,
    settings: Settings,
    programme: Programme,
    email: str,
    now: datetime,
    participant_id: int | None = None,
) -> None:
    """Ask for updates. Emails a confirm link unless the address is already confirmed.

    Returns nothing on purpose: the caller's page must be the same whatever happened.
    """
    address = normalise(email)
    key = outbox.recipient_key(address)
    subscription = session.exec(
        select(Subscription).where(
            Subscription.programme_id == programme.id, Subscription.email_key == key
        )
    ).first()
    if subscription is not None and subscription.status == CONFIRMED:
        return
    if subscription is None:
        nonce = secrets.token_urlsafe(24)
        subscription = Subscription(
            programme_id=programme.id or 0,
            email=address,
            email_key=key,
            nonce=nonce,
            unsubscribe_hash="",
            created_at=now,
        )
        subscription.unsubscribe_hash = token_hash(unsubscribe_token(settings, subscription))
    # Asked again after unsubscribing: a new request, confirmed by its own link.
    subscription.status, subscription.unsubscribed_at = PENDING, None
    subscription.email = address
    if participant_id is not None:
        subscription.participant_id = participant_id
    token = new_token()
    subscription.confirm_token_hash = token_hash(token)
    subscription.confirm_expires_at = now + timedelta(hours=settings.subscription_confirm_hours)
    subscription.confirm_sent_at = now
    session.add(subscription)
    session.flush()
    mail = emails.render(
        "subscriptions/confirm",
        settings,
        now,
        programme=programme,
        url=f"{settings.base_url.rstrip('/')}/subscribe/confirm/{token}",
        hours=settings.subscription_confirm_hours,
    )
    outbox.queue(
        session,
        to=address,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        participant_id=subscription.participant_id,
    )


class ConfirmState:
    EXPIRED = "expired"
    CONFIRMED = "confirmed"  # just now, or already
    STOPPED = "stopped"  # unsubscribed since: an old link never signs them up again


def confirm_state(subscription: Subscription, now: datetime) -> str | None:
    """What a confirm link can do now: None if it can still confirm."""
    if subscription.status == CONFIRMED:
        return ConfirmState.CONFIRMED
    if subscription.status == UNSUBSCRIBED:
        return ConfirmState.STOPPED
    expires = subscription.confirm_expires_at
    if expires is None or now >= expires:
        return ConfirmState.EXPIRED
    return None


def confirm(session: Session, subscription: Subscription, now: datetime) -> str:
    """Use a confirm link. Confirming twice is harmless; an expired link confirms nothing."""
    state = confirm_state(subscription, now)
    if state is not None:
        return state
    subscription.status, subscription.confirmed_at = CONFIRMED, now
    session.add(subscription)
    session.flush()
    return ConfirmState.CONFIRMED


def unsubscribe(session: Session, subscription: Subscription, now: datetime) -> None:
    """Stop every email about this programme. Doing it twice changes nothing."""
    if subscription.status == UNSUBSCRIBED:
        return
    # A confirm link still in the inbox never signs them up again (confirm_state: STOPPED).
    subscription.status, subscription.unsubscribed_at = UNSUBSCRIBED, now
    session.add(subscription)
    session.flush()


def forget(session: Session, subscription: Subscription) -> None:
    """The person asked us to delete their address now (from the unsubscribe page)."""
    session.delete(subscription)
    session.flush()


# --- personal data by email address ----------------------------------------------------


def _for_address(session: Session, email: str) -> list[Subscription]:
    key = outbox.recipient_key(normalise(email))
    return list(
        session.exec(
            select(Subscription).where(Subscription.email_key == key).order_by(col(Subscription.id))
        ).all()
    )


def export_for_address(session: Session, email: str) -> list[dict[str, Any]]:
    """What Heard holds for an address that asked for updates (a subject access request by
    someone who never signed in: staff check the request comes from the address first)."""
    rows = []
    for row in _for_address(session, email):
        programme = session.get(Programme, row.programme_id)
        rows.append(
            {
                "programme": programme.title if programme else "",
                "email": row.email,
                "status": row.status.value,
                "asked_at": row.created_at.isoformat(),
                "confirmed_at": row.confirmed_at.isoformat() if row.confirmed_at else None,
                "unsubscribed_at": row.unsubscribed_at.isoformat() if row.unsubscribed_at else None,
            }
        )
    return rows


def erase_address(session: Session, email: str) -> int:
    """Forget an address everywhere it asked for updates. Returns how many rows went."""
    rows = _for_address(session, email)
    for row in rows:
        session.delete(row)
    session.flush()
    return len(rows)


# --- sending an update -----------------------------------------------------------------
#
# Queuing an email costs a few queries (its limits, its dedupe key), so thousands are not
# queued in one request: pressing Send queues the first FIRST_BATCH, and the worker's
# job queues the rest, HEARD_UPDATE_EMAILS_PER_MINUTE at a time, in subscription order. The
# worker sends them every few seconds; the progress page counts both.

FIRST_BATCH = 100


def confirmed_count(session: Session, programme_id: int) -> int:
    return int(
        session.exec(
            select(func.count())
            .select_from(Subscription)
            .where(Subscription.programme_id == programme_id, Subscription.status == CONFIRMED)
        ).one()
    )


def _dedupe_prefix(update: ProgrammeUpdate) -> str:
    return f"programme-update:{update.id}:"


def send_update(
    session: Session,
    settings: Settings,
    programme: Programme,
    update: ProgrammeUpdate,
    now: datetime,
) -> int:
    """Email a published update to every confirmed subscriber, once each: pressing Send
    twice, or again later (for people who subscribed since), never reaches anyone twice.
    Queues the first batch now; the worker queues the rest. Returns how many were queued now."""
    if update.published_at is None:
        raise ValueError("only a published update can be sent")
    locked = _lock(session, update)
    locked.emailed_at = locked.emailed_at or now
    if locked.queued_up_to is None:
        locked.queued_up_to = 0  # from the start again: the dedupe keys skip who has it
    return _queue_batch(
        session, settings, programme, locked, now, min(FIRST_BATCH, _per_minute(settings))
    )


def _per_minute(settings: Settings) -> int:
    return max(int(settings.update_emails_per_minute), 1)


def _lock(session: Session, update: ProgrammeUpdate) -> ProgrammeUpdate:
    assert update.id is not None
    return _lock_id(session, update.id)


def _lock_id(session: Session, update_id: int) -> ProgrammeUpdate:
    """The update's row, locked and read afresh (PostgreSQL): the request and the worker
    never queue the same batch at once. On SQLite the write transaction keeps them apart."""
    return session.exec(
        select(ProgrammeUpdate)
        .where(ProgrammeUpdate.id == update_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def _queue_batch(
    session: Session,
    settings: Settings,
    programme: Programme,
    update: ProgrammeUpdate,
    now: datetime,
    limit: int,
) -> int:
    if update.queued_up_to is None or limit <= 0:
        return 0
    subscribers = session.exec(
        select(Subscription)
        .where(
            Subscription.programme_id == programme.id,
            Subscription.status == CONFIRMED,
            col(Subscription.id) > update.queued_up_to,
        )
        .order_by(col(Subscription.id))
        .limit(limit)
    ).all()
    page = f"{settings.base_url.rstrip('/')}/programmes/{programme.slug}"
    queued = 0
    for subscriber in subscribers:
        link = unsubscribe_url(settings, _current_unsubscribe_token(settings, subscriber))
        mail = emails.render(
            "subscriptions/update",
            settings,
            now,
            programme=programme,
            update=update,
            page=page,
            unsubscribe=link,
        )
        email = outbox.queue(
            session,
            to=subscriber.email,
            subject=mail.subject,
            body=mail.text,
            html=mail.html,
            now=now,
            dedupe_key=f"{_dedupe_prefix(update)}{subscriber.id}",
            participant_id=subscriber.participant_id,
            headers={
                "List-Unsubscribe": f"<{link}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        queued += email is not None
        update.queued_up_to = subscriber.id
    if len(subscribers) < limit:
        update.queued_up_to = None  # everyone confirmed so far has it queued
    session.add(update)
    session.flush()
    return queued


@jobs.register("programme_update_emails")
def queue_update_emails(session: Session, settings: Settings, now: datetime) -> int:
    """The worker's part of a large send: the next batch of every update still queuing."""
    budget = _per_minute(settings)
    queued = 0
    sending = session.exec(
        select(ProgrammeUpdate.id)
        .where(col(ProgrammeUpdate.queued_up_to).is_not(None))
        .order_by(col(ProgrammeUpdate.id))
    ).all()
    for update_id in sending:
        if budget <= 0 or update_id is None:
            break
        update = _lock_id(session, update_id)
        programme = session.get(Programme, update.programme_id)
        if programme is None:
            continue
        done = _queue_batch(session, settings, programme, update, now, budget)
        queued += done
        budget -= done
    return queued


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int

    @property
    def waiting(self) -> int:
        return self.total - self.sent - self.failed

    @property
    def done(self) -> bool:
        return self.waiting <= 0


def progress(session: Session, update: ProgrammeUpdate) -> Progress:
    """How far a send has got: "Sent 1,200 of 3,000". The total is every email queued for
    it, and every confirmed subscriber still to be queued."""
    rows = session.exec(
        select(OutboxEmail.status, func.count())
        .where(col(OutboxEmail.dedupe_key).startswith(_dedupe_prefix(update)))
        .group_by(col(OutboxEmail.status))
    ).all()
    counts = {status: int(n) for status, n in rows}
    to_queue = 0
    if update.queued_up_to is not None:
        to_queue = int(
            session.exec(
                select(func.count())
                .select_from(Subscription)
                .where(
                    Subscription.programme_id == update.programme_id,
                    Subscription.status == CONFIRMED,
                    col(Subscription.id) > update.queued_up_to,
                )
            ).one()
        )
    return Progress(
        total=sum(counts.values()) + to_queue,
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
    )
