"""What is open now (calls taking responses, workshops coming up) and the programme page:
its phases, the current one found by its window, and "you said, we did" updates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.models import (
    Call,
    CallStatus,
    Phase,
    Programme,
    ProgrammeUpdate,
    Workshop,
    WorkshopStatus,
)


@dataclass
class OpenNow:
    calls: list[Call]
    workshops: list[Workshop]


def open_now(session: Session, now: datetime) -> OpenNow:
    return OpenNow(calls=_open_calls(session, now), workshops=_coming_workshops(session, now))


def _open_calls(session: Session, now: datetime, programme_id: int | None = None) -> list[Call]:
    """Published calls whose window is open now (the same rule as `Window.is_open`)."""
    query = select(Call).where(
        Call.status == CallStatus.PUBLISHED, col(Call.opens_at) <= now, col(Call.closes_at) > now
    )
    if programme_id is not None:
        query = query.where(Call.programme_id == programme_id)
    return list(session.exec(query.order_by(col(Call.closes_at))).all())


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


def programme_page(session: Session, slug: str, now: datetime) -> ProgrammePage | None:
    programme = session.exec(select(Programme).where(Programme.slug == slug)).first()
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
        .where(ProgrammeUpdate.programme_id == programme.id)
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
        open_now=OpenNow(open_calls, _coming_workshops(session, now, programme.id)),
        other_calls=[c for c in published if c not in open_calls],
    )
