"""Consent: one purpose per record, the exact words shown and their version, given or withdrawn.

Every feature that asks for consent calls `give`; every feature that depends on it asks
`has_consent`; withdrawing is `withdraw`, and features react through `on_withdraw` hooks
(e.g. the quote bank unpublishes a person's quotes).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app import emails
from app.config import Settings
from app.models import AgeBand, Consent, ConsentPurpose, ConsentState, Participant
from app.services import audit, identity, outbox

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
    given_how: str | None = None,
    recorded_by_staff_id: int | None = None,
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
        given_how=given_how,
        recorded_by_staff_id=recorded_by_staff_id,
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


# The words people are shown when asked, per purpose. The version changes whenever the words
# do, so every record says exactly what was agreed to.
WORDING: dict[ConsentPurpose, tuple[str, str]] = {
    ConsentPurpose.TAKE_PART: (
        "I want to take part. I know I can stop at any time.",
        "take-part-1",
    ),
    ConsentPurpose.BE_QUOTED: (
        "Heard may use my words in reports, without my name. I can say stop at any time.",
        "be-quoted-1",
    ),
    ConsentPurpose.BE_CONTACTED_AGAIN: (
        "Heard may contact me again about other chances to have my say.",
        "contact-again-1",
    ),
    ConsentPurpose.BE_PAID: (
        "Heard may keep the details it needs to pay me for my time.",
        "be-paid-1",
    ),
}
PARENT_WORDING = (
    "I am the parent or carer of {name}. I agree that they can take part in {context}. "
    "I know they can stop at any time, and that I can say no now or later."
)
PARENT_VERSION = "parent-1"
PARENT_LINK = "parent_consent"
# A parent may not read their email for a few days; the link is still single use.
PARENT_LINK_LIFETIME = timedelta(days=7)
# What a person can change from "My stuff" (a parent's consent is the parent's to give).
CHANGEABLE = (
    ConsentPurpose.TAKE_PART,
    ConsentPurpose.BE_QUOTED,
    ConsentPurpose.BE_CONTACTED_AGAIN,
    ConsentPurpose.BE_PAID,
)


def give_current(
    session: Session, participant: Participant, purpose: ConsentPurpose, now: datetime
) -> Consent:
    """Give a consent with the words Heard shows today."""
    wording, version = WORDING[purpose]
    return give(session, participant, purpose, wording=wording, version=version, now=now)


def current(session: Session, participant_id: int) -> list[Consent]:
    """The latest record for each purpose this person has ever been asked about."""
    rows = session.exec(
        select(Consent)
        .where(Consent.participant_id == participant_id)
        .order_by(col(Consent.created_at).desc(), col(Consent.id).desc())
    ).all()
    seen: dict[ConsentPurpose, Consent] = {}
    for row in rows:
        seen.setdefault(ConsentPurpose(row.purpose), row)
    order = list(ConsentPurpose)
    return sorted(seen.values(), key=lambda c: order.index(ConsentPurpose(c.purpose)))


def get_own(session: Session, participant_id: int, consent_id: int) -> Consent | None:
    """A consent record, only if it is this person's (changing the id in a URL finds nothing)."""
    record = session.get(Consent, consent_id)
    if record is None or record.participant_id != participant_id:
        return None
    return record


def needs_parent_consent(settings: Settings, age_band: AgeBand | None) -> bool:
    """True when a parent or carer must agree first (under 13 by default; up to under 16).

    No age band given means we were not told an age: the organisation's own checks apply.
    """
    if age_band is None:
        return False
    return AgeBand(age_band).youngest_age < settings.parent_consent_under


def parent_consent_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/parent/consent?token={token}"


def request_parent_consent(
    session: Session,
    settings: Settings,
    participant: Participant,
    parent_email: str,
    now: datetime,
    *,
    context: str,
) -> Consent:
    """Ask a parent or carer to agree, by an emailed one-time link (valid for 7 days).

    The consent waits (state WAITING) until they answer on /parent/consent.
    """
    assert participant.id is not None
    wording = PARENT_WORDING.format(name=participant.display_name, context=context)
    record = give(
        session,
        participant,
        ConsentPurpose.PARENT_CONSENT,
        wording=wording,
        version=PARENT_VERSION,
        now=now,
        given_by="parent",
        state=ConsentState.WAITING,
        parent_email=parent_email.strip(),
    )
    token = identity.issue_link_token(
        session, now, PARENT_LINK_LIFETIME, PARENT_LINK, participant=participant
    )
    mail = emails.render(
        "consent/parent_consent",
        settings,
        now,
        name=participant.display_name,
        activity=context,
        url=parent_consent_url(settings, token),
    )
    outbox.queue(
        session,
        to=parent_email.strip(),
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        participant_id=participant.id,
    )
    audit.record(
        session,
        None,
        "consent.parent_asked",
        record_type="consent",
        record_id=record.id,
        participant_id=participant.id,
    )
    return record


