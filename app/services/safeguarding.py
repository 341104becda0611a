"""The safeguarding route: a possible disclosure becomes a concern that reaches a safeguarding
lead at once, by an urgent email (through the outbox and `heard worker`) and their queue.

A concern is seen only by safeguarding leads (of its programme, or everywhere), and every
look at one is audited. Emails carry no post text, only a link that needs signing in. Nothing
here logs what anyone wrote. A concern nobody has opened within HEARD_CONCERN_ESCALATE_MINUTES
is emailed to every safeguarding lead; concerns are kept for HEARD_CONCERN_RETENTION_DAYS
("Delete me" does not erase them) and then deleted by a job here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import true
from sqlmodel import Session, col, delete, or_, select

from app import emails, events
from app.config import Settings
from app.forms import FormModel
from app.models import (
    Concern,
    ConcernNote,
    ConcernSource,
    ConcernStatus,
    NoteKind,
    Participant,
    Post,
    Role,
    Space,
    StaffRole,
    StaffUser,
    Workshop,
)
from app.permissions import can_see_concerns
from app.services import audit, jobs, outbox, rooms
from app.services.identity import Identity

MODERATION_TOPIC = "moderation"
# What facilitators in a live room are told: never the post, never who.
ALERT_WORDS = "A safeguarding lead has been alerted about a post"


class ConcernError(Exception):
    """A concern can't be changed that way (an unknown status, an empty note)."""


def space_topic(space_id: int) -> str:
    return f"space:{space_id}"


# --- raising a concern ---------------------------------------------------------------------


def raise_concern(
    session: Session,
    settings: Settings,
    *,
    post: Post,
    space: Space,
    source: ConcernSource,
    now: datetime,
    signals: tuple[str, ...] | list[str] = (),
    report_detail: str | None = None,
    actor: Identity | None = None,
) -> Concern:
    """Record a concern about a post, email every safeguarding lead who may see it, and tell
    the room's staff (without the text) when the workshop is live."""
    assert post.id is not None and space.id is not None
    author = session.get(Participant, post.participant_id)
    concern = Concern(
        source=source,
        space_id=space.id,
        post_id=post.id,
        workshop_id=space.workshop_id,
        programme_id=space.programme_id,
        participant_id=post.participant_id,
        about_name=(author.display_name if author else "Someone")[:60],
        post_text=post.body,
        signals=list(signals),
        report_detail=report_detail,
        created_at=now,
        updated_at=now,
    )
    session.add(concern)
    session.flush()
    assert concern.id is not None
    audit.record(
        session,
        actor,
        "concern.raised",
        record_type="concern",
        record_id=concern.id,
        source=source.value,
        post_id=post.id,
        space_id=space.id,
    )
    _email_leads(session, settings, concern, leads_for(session, concern.programme_id), now)
    events.record(session, "concern.raised", topic=MODERATION_TOPIC, concern_id=concern.id)
    _alert_the_room(session, space, now)
    return concern


def _alert_the_room(session: Session, space: Space, now: datetime) -> None:
    if space.workshop_id is None:
        return
    workshop = session.get(Workshop, space.workshop_id)
    if workshop is None or rooms.room_state(workshop, now) != "started":
        return
    events.record(session, "safeguarding.alerted", workshop_id=workshop.id, space_id=space.id)


def leads_for(session: Session, programme_id: int | None) -> list[StaffUser]:
    """Active safeguarding leads of this programme and of every programme."""
    scope: Any = col(StaffRole.programme_id).is_(None)
    if programme_id is not None:
        scope = or_(scope, col(StaffRole.programme_id) == programme_id)
    return _staff_with(session, Role.SAFEGUARDING_LEAD, scope)


def all_leads(session: Session) -> list[StaffUser]:
    return _staff_with(session, Role.SAFEGUARDING_LEAD, None)


def _staff_with(session: Session, role: Role, scope: object) -> list[StaffUser]:
    query = (
        select(StaffUser)
        .join(StaffRole, col(StaffRole.staff_id) == col(StaffUser.id))
        .where(StaffRole.role == role, col(StaffUser.active).is_(True))
    )
    if scope is not None:
        query = query.where(scope)  # type: ignore[arg-type]
    return list(session.exec(query.distinct().order_by(col(StaffUser.id))).all())


def _email_leads(
    session: Session,
    settings: Settings,
    concern: Concern,
    leads: list[StaffUser],
    now: datetime,
    *,
    escalation: bool = False,
) -> int:
    """Queue the urgent email, once per lead (the dedupe key says so). Without any lead, the
    admins are told, so a concern never waits unseen."""
    people = leads or _staff_with(session, Role.ADMIN, col(StaffRole.programme_id).is_(None))
    mail = emails.render(
        "safeguarding/concern",
        settings,
        now,
        url=f"{settings.base_url.rstrip('/')}/safeguarding/concerns/{concern.id}",
        raised_at=concern.created_at,
        escalation=escalation,
        minutes=settings.concern_escalate_minutes,
    )
    queued = 0
    for person in people:
        key = f"concern-{concern.id}-{'escalated' if escalation else 'raised'}-{person.id}"
        if outbox.queue(
            session,
            to=person.email,
            subject=mail.subject,
            body=mail.text,
            html=mail.html,
            now=now,
            dedupe_key=key,
        ):
            queued += 1
    return queued


