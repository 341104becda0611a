"""Calls for staff: responses per person and per question, themes, filters, search, CSV.

Everything here is for admins and analysts of the call's programme (`calls.may_read_responses`);
contact details leave Heard only in the admins' export, and every export is audited.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from sqlalchemy import exists, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.forms import FormModel, clean_text
from app.models import (
    Call,
    CallAnswer,
    CallResponse,
    CallResponseTheme,
    CallTheme,
    Question,
)
from app.services import audit
from app.services.calls import may_build, may_read_responses
from app.services.calls_questions import AGE_LABELS, options
from app.services.identity import Identity

PAGE_SIZE = 25
MAX_ID = 2**31 - 1  # larger ids can't exist (and some databases refuse to compare them)


def get_call(db: Session, call_id: int) -> Call | None:
    return db.get(Call, call_id) if 0 < call_id <= MAX_ID else None


def questions_of(db: Session, call: Call) -> list[Question]:
    return list(
        db.exec(select(Question).where(Question.call_id == call.id).order_by(col(Question.number)))
    )


@dataclass
class CallRow:
    call: Call
    responses: int
    may_build: bool


def calls_for(db: Session, identity: Identity) -> list[CallRow]:
    """The calls this person may read (admins and analysts of their programmes)."""
    counts = dict(
        db.exec(
            select(CallResponse.call_id, func.count()).group_by(col(CallResponse.call_id))
        ).all()
    )
    rows = db.exec(select(Call).order_by(col(Call.closes_at).desc())).all()
    return [
        CallRow(c, int(counts.get(c.id or 0, 0)), may_build(identity, c.programme_id))
        for c in rows
        if may_read_responses(identity, c.programme_id)
    ]


# --- filters and the list of responses -------------------------------------------------------


@dataclass
class Filters:
    q: str = ""
    theme: int | None = None
    age: str = ""
    quote: str = ""  # "yes", "no" or "" (either)
    page: int = 1

    @classmethod
    def from_params(cls, params: Any) -> Filters:
        """From the query string or a form; anything odd is simply ignored."""

        def text(name: str) -> str:
            value = params.get(name)
            return clean_text(value).strip()[:200] if isinstance(value, str) else ""

        theme, page = text("theme"), text("page")
        return cls(
            q=text("q"),
            theme=int(theme) if theme.isdigit() and int(theme) <= MAX_ID else None,
            age=text("age") if text("age") in AGE_LABELS else "",
            quote=text("quote") if text("quote") in ("yes", "no") else "",
            page=min(int(page), 10_000) if page.isdigit() and int(page) > 0 else 1,
        )

    def query(self, **changes: Any) -> dict[str, str]:
        values = {"q": self.q, "theme": self.theme or "", "age": self.age, "quote": self.quote}
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in ("", None)}


@dataclass
class Card:
    response: CallResponse
    themes: list[CallTheme] = field(default_factory=list)


@dataclass
class ResponsesPage:
    total: int
    cards: list[Card]
    filters: Filters
    pages: int


def _matching(call: Call, filters: Filters) -> Any:
    query = select(CallResponse).where(CallResponse.call_id == call.id)
    if filters.q:
        # The words as typed: % and _ are letters here, not wildcards.
        escaped = filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
        in_answers = exists().where(
            col(CallAnswer.response_id) == col(CallResponse.id),
            col(CallAnswer.text).ilike(like, escape="\\"),
        )
        query = query.where(
            or_(
                in_answers,
                col(CallResponse.reference).ilike(like, escape="\\"),
                col(CallResponse.display_name).ilike(like, escape="\\"),
            )
        )
    if filters.theme is not None:
        query = query.where(
            exists().where(
                col(CallResponseTheme.response_id) == col(CallResponse.id),
                col(CallResponseTheme.theme_id) == filters.theme,
            )
        )
    if filters.age:
        query = query.where(CallResponse.age_band == filters.age)
    if filters.quote:
        query = query.where(col(CallResponse.quote_consent).is_(filters.quote == "yes"))
    return query


def responses(db: Session, call: Call, filters: Filters) -> ResponsesPage:
    query = _matching(call, filters)
    total = int(db.exec(select(func.count()).select_from(query.subquery())).one())
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(filters.page, pages)
    rows = list(
        db.exec(
            query.order_by(col(CallResponse.submitted_at).desc(), col(CallResponse.id).desc())
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    tagged = _themes_of(db, [r.id for r in rows if r.id is not None])
    filters.page = page
    return ResponsesPage(total, [Card(r, tagged.get(r.id or 0, [])) for r in rows], filters, pages)


def _themes_of(db: Session, response_ids: list[int]) -> dict[int, list[CallTheme]]:
    if not response_ids:
        return {}
    found: dict[int, list[CallTheme]] = {}
    rows = db.exec(
        select(CallResponseTheme.response_id, CallTheme)
        .join(CallTheme, col(CallTheme.id) == col(CallResponseTheme.theme_id))
        .where(col(CallResponseTheme.response_id).in_(response_ids))
        .order_by(col(CallTheme.name))
    ).all()
    for response_id, theme in rows:
        found.setdefault(response_id, []).append(theme)
    return found


# --- themes -----------------------------------------------------------------------------------


def themes(db: Session, call: Call) -> list[tuple[CallTheme, int]]:
    """Each theme of the call and how many responses carry it."""
    counts = dict(
        db.exec(
            select(CallResponseTheme.theme_id, func.count())
            .join(CallTheme, col(CallTheme.id) == col(CallResponseTheme.theme_id))
            .where(CallTheme.call_id == call.id)
            .group_by(col(CallResponseTheme.theme_id))
        ).all()
    )
    rows = db.exec(
        select(CallTheme).where(CallTheme.call_id == call.id).order_by(col(CallTheme.name))
    )
    return [(theme, int(counts.get(theme.id or 0, 0))) for theme in rows]


class ThemeForm(FormModel):
    name: str = Field(max_length=80)
    messages = {
        "name": {
            "missing": "Enter a name for the theme",
            "too_long": "The theme's name must be 80 characters or fewer",
        }
    }


def add_theme(db: Session, call: Call, name: str, actor: Identity) -> str | None:
    """Add a theme; returns a problem to show, or None when done."""
    name = " ".join(name.split())
    try:
        with db.begin_nested():
            theme = CallTheme(call_id=call.id or 0, name=name)
            db.add(theme)
            db.flush()
    except IntegrityError:
        return "There is already a theme with that name"
    audit.record(
        db, actor, "call.theme_added", record_type="call_theme", record_id=theme.id, call_id=call.id
    )
    return None


def tag(
    db: Session, call: Call, response_id: int, theme_id: int, on: bool, actor: Identity
) -> bool:
    """Tag a response of this call with one of its themes (or take the tag off)."""
    response = db.get(CallResponse, response_id) if 0 < response_id <= MAX_ID else None
    theme = db.get(CallTheme, theme_id) if 0 < theme_id <= MAX_ID else None
    if response is None or theme is None or response.call_id != call.id or theme.call_id != call.id:
        return False
    existing = db.get(CallResponseTheme, (response_id, theme_id))
    if on and existing is None:
        db.add(CallResponseTheme(response_id=response_id, theme_id=theme_id))
    elif not on and existing is not None:
        db.delete(existing)
    db.flush()
    audit.record(
        db,
        actor,
        "call.response_tagged" if on else "call.response_untagged",
        record_type="call_response",
        record_id=response_id,
        theme_id=theme_id,
    )
    return True


# --- per question --------------------------------------------------------------------------------


@dataclass
class QuestionView:
    question: Question
    counts: list[tuple[str, int]]  # each option and how many chose it (choice kinds)
    answers: list[tuple[str, str]]  # (reference, answer) for text answers, newest first
    answered: int


def by_question(db: Session, call: Call, question: Question, limit: int = 200) -> QuestionView:
    rows = db.exec(
        select(CallResponse.reference, CallAnswer)
        .join(CallResponse, col(CallResponse.id) == col(CallAnswer.response_id))
        .where(CallAnswer.question_id == question.id, CallResponse.call_id == call.id)
        .order_by(col(CallResponse.submitted_at).desc())
    ).all()
    given = [(ref, a) for ref, a in rows if a.text]
    chosen: Counter[str] = Counter(choice for _, a in given for choice in a.choices)
    labels = options(question)
    counts = [(label, chosen.get(value, 0)) for value, label in labels]
    texts = [] if labels else [(ref, a.text) for ref, a in given[:limit]]
    return QuestionView(question, counts, texts, len(given))


# --- CSV -----------------------------------------------------------------------------------------


def csv_cell(value: object) -> str:
    """Spreadsheets run cells that start with = + - @ (or a tab or return): make them text.
    Every CSV export uses it (calls, rounds)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


