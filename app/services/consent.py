"""Consent: one purpose per record, the exact words shown and their version, given or withdrawn.

Every feature that asks for consent calls `give`; every feature that depends on it asks
`has_consent`; withdrawing is `withdraw`, and features react through `on_withdraw` hooks
(e.g. the quote bank unpublishes a person's quotes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from app.models import Consent, ConsentPurpose, ConsentState, Participant

WithdrawHook = Callable[[Session, Participant, ConsentPurpose, datetime], None]
_on_withdraw: list[WithdrawHook] = []


def on_withdraw(hook: WithdrawHook) -> WithdrawHook:
    """Register what a feature does when someone withdraws a consent."""
    _on_withdraw.append(hook)
    return hook


def latest(session: Session, participant_id: int, purpose: ConsentPurpose) -> Consent | None:
    return session.exec(
        select(Consent)
        .where(Consent.participant_id == participant_id, Consent.purpose == purpose)
        .order_by(col(Consent.created_at).desc(), col(Consent.id).desc())
    ).first()


def has_consent(session: Session, participant_id: int, purpose: ConsentPurpose) -> bool:
    record = latest(session, participant_id, purpose)
    return record is not None and record.state == ConsentState.GIVEN


def give(
    session: Session,
    participant: Participant,
    purpose: ConsentPurpose,
    *,
    wording: str,
    version: str,
    now: datetime,
    given_by: str = "self",
    state: ConsentState = ConsentState.GIVEN,
    parent_email: str | None = None,
) -> Consent:
    """Record a consent (a new row each time: the history is the record)."""
    assert participant.id is not None
    record = Consent(
        participant_id=participant.id,
        purpose=purpose,
        wording=wording,
        version=version,
        state=state,
        given_by=given_by,
        parent_email=parent_email,
        created_at=now,
        given_at=now if state == ConsentState.GIVEN else None,
    )
    session.add(record)
    session.flush()
    return record


def withdraw(
    session: Session, participant: Participant, purpose: ConsentPurpose, now: datetime
) -> Consent | None:
    assert participant.id is not None
    record = latest(session, participant.id, purpose)
    if record is None or record.state == ConsentState.WITHDRAWN:
        return record
    record.state = ConsentState.WITHDRAWN
    record.withdrawn_at = now
    session.add(record)
    session.flush()
    for hook in _on_withdraw:
        hook(session, participant, purpose, now)
    return record