def parent_consent_status(session: Session, participant_id: int) -> ConsentState | None:
    record = latest(session, participant_id, ConsentPurpose.PARENT_CONSENT)
    return None if record is None else ConsentState(record.state)


def parent_consent_statuses(session: Session, participant_ids: set[int]) -> dict[int, ConsentState]:
    """`parent_consent_status` for many people in one query (people never asked are left out)."""
    if not participant_ids:
        return {}
    rows = session.exec(
        select(Consent)
        .where(
            col(Consent.participant_id).in_(sorted(participant_ids)),
            Consent.purpose == ConsentPurpose.PARENT_CONSENT,
        )
        .order_by(col(Consent.created_at).desc(), col(Consent.id).desc())
    ).all()
    found: dict[int, ConsentState] = {}
    for row in rows:
        found.setdefault(row.participant_id, ConsentState(row.state))
    return found


def may_take_part(session: Session, settings: Settings, participant: Participant) -> bool:
    """Said yes to taking part, and (where needed) a parent or carer has agreed too."""
    assert participant.id is not None
    if not has_consent(session, participant.id, ConsentPurpose.TAKE_PART):
        return False
    if needs_parent_consent(settings, participant.age_band):
        return parent_consent_status(session, participant.id) == ConsentState.GIVEN
    return True


def waiting_parent_request(
    session: Session, token: str, now: datetime
) -> tuple[Participant, Consent] | None:
    """What a parent's link asks about, without using the link (email scanners open links)."""
    row = identity.peek_link_token(session, token, PARENT_LINK, now)
    if row is None or row.participant_id is None:
        return None
    record = latest(session, row.participant_id, ConsentPurpose.PARENT_CONSENT)
    participant = session.get(Participant, row.participant_id)
    if record is None or participant is None or record.state != ConsentState.WAITING:
        return None
    return participant, record


def answer_parent_request(
    session: Session, token: str, agree: bool, now: datetime
) -> Consent | None:
    """The parent's answer: uses the link once. None if the link is not valid any more."""
    row = identity.redeem_link_token(session, token, PARENT_LINK, now)
    if row is None or row.participant_id is None:
        return None
    record = latest(session, row.participant_id, ConsentPurpose.PARENT_CONSENT)
    child = session.get(Participant, row.participant_id)
    if record is None or child is None or record.state != ConsentState.WAITING:
        return None
    if agree:
        record.state, record.given_at = ConsentState.GIVEN, now
        record.given_how = "email_link"
        session.add(record)
        session.flush()
    else:
        # Said no: withdrawn without ever being given, through `withdraw` so every feature's
        # hooks run (the child's places go to the people waiting).
        withdraw(session, child, ConsentPurpose.PARENT_CONSENT, now)
    audit.record(
        session,
        None,
        "consent.parent_answered",
        record_type="consent",
        record_id=record.id,
        participant_id=row.participant_id,
        agreed=agree,
    )
    return record


# How a parent or carer's yes reached us, in words (staff record the last two).
GIVEN_HOW = {
    "email_link": "By the link we emailed",
    "sign_up": "While signing their child up",
    "in_person": "In person, recorded by staff",
    "on_paper": "On paper, recorded by staff",
}


def record_parent_yes(
    session: Session,
    participant: Participant,
    *,
    how: str,
    context: str,
    now: datetime,
    actor: identity.Identity,
) -> Consent:
    """A parent or carer said yes in person or on paper, and staff record it: who recorded
    it, when and how are kept with the consent (and in the audit log)."""
    assert how in ("in_person", "on_paper") and participant.id is not None
    staff_id = actor.staff.id if actor.staff is not None else None
    record = latest(session, participant.id, ConsentPurpose.PARENT_CONSENT)
    if record is not None and record.state == ConsentState.WAITING:
        record.state, record.given_at = ConsentState.GIVEN, now
        record.given_how, record.recorded_by_staff_id = how, staff_id
        session.add(record)
        session.flush()
    else:
        record = give(
            session,
            participant,
            ConsentPurpose.PARENT_CONSENT,
            wording=PARENT_WORDING.format(name=participant.display_name, context=context),
            version=PARENT_VERSION,
            now=now,
            given_by="parent",
            given_how=how,
            recorded_by_staff_id=staff_id,
        )
    audit.record(
        session,
        actor,
        "consent.parent_yes_recorded",
        record_type="consent",
        record_id=record.id,
        participant_id=participant.id,
        how=how,
    )
    return record


EraseHook = Callable[[Session, Participant], None]
_on_erase: list[EraseHook] = []


def on_erase(hook: EraseHook) -> EraseHook:
    """Register what a feature does just before a person is erased (e.g. free their place)."""
    _on_erase.append(hook)
    return hook


def run_erase_hooks(session: Session, participant: Participant) -> None:
    for hook in _on_erase:
        hook(session, participant)