_cell = csv_cell


def responses_csv(db: Session, call: Call, actor: Identity, *, personal: bool) -> str:
    """Every response, one row each. Contact details only when `personal` (admins)."""
    questions = questions_of(db, call)
    rows = list(
        db.exec(
            select(CallResponse)
            .where(CallResponse.call_id == call.id)
            .order_by(col(CallResponse.submitted_at), col(CallResponse.id))
        )
    )
    ids = [r.id for r in rows if r.id is not None]
    answers: dict[tuple[int, int], str] = {}
    if ids:
        for a in db.exec(select(CallAnswer).where(col(CallAnswer.response_id).in_(ids))):
            answers[(a.response_id, a.question_id)] = a.text
    tagged = _themes_of(db, ids)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    head = ["Reference", "Sent"] + (["Name", "Email"] if personal else [])
    head += ["Age", "May quote", "Themes"] + [f"{q.number}. {q.text}" for q in questions]
    writer.writerow([_cell(h) for h in head])
    for r in rows:
        line: list[object] = [r.reference, r.submitted_at.isoformat()]
        if personal:
            line += [r.display_name or "", r.email or ""]
        line += [
            AGE_LABELS.get(r.age_band or "", ""),
            "yes" if r.quote_consent else "no",
            "; ".join(t.name for t in tagged.get(r.id or 0, [])),
        ]
        line += [answers.get((r.id or 0, q.id or 0), "") for q in questions]
        writer.writerow([_cell(v) for v in line])
    audit.record(
        db,
        actor,
        "call.responses_exported",
        record_type="call",
        record_id=call.id,
        rows=len(rows),
        personal=personal,
    )
    return buffer.getvalue()
