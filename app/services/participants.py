"""Participants: people taking part, known by a display name. No passwords, ever.

A participant may have no email at all (joined with a workshop code); if they gave one (theirs
or a parent's), they can come back by an emailed one-time link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from app import emails, redirects
from app.config import Settings
from app.models import AgeBand, ConsentState, Participant
from app.services import audit, consent, identity, outbox
from app.services.identity import Identity

PARTICIPANT_LINK = "participant_sign_in"
# A parent's address may be shared by brothers and sisters: one email names them all.
MAX_PEOPLE_PER_EMAIL = 10


def normalise_email(email: str | None) -> str | None:
    if email is None:
        return None
    email = email.strip().lower()
    return email or None


def create(
    session: Session,
    *,
    display_name: str,
    now: datetime,
    age_band: AgeBand | None = None,
    contact_email: str | None = None,
    contact_is_parent: bool = False,
    role_words: str | None = None,
) -> Participant:
    participant = Participant(
        display_name=clean_display_name(display_name),
        age_band=age_band,
        contact_email=normalise_email(contact_email),
        contact_is_parent=contact_is_parent and contact_email is not None,
        role_words=(role_words or "").strip()[:120] or None,
        created_at=now,
        last_active_at=now,
    )
    session.add(participant)
    session.flush()
    return participant


def find_by_email(session: Session, email: str) -> list[Participant]:
    wanted = normalise_email(email)
    if wanted is None:
        return []
    return list(
        session.exec(
            select(Participant)
            .where(func.lower(Participant.contact_email) == wanted)
            .order_by(col(Participant.id))
            .limit(MAX_PEOPLE_PER_EMAIL)
        )
    )


def sign_in_url(settings: Settings, token: str, next_page: str | None = None) -> str:
    """The emailed link; `next_page` (a safe local path) is where it lands after signing in."""
    url = f"{settings.base_url.rstrip('/')}/me/sign-in/link?token={token}"
    return redirects.with_next(url, redirects.safe_next(next_page))


def email_sign_in_link(
    session: Session, settings: Settings, email: str, now: datetime, next_page: str | None = None
) -> None:
    """Email a link for each person who gave this address. Never say whether anyone did."""
    people = find_by_email(session, email)
    if not people:
        audit.record(session, None, "participant.sign_in_link_refused", reason="unknown")
        return
    lifetime = timedelta(minutes=settings.sign_in_link_minutes)
    links = []
    for person in people:
        token = identity.issue_link_token(
            session, now, lifetime, PARTICIPANT_LINK, participant=person
        )
        links.append({"name": person.display_name, "url": sign_in_url(settings, token, next_page)})
    mail = emails.render(
        "participants/sign_in_link",
        settings,
        now,
        people=links,
        minutes=settings.sign_in_link_minutes,
    )
    outbox.queue(
        session,
        to=normalise_email(email) or email,
        subject=mail.subject,
        body=mail.text,
        html=mail.html,
        now=now,
        participant_id=people[0].id if len(people) == 1 else None,
    )
    for person in people:
        audit.record(
            session,
            None,
            "participant.sign_in_link_sent",
            record_type="participant",
            record_id=person.id,
        )


def redeem_sign_in_link(session: Session, token: str, now: datetime) -> Participant | None:
    row = identity.redeem_link_token(session, token, PARTICIPANT_LINK, now)
    if row is None or row.participant_id is None:
        return None
    participant = session.get(Participant, row.participant_id)
    if participant is not None:
        participant.last_active_at = now
        session.add(participant)
    return participant


def find_by_id(session: Session, participant_id: int) -> Participant | None:
    return session.get(Participant, participant_id)


# Changing your own details (from "My stuff") -------------------------------------------------

# The fields a person may change themselves, in the order the page asks about them.
DETAIL_FIELDS = ("display_name", "age_band", "contact_email", "contact_is_parent", "role_words")
PARENT_CONTEXT = "activities on Heard"


def _one_line(text: str | None, limit: int) -> str | None:
    """Runs of spaces and line breaks become one space, control characters go: these show on
    one line everywhere, and a name can reach an email's subject."""
    return outbox.one_line(text or "")[:limit] or None


def clean_display_name(text: str) -> str:
    """A display name as it is saved: one line, no control characters, at most 60 characters."""
    return _one_line(text, 60) or ""


def parent_email_needed(
    session: Session, settings: Settings, participant: Participant, new_band: AgeBand | None
) -> bool:
    """Moving to this age band means a parent or carer must now say yes, and nobody has asked.

    Their email is then needed so we can ask them: changing an age band never skips it.
    """
    return (
        consent.needs_parent_consent(settings, new_band)
        and not consent.needs_parent_consent(settings, participant.age_band)
        and consent.parent_consent_status(session, participant.id or 0) is None
    )


def would_skip_parent(
    session: Session, settings: Settings, participant: Participant, new_band: AgeBand | None
) -> bool:
    """A parent or carer was asked (and has not said yes), and this age band would not need them.

    Changing one's own age band must not step round a parent's answer, waiting or "no".
    """
    status = consent.parent_consent_status(session, participant.id or 0)
    return (
        status is not None
        and status != ConsentState.GIVEN
        and consent.needs_parent_consent(settings, participant.age_band)
        and not consent.needs_parent_consent(settings, new_band)
    )


def change_details(
    session: Session,
    settings: Settings,
    actor: Identity,
    participant: Participant,
    *,
    display_name: str,
    age_band: AgeBand | None,
    contact_email: str | None,
    contact_is_parent: bool,
    role_words: str | None,
    now: datetime,
) -> list[str]:
    """Change a person's own details; returns the names of the fields that changed.

    If their age band now needs a parent or carer to say yes and nobody has been asked, a
    parent's email given here is asked at once (the same request a sign-up makes). Until they
    say yes, `consent.may_take_part` stays False. The audit entry names fields, never values.
    """
    assert participant.id is not None
    email = normalise_email(contact_email)
    wanted = {
        "display_name": _one_line(display_name, 60) or participant.display_name,
        "age_band": age_band,
        "contact_email": email,
        "contact_is_parent": contact_is_parent and email is not None,
        "role_words": _one_line(role_words, 120),
    }
    changed = [name for name in DETAIL_FIELDS if getattr(participant, name) != wanted[name]]
    for name in changed:
        setattr(participant, name, wanted[name])
    participant.last_active_at = now
    session.add(participant)
    session.flush()
    asked_parent = False
    if (
        consent.needs_parent_consent(settings, participant.age_band)
        and consent.parent_consent_status(session, participant.id) is None
        and participant.contact_is_parent
        and participant.contact_email
    ):
        consent.request_parent_consent(
            session, settings, participant, participant.contact_email, now, context=PARENT_CONTEXT
        )
        asked_parent = True
    if changed:
        audit.record(
            session,
            actor,
            "participant.details_changed",
            record_type="participant",
            record_id=participant.id,
            fields=changed,
            parent_asked=asked_parent,
        )
    return changed