@jobs.register("concern escalation")
def escalate_unopened(session: Session, settings: Settings, now: datetime) -> int:
    """Concerns nobody has opened in time go to every safeguarding lead, once."""
    cutoff = now - timedelta(minutes=settings.concern_escalate_minutes)
    waiting = session.exec(
        select(Concern).where(
            col(Concern.opened_at).is_(None),
            col(Concern.escalated_at).is_(None),
            col(Concern.created_at) <= cutoff,
        )
    ).all()
    leads = all_leads(session) if waiting else []
    for concern in waiting:
        _email_leads(session, settings, concern, leads, now, escalation=True)
        concern.escalated_at = now
        session.add(concern)
        audit.record(
            session, None, "concern.escalated", record_type="concern", record_id=concern.id
        )
    session.flush()
    return len(waiting)


@jobs.register("concern retention")
def forget_old_concerns(session: Session, settings: Settings, now: datetime) -> int:
    """Concerns are kept as long as safeguarding law says (a setting), then deleted."""
    cutoff = now - timedelta(days=settings.concern_retention_days)
    result = session.exec(delete(Concern).where(col(Concern.created_at) < cutoff))
    return int(result.rowcount or 0)


# --- the urgent queue and a concern --------------------------------------------------------


@dataclass
class QueueRow:
    concern: Concern
    where: str  # the workshop or space it came from


def _visible(identity: Identity) -> object:
    """Concerns this lead may see: every one, or their programmes' ones."""
    if identity.has_role(Role.SAFEGUARDING_LEAD):
        return true()
    programmes = identity.programmes_where(Role.SAFEGUARDING_LEAD)
    return col(Concern.programme_id).in_(programmes or {-1})


def urgent_queue(session: Session, identity: Identity) -> dict[str, list[QueueRow]]:
    """New first (oldest first: nothing waits), then in progress, referred, and recently closed."""
    query = (
        select(Concern, Space.title)
        .join(Space, col(Space.id) == col(Concern.space_id), isouter=True)
        .where(_visible(identity))  # type: ignore[arg-type]
        .order_by(col(Concern.created_at), col(Concern.id))
    )
    found: dict[str, list[QueueRow]] = {status.value: [] for status in ConcernStatus}
    for concern, title in session.exec(query).all():
        found[concern.status.value].append(QueueRow(concern, title or "A space that was closed"))
    found["closed"] = found["closed"][::-1][:20]
    return found


def counts(session: Session, identity: Identity) -> dict[str, int]:
    return {k: len(v) for k, v in urgent_queue(session, identity).items()}


def concern_for(session: Session, concern_id: int, identity: Identity) -> Concern | None:
    concern = session.get(Concern, concern_id)
    if concern is None or not can_see_concerns(identity, concern.programme_id):
        return None
    return concern


def open_concern(session: Session, concern: Concern, identity: Identity, now: datetime) -> None:
    """Every view is audited; the first view stops the escalation clock."""
    if concern.opened_at is None:
        concern.opened_at = now
        session.add(concern)
    audit.record(session, identity, "concern.viewed", record_type="concern", record_id=concern.id)


def notes(session: Session, concern_id: int) -> list[ConcernNote]:
    return list(
        session.exec(
            select(ConcernNote)
            .where(ConcernNote.concern_id == concern_id)
            .order_by(col(ConcernNote.created_at), col(ConcernNote.id))
        ).all()
    )


class ConcernForm(FormModel):
    kind: str = "note"
    text: str = Field(default="", max_length=5000)
    status: str = ""
    messages = {"text": {"too_long": "Notes must be 5,000 characters or fewer"}}


def update(
    session: Session,
    concern: Concern,
    form: ConcernForm,
    identity: Identity,
    now: datetime,
) -> None:
    """Add a note or an action, and change the status, in one go. Raises ConcernError."""
    assert identity.staff is not None and concern.id is not None
    if form.kind not in {NoteKind.NOTE.value, NoteKind.ACTION.value}:
        raise ConcernError("Choose whether this is a note or an action")
    status = form.status or concern.status.value
    if status not in ConcernStatus._value2member_map_:
        raise ConcernError("Choose a status from the list")
    if not form.text and status == concern.status.value:
        raise ConcernError("Write a note, or choose a new status")
    if form.text:
        _note(session, concern.id, identity, NoteKind(form.kind), form.text, now)
    if status != concern.status.value:
        before = concern.status
        concern.status = ConcernStatus(status)
        concern.closed_at = now if concern.status == ConcernStatus.CLOSED else None
        _note(
            session,
            concern.id,
            identity,
            NoteKind.STATUS,
            f"{before.label} → {concern.status.label}",
            now,
        )
    concern.opened_at = concern.opened_at or now
    concern.updated_at = now
    session.add(concern)
    audit.record(
        session,
        identity,
        "concern.updated",
        record_type="concern",
        record_id=concern.id,
        status=concern.status.value,
        noted=bool(form.text),
    )
    events.record(session, "concern.changed", topic=MODERATION_TOPIC, concern_id=concern.id)


def _note(
    session: Session,
    concern_id: int,
    identity: Identity,
    kind: NoteKind,
    text: str,
    now: datetime,
) -> None:
    assert identity.staff is not None
    session.add(
        ConcernNote(
            concern_id=concern_id,
            staff_id=identity.staff.id,
            author_name=identity.staff.display_name,
            kind=kind,
            text=text,
            created_at=now,
        )
    )
    session.flush()


def recent_alerts(
    session: Session, workshop_ids: set[int], now: datetime, hours: int = 12
) -> list[tuple[datetime, str]]:
    """For the staff of live workshops: when a lead was alerted, and where. No text, no who."""
    if not workshop_ids:
        return []
    rows = session.exec(
        select(Concern.created_at, Workshop.title)
        .join(Workshop, col(Workshop.id) == col(Concern.workshop_id))
        .where(
            col(Concern.workshop_id).in_(workshop_ids),
            col(Concern.created_at) >= now - timedelta(hours=hours),
        )
        .order_by(col(Concern.created_at).desc())
    ).all()
    return [(when, title) for when, title in rows]
