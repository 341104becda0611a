"""What is open now: calls taking responses and workshops coming up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.models import Call, Phase, Programme, ProgrammeUpdate, Question, Workshop, WorkshopStatus


@dataclass
class OpenNow:
    calls: list[Call]
    workshops: list[Workshop]


def open_now(session: Session, now: datetime) -> OpenNow:
    calls = session.exec(
        select(Call)
        .where(col(Call.opens_at) <= now, col(Call.closes_at) > now)
        .order_by(col(Call.closes_at))
    ).all()
    workshops = session.exec(
        select(Workshop)
        .where(Workshop.status == WorkshopStatus.PUBLISHED, col(Workshop.ends_at) > now)
        .order_by(col(Workshop.starts_at))
        .limit(5)
    ).all()
    return OpenNow(calls=list(calls), workshops=list(workshops))


@dataclass
class ProgrammePage:
    programme: Programme
    phases: list[Phase]
    updates: list[ProgrammeUpdate]
    calls: list[Call]


def programme_page(session: Session, slug: str) -> ProgrammePage | None:
    programme = session.exec(select(Programme).where(Programme.slug == slug)).first()
    if programme is None:
        return None
    phases = session.exec(
        select(Phase).where(Phase.programme_id == programme.id).order_by(col(Phase.position))
    ).all()
    updates = session.exec(
        select(ProgrammeUpdate)
        .where(ProgrammeUpdate.programme_id == programme.id)
        .order_by(col(ProgrammeUpdate.published_at).desc())
    ).all()
    calls = session.exec(
        select(Call).where(Call.programme_id == programme.id).order_by(col(Call.opens_at))
    ).all()
    return ProgrammePage(programme, list(phases), list(updates), list(calls))


def call_with_questions(session: Session, slug: str) -> tuple[Call, list[Question]] | None:
    call = session.exec(select(Call).where(Call.slug == slug)).first()
    if call is None:
        return None
    questions = session.exec(
        select(Question).where(Question.call_id == call.id).order_by(col(Question.number))
    ).all()
    return call, list(questions)
