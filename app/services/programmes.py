"""What is open now (calls taking responses, workshops coming up) and the programme page:
its phases, the current one found by its window, and "you said, we did" updates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from app.forms import FormModel
from app.models import (
    Call,
    CallStatus,
    Phase,
    Programme,
    ProgrammeUpdate,
    Workshop,
    WorkshopStatus,
)
from app.models.rounds import Round, RoundStatus
from app.services.outbox import storable


@dataclass
class OpenNow:
    calls: list[Call]
    workshops: list[Workshop]
    # Recruitment rounds taking applications (a round belongs to a group, not a programme,
    # so a programme page shows every open one).
    rounds: list[Round] = field(default_factory=list)


def open_now(session: Session, now: datetime) -> OpenNow:
    return OpenNow(
        calls=_open_calls(session, now),
        workshops=_coming_workshops(session, now),
        rounds=_open_rounds(session, now),
    )


def _open_calls(session: Session, now: datetime, programme_id: int | None = None) -> list[Call]:
    """Published calls whose window is open now (the same rule as `Window.is_open`)."""
    query = select(Call).where(
        Call.status == CallStatus.PUBLISHED, col(Call.opens_at) <= now, col(Call.closes_at) > now
    )
    if programme_id is not None:
        query = query.where(Call.programme_id == programme_id)
    return list(session.exec(query.order_by(col(Call.closes_at))).all())


def _open_rounds(session: Session, now: datetime) -> list[Round]:
    """Open rounds whose window is open now (the same rule as `Window.is_open`)."""
    query = select(Round).where(
        Round.status == RoundStatus.OPEN, col(Round.opens_at) <= now, col(Round.closes_at) > now
    )
    return list(session.exec(query.order_by(col(Round.closes_at))).all())


def _coming_workshops(
    session: Session, now: datetime, programme_id: int | None = None
) -> list[Workshop]:
    query = select(Workshop).where(
        Workshop.status == WorkshopStatus.PUBLISHED, col(Workshop.ends_at) > now
    )
    if programme_id is not None:
        query = query.where(Workshop.programme_id == programme_id)
    return list(session.exec(query.order_by(col(Workshop.starts_at)).limit(5)).all())


@dataclass
class ProgrammePage:
    programme: Programme
    phases: list[Phase]
    current: Phase | None  # the phase whose window is open now
    updates: list[ProgrammeUpdate]
    open_now: OpenNow  # this programme's open calls and coming workshops
    other_calls: list[Call]  # its published calls that are not open (coming, or closed)


def by_slug(session: Session, slug: str) -> Programme | None:
    return session.exec(select(Programme).where(Programme.slug == slug[:80])).first()


def programme_page(session: Session, slug: str, now: datetime) -> ProgrammePage | None:
    programme = by_slug(session, slug)
    if programme is None or programme.id is None:
        return None
    phases = list(
        session.exec(
            select(Phase).where(Phase.programme_id == programme.id).order_by(col(Phase.position))
        ).all()
    )
    current = next((phase for phase in phases if phase.window.is_open(now)), None)
    updates = session.exec(
        select(ProgrammeUpdate)
        .where(
            ProgrammeUpdate.programme_id == programme.id,
            col(ProgrammeUpdate.published_at).is_not(None),
        )
        .order_by(col(ProgrammeUpdate.published_at).desc())
    ).all()
    open_calls = _open_calls(session, now, programme.id)
    published = session.exec(
        select(Call)
        .where(Call.programme_id == programme.id, Call.status == CallStatus.PUBLISHED)
        .order_by(col(Call.opens_at))
    ).all()
    return ProgrammePage(
        programme=programme,
        phases=phases,
        current=current,
        updates=list(updates),
        open_now=OpenNow(
            open_calls, _coming_workshops(session, now, programme.id), _open_rounds(session, now)
        ),
        other_calls=[c for c in published if c not in open_calls],
    )


# --- "you said, we did" updates, for staff ------------------------------------------------

UPDATE_MAX = 2000


class UpdateForm(FormModel):
    you_said: str = Field(max_length=UPDATE_MAX)
    we_did: str = Field(max_length=UPDATE_MAX)

    messages = {
        "you_said": {
            "missing": "Enter what people said",
            "too_long": f"What people said must be {UPDATE_MAX:,} characters or fewer",
        },
        "we_did": {
            "missing": "Enter what you did about it",
            "too_long": f"What you did must be {UPDATE_MAX:,} characters or fewer",
        },
    }

    @field_validator("you_said", "we_did")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("Enter some words")
        return value


def all_programmes(session: Session) -> list[Programme]:
    return list(session.exec(select(Programme).order_by(col(Programme.title))).all())


def updates_for_staff(session: Session, programme_id: int) -> list[ProgrammeUpdate]:
    """Drafts first, then what is published, newest first."""
    rows = session.exec(
        select(ProgrammeUpdate)
        .where(ProgrammeUpdate.programme_id == programme_id)
        .order_by(col(ProgrammeUpdate.created_at).desc(), col(ProgrammeUpdate.id).desc())
    ).all()
    return sorted(rows, key=lambda u: u.published_at is not None)


def add_update(
    session: Session, programme: Programme, form: UpdateForm, now: datetime
) -> ProgrammeUpdate:
    """A draft: nobody outside staff sees it until it is published."""
    update = ProgrammeUpdate(
        programme_id=programme.id or 0,
        you_said=storable(form.you_said),
        we_did=storable(form.we_did),
        created_at=now,
    )
    session.add(update)
    session.flush()
    return update


def publish_update(session: Session, update: ProgrammeUpdate, now: datetime) -> bool:
    """Publish a draft on the programme page. Returns False if it already was."""
    if update.published_at is not None:
        return False
    update.published_at = now
    session.add(update)
    session.flush()
    return True


def update_of(session: Session, programme_id: int, update_id: int) -> ProgrammeUpdate | None:
    update = session.get(ProgrammeUpdate, update_id)
    return update if update is not None and update.programme_id == programme_id else None
