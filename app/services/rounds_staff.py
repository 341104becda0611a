"""Admins run rounds: build one (words, who can apply, window, criteria, questions), move it
draft → open → closed → decided, change its closing time, and give one late person more time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from app import journeys
from app.config import Settings
from app.forms import FormModel, FormState
from app.journeys import JourneyDraft
from app.models import (
    Application,
    Group,
    QuestionKind,
    Round,
    RoundExtension,
    RoundQuestion,
    RoundStatus,
)
from app.services import audit, rounds_emails
from app.services.calls_builder import QuestionForm
from app.services.identity import Identity
from app.services.rounds import journey_name
from app.services.rounds_forms import ABOUT_YOU
from app.services.workshops import parse_local, slugify, to_local_value

MAX_ID = 2**31 - 1
DATE_MESSAGE = "Enter a date and time like 5 February 2027 at 11:59pm"
NEXT_STATUS = {
    RoundStatus.DRAFT: RoundStatus.OPEN,
    RoundStatus.OPEN: RoundStatus.CLOSED,
    RoundStatus.CLOSED: RoundStatus.DECIDED,
}
EXTENSION = timedelta(days=3)


class RoundForm(FormModel):
    group: str = Field(max_length=200)
    title: str = Field(max_length=200)
    summary: str = Field(max_length=5000)
    time_asked: str = Field(max_length=1000)
    in_return: str = Field(max_length=1000)
    min_age: int = Field(ge=5, le=120)
    max_age: int = Field(ge=5, le=120)
    who_can_apply: str = Field(max_length=2000)
    how_info_used: str = Field(max_length=3000)
    criteria: str = Field(max_length=3000)
    opens_at: str = Field(max_length=40)
    closes_at: str = Field(max_length=40)

    messages = {
        "group": {"missing": "Enter the name of the group", "too_long": "200 characters at most"},
        "title": {"missing": "Enter a title", "too_long": "200 characters at most"},
        "summary": {"missing": "Say what the group does", "too_long": "5,000 characters at most"},
        "time_asked": {"missing": "Say how much time it takes", "too_long": "1,000 at most"},
        "in_return": {"missing": "Say what people get in return", "too_long": "1,000 at most"},
        "min_age": {"missing": "Enter the youngest age", "invalid": "Enter an age from 5 to 120"},
        "max_age": {"missing": "Enter the oldest age", "invalid": "Enter an age from 5 to 120"},
        "who_can_apply": {"missing": "Say who can apply", "too_long": "2,000 at most"},
        "how_info_used": {"missing": "Say how you use it", "too_long": "3,000 at most"},
        "criteria": {"missing": "Enter what reviewers score", "too_long": "3,000 at most"},
        "opens_at": {"missing": "Enter when applications open", "invalid": DATE_MESSAGE},
        "closes_at": {"missing": "Enter when applications close", "invalid": DATE_MESSAGE},
    }  # fmt: skip

    @property
    def criteria_list(self) -> list[str]:
        return [line.strip()[:200] for line in self.criteria.splitlines() if line.strip()][:10]


class RoundQuestionForm(QuestionForm):
    identifying: str | None = None


class ClosingForm(FormModel):
    closes_at: str = Field(max_length=40)
    confirm: list[str] = []
    multi = ("confirm",)
    messages = {"closes_at": {"missing": "Enter the new closing time", "invalid": DATE_MESSAGE}}


def get_round(db: Session, round_id: int) -> Round | None:
    return db.get(Round, round_id) if 0 < round_id <= MAX_ID else None


def _times(state: FormState[Any], tz: ZoneInfo, *names: str) -> dict[str, datetime]:
    found = {}
    for name in names:
        value = str(state.values.get(name) or "")
        try:
            found[name] = parse_local(value, tz)
        except ValueError:
            if value:
                state.add_error(name, DATE_MESSAGE)
    return found


def check_round_form(state: FormState[RoundForm], tz: ZoneInfo) -> dict[str, datetime]:
    form = state.data  # read first: every error below clears it
    times = _times(state, tz, "opens_at", "closes_at")
    if len(times) == 2 and times["closes_at"] <= times["opens_at"]:
        state.add_error("closes_at", "The closing time must be after the opening time")
    if form is not None and form.max_age < form.min_age:
        state.add_error("max_age", "The oldest age must be the same as or more than the youngest")
    if form is not None and not form.criteria_list:
        state.add_error("criteria", "Enter at least one thing reviewers score")
    return times


def round_values(round_: Round, group: Group | None, tz: ZoneInfo) -> dict[str, str]:
    return {
        "group": group.name if group else "",
        "title": round_.title,
        "summary": round_.summary,
        "time_asked": round_.time_asked,
        "in_return": round_.in_return,
        "min_age": str(round_.min_age),
        "max_age": str(round_.max_age),
        "who_can_apply": round_.who_can_apply,
        "how_info_used": round_.how_info_used,
        "criteria": "\n".join(round_.criteria),
        "opens_at": to_local_value(round_.opens_at, tz),
        "closes_at": to_local_value(round_.closes_at, tz),
    }


def _group(db: Session, name: str) -> Group:
    found = db.exec(select(Group).where(Group.name == name)).first()
    if found is not None:
        return found
    group = Group(slug=_free_slug(db, Group, slugify(name)), name=name)
    db.add(group)
    db.flush()
    return group


def _free_slug(db: Session, model: Any, base: str) -> str:
    slug, n = base, 1
    while db.exec(select(model.id).where(model.slug == slug)).first() is not None:
        n += 1
        slug = f"{base[:70]}-{n}"
    return slug


def create_round(db: Session, form: RoundForm, times: dict[str, datetime], who: Identity) -> Round:
    group = _group(db, form.group)
    round_ = Round(
        group_id=group.id or 0,
        slug=_free_slug(db, Round, slugify(form.title)),
        title=form.title,
        summary=form.summary,
        time_asked=form.time_asked,
        in_return=form.in_return,
        min_age=form.min_age,
        max_age=form.max_age,
        who_can_apply=form.who_can_apply,
        how_info_used=form.how_info_used,
        criteria=form.criteria_list,
        opens_at=times["opens_at"],
        closes_at=times["closes_at"],
        templates=dict(rounds_emails.DEFAULT_TEMPLATES),
    )
    db.add(round_)
    db.flush()
    audit.record(db, who, "round.created", record_type="round", record_id=round_.id)
    return round_


def add_question(db: Session, round_: Round, form: RoundQuestionForm, who: Identity) -> None:
    most = db.exec(
        select(func.max(RoundQuestion.number)).where(RoundQuestion.round_id == round_.id)
    ).one()
    choices = (
        form.option_list
        if form.kind in (QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES)
        else []
    )
    if form.kind == QuestionKind.SCALE:
        choices = form.option_list[:2]
    db.add(
        RoundQuestion(
            round_id=round_.id or 0,
            number=int(most or 0) + 1,
            text=form.text,
            hint=form.hint or None,
            kind=form.kind,
            options=choices,
            young_text=form.young_text or None,
            young_hint=form.young_hint or None,
            max_chars=form.max_chars,
            identifying=form.identifying == "yes",
        )
    )
    db.flush()
    audit.record(db, who, "round.question_added", record_type="round", record_id=round_.id)


def check_question_form(state: FormState[RoundQuestionForm]) -> None:
    form = state.data
    if form is None:
        return
    if (
        form.kind in (QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES)
        and len(form.option_list) < 2
    ):
        state.add_error("options", "Enter at least two choices, one on each line")


def application_count(db: Session, round_: Round) -> int:
    query = select(func.count()).select_from(Application).where(Application.round_id == round_.id)
    return int(db.exec(query).one())


def move_on(db: Session, round_: Round, now: datetime, who: Identity) -> None:
    """The next status in draft → open → closed → decided (deciding starts retention)."""
    following = NEXT_STATUS.get(RoundStatus(round_.status))
    if following is None:
        return
    round_.status = following
    if following == RoundStatus.DECIDED:
        round_.decided_at = now
        erase = now + timedelta(days=max(round_.keep_days, 0))
        for application in db.exec(select(Application).where(Application.round_id == round_.id)):
            application.erase_after = erase
            db.add(application)
    db.add(round_)
    db.flush()
    audit.record(db, who, f"round.{following.value}", record_type="round", record_id=round_.id)


class EarlierNeedsConfirming(Exception):
    """Moving the closing time earlier once people have applied needs a tick to confirm."""


def change_closing(
    db: Session,
    settings: Settings,
    round_: Round,
    state: FormState[ClosingForm],
    now: datetime,
    who: Identity,
) -> int:
    """Moves the closing time; returns how many people with unsent drafts were emailed."""
    times = _times(state, settings.tz, "closes_at")
    if not state.ok or "closes_at" not in times:
        return 0
    new = times["closes_at"]
    if new <= round_.opens_at:
        state.add_error("closes_at", "The closing time must be after the opening time")
        return 0
    earlier = new < round_.closes_at
    if (
        earlier
        and application_count(db, round_)
        and "yes" not in (state.values.get("confirm") or [])
    ):
        state.add_error(
            "confirm",
            "People have applied already. Tick the box to confirm an earlier closing time",
        )
        return 0
    round_.closes_at = new
    db.add(round_)
    db.flush()
    audit.record(db, who, "round.closing_changed", record_type="round", record_id=round_.id)
    if earlier:
        return 0
    sent = 0
    for row in late_drafts(db, round_):
        if row.email:
            rounds_emails.queue_later_closing(db, settings, round_, row.email, now)
            sent += 1
    return sent


@dataclass
class LateDraft:
    draft: JourneyDraft
    email: str
    extension: RoundExtension | None


def late_drafts(db: Session, round_: Round) -> list[LateDraft]:
    """Unsent drafts, with the email address they gave (if they got that far)."""
    drafts = db.exec(
        select(JourneyDraft)
        .where(JourneyDraft.journey == journey_name(round_))
        .order_by(col(JourneyDraft.updated_at).desc())
    ).all()
    extensions = {
        e.draft_id: e
        for e in db.exec(select(RoundExtension).where(RoundExtension.round_id == round_.id))
    }
    found = []
    for row in drafts:
        about = row.answers.get(ABOUT_YOU) if isinstance(row.answers, dict) else None
        email = str(about.get("email") or "") if isinstance(about, dict) else ""
        found.append(LateDraft(row, email, extensions.get(row.id or 0)))
    return found


def grant_extension(
    db: Session, settings: Settings, round_: Round, draft_id: int, now: datetime, who: Identity
) -> bool:
    """More time for one unsent draft: they are emailed a link back to it."""
    row = next((d for d in late_drafts(db, round_) if d.draft.id == draft_id), None)
    if row is None or not row.email:
        return False
    until = max(now, round_.closes_at) + EXTENSION
    extension = row.extension or RoundExtension(
        round_id=round_.id or 0, draft_id=draft_id, until=until
    )
    extension.until = until
    extension.granted_by = who.staff.id if who.staff else None
    db.add(extension)
    token = journeys.issue_resume_link(db, row.draft, now, lifetime=EXTENSION)
    rounds_emails.queue_resume_link(
        db, settings, round_, token, row.email, row.draft.participant_id, now, more_time_until=until
    )
    audit.record(db, who, "round.extension_granted", record_type="round", record_id=round_.id)
    return True


@dataclass
class RoundRow:
    round: Round
    applications: int


def rounds_for(db: Session) -> list[RoundRow]:
    counts = dict(
        db.exec(
            select(Application.round_id, func.count()).group_by(col(Application.round_id))
        ).all()
    )
    found = db.exec(select(Round).order_by(col(Round.closes_at).desc())).all()
    return [RoundRow(r, int(counts.get(r.id or 0, 0))) for r in found]
