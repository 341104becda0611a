"""The demo round: the experts-by-experience group, open for six weeks (running it again adds
nothing). For `heard demo`, which calls `load(session, now)`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.models import Group, QuestionKind, Round, RoundQuestion, RoundStatus
from app.services.rounds_emails import DEFAULT_TEMPLATES

SLUG = "join-the-experts-by-experience-group"
QUESTIONS = [
    (
        "Why would you like to join the group?",
        QuestionKind.LONG_TEXT,
        "Tell us in your own words. A few sentences is fine.",
        False,
    ),
    (
        "What would you most like to change about children's social care?",
        QuestionKind.LONG_TEXT,
        None,
        False,
    ),
    ("Have you been in care, or are you in care now?", QuestionKind.YES_NO, None, False),
    (
        "Which town or city do you live in?",
        QuestionKind.SHORT_TEXT,
        "So we can plan meetings near you.",
        True,
    ),
]


def load(session: Session, now: datetime) -> Round:
    found = session.exec(select(Round).where(Round.slug == SLUG)).first()
    if found is not None:
        return found
    group = Group(
        slug="experts-by-experience",
        name="Experts by experience group",
        summary="Young people with experience of care who advise the review.",
    )
    session.add(group)
    session.flush()
    round_ = Round(
        group_id=group.id or 0,
        slug=SLUG,
        title="Join the experts by experience group",
        summary=(
            "The group meets to tell the review what it is like to be in care. Your ideas "
            "help decide what changes."
        ),
        time_asked="One afternoon a month, for a year. Some meetings are online.",
        in_return="A £25 voucher for each meeting. We pay for your travel and food.",
        min_age=16,
        max_age=25,
        who_can_apply="You have been in care, or you are in care now, in England.",
        how_info_used=(
            "A small team reads every application to choose who joins. They do not see your "
            "name, your age or how to contact you. We delete applications six months after "
            "we decide."
        ),
        criteria=["Experience of care", "Ideas for change", "Wants to work with others"],
        opens_at=now - timedelta(days=1),
        closes_at=(now + timedelta(days=42)).replace(hour=23, minute=59, second=0, microsecond=0),
        status=RoundStatus.OPEN,
        templates=dict(DEFAULT_TEMPLATES),
    )
    session.add(round_)
    session.flush()
    for number, (text, kind, hint, identifying) in enumerate(QUESTIONS, start=1):
        session.add(
            RoundQuestion(
                round_id=round_.id or 0,
                number=number,
                text=text,
                kind=kind,
                hint=hint,
                identifying=identifying,
                max_chars=1000 if kind == QuestionKind.LONG_TEXT else None,
            )
        )
    session.flush()
    return round_
