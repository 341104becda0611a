"""Screening words staff add from a page, on top of Heard's own lists (app/text/screening.py
reads them through `for_screening`). They work at once, for new posts, on every server."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from sqlmodel import Session, col, select

from app.forms import FormModel
from app.models import ScreenTerm, ScreenTermKind
from app.services import audit
from app.services.identity import Identity
from app.text.screening import ScreenTerms


class TermForm(FormModel):
    kind: str = ""
    phrase: str = Field(default="", max_length=100)
    messages = {"phrase": {"too_long": "A word or phrase must be 100 characters or fewer"}}


class TermError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def for_screening(session: Session) -> ScreenTerms:
    """Staff's words on top of Heard's own lists, for `screen()` (a small table, read each
    time, so a word added on one server works on every server at once)."""
    rows = session.exec(select(ScreenTerm.kind, ScreenTerm.phrase)).all()
    return ScreenTerms(
        disclosure_phrases=tuple(p for k, p in rows if k == ScreenTermKind.DISCLOSURE),
        abuse_words=tuple(p for k, p in rows if k == ScreenTermKind.ABUSE),
    )


def all_terms(session: Session) -> list[ScreenTerm]:
    return list(
        session.exec(
            select(ScreenTerm).order_by(col(ScreenTerm.kind), col(ScreenTerm.phrase))
        ).all()
    )


def add(session: Session, form: TermForm, actor: Identity, now: datetime) -> ScreenTerm:
    if form.kind not in ScreenTermKind._value2member_map_:
        raise TermError("kind", "Choose what the word or phrase is a sign of")
    phrase = " ".join(form.phrase.casefold().split())
    if not any(ch.isalnum() for ch in phrase):
        raise TermError("phrase", "Enter a word or phrase with at least one letter")
    kind = ScreenTermKind(form.kind)
    existing = session.exec(
        select(ScreenTerm).where(ScreenTerm.kind == kind, ScreenTerm.phrase == phrase)
    ).first()
    if existing is not None:
        return existing
    term = ScreenTerm(kind=kind, phrase=phrase, created_at=now)
    session.add(term)
    session.flush()
    audit.record(session, actor, "screen_term.added", record_type="screen_term", record_id=term.id)
    return term


def remove(session: Session, term: ScreenTerm, actor: Identity) -> None:
    audit.record(
        session, actor, "screen_term.removed", record_type="screen_term", record_id=term.id
    )
    session.delete(term)
    session.flush()
