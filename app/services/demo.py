"""Demo data: a national review of children's social care, written for Heard.

Loading it twice changes nothing: every row is found by its slug first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from app.models import (
    Call,
    CallKind,
    CallStatus,
    Phase,
    Programme,
    ProgrammeUpdate,
    Question,
    QuestionKind,
    Role,
    Workshop,
    WorkshopMode,
    WorkshopStatus,
)
from app.services import rounds_demo
from app.services import staff as staff_service

PROGRAMME_SLUG = "care-review"
DEMO_ADMIN = "admin@heard.example.org"


def load(session: Session, now: datetime) -> Programme:
    programme = session.exec(select(Programme).where(Programme.slug == PROGRAMME_SLUG)).first()
    if programme is not None:
        _keep_drop_in_joinable(session, now)
        _draft_update(session, programme, now)
        rounds_demo.load(session, now)
        return programme
    programme = Programme(
        slug=PROGRAMME_SLUG,
        title="Listening review of children's social care",
        summary=(
            "An independent review of how children's social care works in England. "
            "We want to hear from children and young people who have had a social worker "
            "or lived in care, from parents and carers, and from the people who work with them. "
            "What you tell us will shape what we ask the government to change."
        ),
        created_at=now,
    )
    session.add(programme)
    session.flush()
    assert programme.id is not None
    pid = programme.id
    phases = [
        ("Discover", "We listen first: what works, what doesn't, and what it feels like.", -60, 30),
        ("Develop", "We test ideas for change with the people they would affect.", 30, 120),
        (
            "Deliver",
            "We write our recommendations and show how what you said changed them.",
            120,
            200,
        ),
    ]
    for position, (name, summary, start, end) in enumerate(phases, start=1):
        session.add(
            Phase(
                programme_id=pid,
                position=position,
                name=name,
                summary=summary,
                starts_at=now + timedelta(days=start),
                ends_at=now + timedelta(days=end),
            )
        )
    session.add(
        ProgrammeUpdate(
            programme_id=pid,
            published_at=now - timedelta(days=7),
            you_said=(
                "Too many of you said you had to tell your story again "
                "every time your social worker changed."
            ),
            we_did=(
                "We have made keeping the same trusted adult one of the questions "
                "in our call for ideas."
            ),
        )
    )
    call = Call(
        programme_id=pid,
        slug="call-for-ideas",
        kind=CallKind.IDEAS,
        title="Call for ideas: what should change?",
        summary=(
            "Tell us your ideas for making children's social care better. "
            "You can answer one question or all of them."
        ),
        opens_at=now - timedelta(days=10),
        closes_at=(now + timedelta(days=32)).replace(hour=23, minute=59, second=0, microsecond=0),
        status=CallStatus.PUBLISHED,
        allow_anonymous=True,
        allow_skip=True,
    )
    session.add(call)
    session.flush()
    assert call.id is not None
    _call_questions(session, call.id)
    starts = (now + timedelta(days=12)).replace(hour=16, minute=30, second=0, microsecond=0)
    session.add(
        Workshop(
            programme_id=pid,
            slug="having-your-say-13-17",
            title="Having your say: a workshop for 13 to 17 year olds",
            description=(
                "Two hours with other young people who have had a social worker. "
                "We will talk in small groups about what should change. "
                "Two of the group leaders are care-experienced young people themselves. "
                "There will be food, and we pay for your travel."
            ),
            audience="young_people",
            age_range="13 to 17",
            mode=WorkshopMode.BOTH,
            place="The Hive community centre, Leeds (step-free, with a quiet room)",
            access_info="Step-free entrance. Quiet room. Tell us about anything else you need.",
            online_link="https://video.heard.example.org/having-your-say",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=30,
            reserved_places=4,
            sign_up_opens_at=now - timedelta(days=3),
            sign_up_closes_at=starts - timedelta(days=1),
            status=WorkshopStatus.PUBLISHED,
            join_code="HRT7KM",
            created_at=now,
        )
    )
    _more_workshops(session, pid, now)
    _draft_update(session, programme, now)
    staff_service.create_or_update(session, DEMO_ADMIN, [Role.ADMIN], display_name="Demo admin")
    session.flush()
    rounds_demo.load(session, now)
    return programme


DRAFT_YOU_SAID = "Many of you said meetings about you happen when you are at school."


def _draft_update(session: Session, programme: Programme, now: datetime) -> None:
    """A "you said, we did" draft for staff to publish and send (/staff/programmes). Added
    once ever (found by its words), so running the demo again adds nothing, even after staff
    published it."""
    there = session.exec(
        select(ProgrammeUpdate.id).where(
            ProgrammeUpdate.programme_id == programme.id,
            ProgrammeUpdate.you_said == DRAFT_YOU_SAID,
        )
    ).first()
    if there is not None or programme.id is None:
        return
    session.add(
        ProgrammeUpdate(
            programme_id=programme.id,
            you_said=DRAFT_YOU_SAID,
            we_did="We are asking councils to hold them after school, or to ask you first.",
            created_at=now,
        )
    )
    session.flush()


def _call_questions(session: Session, call_id: int) -> None:
    """The call for ideas: six questions of different kinds, each with a young person's words."""
    questions: list[dict[str, Any]] = [
        dict(
            text="What helped you most when things were hard?",
            hint="It could be a person, a place or something that happened.",
            young_text="What helped you most when life was hard?",
            young_hint="It could be a person, a place or something that happened.",
            kind=QuestionKind.LONG_TEXT,
        ),
        dict(
            text="How much did you feel listened to by your social worker?",
            hint="1 means not at all. 5 means all the time.",
            young_text="Did your social worker listen to you?",
            young_hint="1 means never. 5 means always.",
            kind=QuestionKind.SCALE,
            options=["Not at all", "All the time"],
        ),
        dict(
            text="If you could change one thing about how social workers work with children, "
            "what would it be?",
            young_text="If you could change one thing about social workers, what would it be?",
            kind=QuestionKind.LONG_TEXT,
            max_chars=1000,
        ),
        dict(
            text="How could children in care keep the same trusted adult for longer?",
            young_text="How could children in care keep the same grown-up they trust?",
            kind=QuestionKind.LONG_TEXT,
        ),
        dict(
            text="What should happen when a young person leaves care at 18?",
            hint="Think about money, a home, and someone to call.",
            young_text="What help should you get when you leave care at 18?",
            kind=QuestionKind.SEVERAL_CHOICES,
            options=[
                "Help to find a home",
                "Enough money to live on",
                "Someone to call at any time",
                "Help with school, college or work",
                "Staying with my carers until I am 21",
            ],
        ),
        dict(
            text="Is there anything else you want the review to know?",
            young_text="Is there anything else you want to tell us?",
            kind=QuestionKind.LONG_TEXT,
        ),
    ]
    for number, spec in enumerate(questions, start=1):
        session.add(Question(call_id=call_id, number=number, **spec))


