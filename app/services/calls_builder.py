"""Admins build calls: the call itself (words, kind, window, rules) and its numbered questions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.config import Settings
from app.forms import FormModel, FormState
from app.models import Call, CallKind, CallResponse, CallStatus, Programme, Question, QuestionKind
from app.services import audit
from app.services.calls import may_build
from app.services.identity import Identity
from app.services.workshops import parse_local, slugify, to_local_value

DATE_MESSAGE = "Enter a date and time like 5 February 2027 at 11:59pm"
CHOICE_KINDS = (QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES)


def _local(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.strptime(value.strip().replace(" ", "T")[:16], "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValueError(DATE_MESSAGE) from None
    return value


class CallForm(FormModel):
    programme_id: int
    title: str = Field(max_length=200)
    summary: str = Field(max_length=5000)
    kind: Literal["advice", "evidence", "ideas"]
    opens_at: str
    closes_at: str
    allow_anonymous: Literal["yes", "no"]
    allow_skip: Literal["yes", "no"]
    keep_days: int = Field(ge=1, le=3650)
    status: Literal["draft", "published"]

    messages = {
        "programme_id": {
            "missing": "Choose which programme the call is part of",
            "invalid": "Choose one of the programmes you run",
        },
        "title": {
            "missing": "Enter a title",
            "too_long": "The title must be 200 characters or fewer",
        },
        "summary": {
            "missing": "Enter an introduction in plain English",
            "too_long": "The introduction must be 5,000 characters or fewer",
        },
        "kind": {"missing": "Choose the kind of call", "invalid": "Choose the kind of call"},
        "opens_at": {"missing": "Enter when the call opens"},
        "closes_at": {"missing": "Enter when the call closes"},
        "allow_anonymous": {"missing": "Choose whether people can answer without a name"},
        "allow_skip": {"missing": "Choose whether people can leave questions out"},
        "keep_days": {
            "missing": "Enter how many days to keep responses after the call closes",
            "invalid": "Enter a whole number of days from 1 to 3,650",
        },
        "status": {"missing": "Choose draft or published", "invalid": "Choose draft or published"},
    }

    _dates = field_validator("opens_at", "closes_at")(classmethod(lambda cls, v: _local(v)))


class QuestionForm(FormModel):
    text: str = Field(max_length=1000)
    hint: str | None = Field(default=None, max_length=1000)
    young_text: str | None = Field(default=None, max_length=1000)
    young_hint: str | None = Field(default=None, max_length=1000)
    kind: QuestionKind
    options: str | None = Field(default=None, max_length=5000)
    max_chars: int | None = Field(default=None, ge=10, le=10_000)

    messages = {
        "text": {
            "missing": "Enter the question",
            "too_long": "The question must be 1,000 characters or fewer",
        },
        "hint": {"too_long": "The hint must be 1,000 characters or fewer"},
        "young_text": {"too_long": "The young person's version must be 1,000 characters or fewer"},
        "young_hint": {"too_long": "The young person's hint must be 1,000 characters or fewer"},
        "kind": {
            "missing": "Choose the kind of question",
            "invalid": "Choose the kind of question",
        },
        "options": {"too_long": "The choices must be 5,000 characters or fewer in all"},
        "max_chars": {"invalid": "Enter a whole number of characters from 10 to 10,000"},
    }

    @property
    def option_list(self) -> list[str]:
        return [line.strip() for line in (self.options or "").splitlines() if line.strip()]


def programmes_for(db: Session, identity: Identity) -> list[Programme]:
    rows = db.exec(select(Programme).order_by(col(Programme.title))).all()
    return [p for p in rows if may_build(identity, p.id)]


def check_call_form(state: FormState[CallForm], choices: list[Programme], tz: Any) -> None:
    """Deny by default (only programmes this admin runs), and the window must make sense."""
    chosen = state.values.get("programme_id") or ""
    if chosen and chosen not in {str(p.id) for p in choices}:
        state.add_error("programme_id", "Choose one of the programmes you run")
    form = state.data
    if form is not None and parse_local(form.closes_at, tz) <= parse_local(form.opens_at, tz):
        state.add_error("closes_at", "The call must close after it opens")


def check_question_form(state: FormState[QuestionForm]) -> None:
    form = state.data
    if form is None:
        return
    found = form.option_list
    if form.kind in CHOICE_KINDS:
        if len(found) < 2:
            state.add_error("options", "Enter at least 2 choices, one on each line")
        elif len(found) > 20 or any(len(o) > 200 for o in found):
            state.add_error("options", "Enter up to 20 choices of up to 200 characters each")
        elif len(set(found)) != len(found):
            state.add_error("options", "Each choice must be different")
    if form.kind == QuestionKind.SCALE and len(found) not in (0, 2):
        state.add_error("options", "For a scale, enter the words for 1 and for 5, or nothing")


def unique_slug(db: Session, title: str, own_id: int | None = None) -> str:
    base = slugify(title)[:70] or "call"
    slug, n = base, 1
    while True:
        found = db.exec(select(Call.id).where(Call.slug == slug)).first()
        if found is None or found == own_id:
            return slug
        n += 1
        slug = f"{base}-{n}"


def save_call(
    db: Session, settings: Settings, form: CallForm, call: Call | None, actor: Identity
) -> Call:
    tz = settings.tz
    if call is None:
        call = Call(
            programme_id=form.programme_id,
            slug=unique_slug(db, form.title),
            kind=CallKind(form.kind),
            title=form.title,
            summary=form.summary,
            opens_at=parse_local(form.opens_at, tz),
            closes_at=parse_local(form.closes_at, tz),
        )
    call.programme_id = form.programme_id
    call.title, call.summary, call.kind = form.title, form.summary, CallKind(form.kind)
    call.opens_at = parse_local(form.opens_at, tz)
    call.closes_at = parse_local(form.closes_at, tz)
    call.allow_anonymous = form.allow_anonymous == "yes"
    call.allow_skip = form.allow_skip == "yes"
    call.keep_days = form.keep_days
    call.status = CallStatus(form.status)
    db.add(call)
    db.flush()
    audit.record(db, actor, "call.saved", record_type="call", record_id=call.id, status=form.status)
    return call


def call_values(call: Call, settings: Settings) -> dict[str, Any]:
    return {
        "programme_id": str(call.programme_id),
        "title": call.title,
        "summary": call.summary,
        "kind": CallKind(call.kind).value,
        "opens_at": to_local_value(call.opens_at, settings.tz),
        "closes_at": to_local_value(call.closes_at, settings.tz),
        "allow_anonymous": "yes" if call.allow_anonymous else "no",
        "allow_skip": "yes" if call.allow_skip else "no",
        "keep_days": str(call.keep_days),
        "status": CallStatus(call.status).value,
    }


def response_count(db: Session, call: Call) -> int:
    return int(
        db.exec(
            select(func.count()).select_from(CallResponse).where(CallResponse.call_id == call.id)
        ).one()
    )


def question(db: Session, call: Call, number: int) -> Question | None:
    if not 0 < number < 1000:
        return None
    return db.exec(
        select(Question).where(Question.call_id == call.id, Question.number == number)
    ).first()


def question_values(q: Question) -> dict[str, Any]:
    return {
        "text": q.text,
        "hint": q.hint or "",
        "young_text": q.young_text or "",
        "young_hint": q.young_hint or "",
        "kind": QuestionKind(q.kind).value,
        "options": "\n".join(q.options or []),
        "max_chars": str(q.max_chars or ""),
    }


def check_question_change(
    db: Session, call: Call, q: Question | None, state: FormState[QuestionForm]
) -> None:
    """Once people have answered, a question can be reworded but not turned into another kind."""
    if q is None or state.data is None or response_count(db, call) == 0:
        return
    if state.data.kind != q.kind:
        state.add_error("kind", "People have answered this question, so its kind can't change")


def save_question(
    db: Session, call: Call, q: Question | None, form: QuestionForm, actor: Identity
) -> Question:
    if q is None:
        last = db.exec(select(func.max(Question.number)).where(Question.call_id == call.id)).one()
        q = Question(call_id=call.id or 0, number=int(last or 0) + 1, text=form.text)
    q.text = form.text
    q.hint, q.young_text, q.young_hint = form.hint, form.young_text, form.young_hint
    q.kind = form.kind
    keeps_options = form.kind in (*CHOICE_KINDS, QuestionKind.SCALE)
    q.options = form.option_list if keeps_options else []
    q.max_chars = form.max_chars if form.kind == QuestionKind.LONG_TEXT else None
    db.add(q)
    db.flush()
    audit.record(
        db, actor, "call.question_saved", record_type="question", record_id=q.id, call_id=call.id
    )
    return q


def remove_question(db: Session, call: Call, q: Question, actor: Identity) -> bool:
    """Take a question out (only before anyone has answered) and number the rest again."""
    if response_count(db, call) > 0:
        return False
    removed = q.number
    db.delete(q)
    db.flush()
    later = db.exec(
        select(Question)
        .where(Question.call_id == call.id, col(Question.number) > removed)
        .order_by(col(Question.number))
    ).all()
    for row in later:  # one at a time, in order, so (call, number) stays unique throughout
        row.number -= 1
        db.add(row)
        db.flush()
    audit.record(
        db, actor, "call.question_removed", record_type="call", record_id=call.id, number=removed
    )
    return True