def _more_workshops(session: Session, programme_id: int, now: datetime) -> None:
    """An online workshop for parents and carers, and one starting soon (its code works now)."""
    evening = (now + timedelta(days=20)).replace(hour=19, minute=0, second=0, microsecond=0)
    session.add(
        Workshop(
            programme_id=programme_id,
            slug="parents-and-carers-online",
            title="Parents and carers: what would have helped your family?",
            description=(
                "An online evening for parents and carers who have had help from children's "
                "social care. Tell us what helped, what didn't, and what should change. "
                "You can keep your camera off."
            ),
            audience="parents",
            age_range="parents and carers",
            mode=WorkshopMode.ONLINE,
            online_link="https://video.heard.example.org/parents-evening",
            starts_at=evening,
            ends_at=evening + timedelta(minutes=90),
            capacity=40,
            reserved_places=0,
            sign_up_opens_at=now - timedelta(days=1),
            sign_up_closes_at=evening - timedelta(hours=3),
            status=WorkshopStatus.PUBLISHED,
            join_code="PRN8WX",
            created_at=now,
        )
    )
    soon = _drop_in_start(now)
    session.add(
        Workshop(
            programme_id=programme_id,
            slug=DROP_IN_SLUG,
            title="Drop-in: draw what a good social worker looks like",
            description=(
                "A short, friendly session for 8 to 12 year olds. We draw and talk about what "
                "makes a good social worker. A parent or carer can stay with you."
            ),
            audience="children",
            age_range="8 to 12",
            mode=WorkshopMode.IN_PERSON,
            place="Riverside library, Bristol (children's room)",
            access_info="Step-free. Toilets on the same floor.",
            starts_at=soon,
            ends_at=soon + timedelta(hours=1),
            capacity=12,
            reserved_places=2,
            sign_up_opens_at=now - timedelta(days=7),
            sign_up_closes_at=soon,
            status=WorkshopStatus.PUBLISHED,
            join_code="DRP4KS",
            created_at=now,
        )
    )


DROP_IN_SLUG = "drop-in-8-12"


def _drop_in_start(now: datetime) -> datetime:
    return (now + timedelta(minutes=15)).replace(second=0, microsecond=0)


def _keep_drop_in_joinable(session: Session, now: datetime) -> None:
    """Each `heard demo` (so each `make run`) moves the drop-in to 15 minutes from now, so
    its join code works whenever someone tries Heard. Nothing else is touched."""
    drop_in = session.exec(select(Workshop).where(Workshop.slug == DROP_IN_SLUG)).first()
    if drop_in is None or drop_in.ends_at > now:
        return
    starts = _drop_in_start(now)
    drop_in.starts_at, drop_in.ends_at = starts, starts + timedelta(hours=1)
    drop_in.sign_up_closes_at = starts
    session.add(drop_in)
    session.flush()
