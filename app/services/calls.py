"""Answering a call online: the journey, saving, coming back later, and sending, once.

A response is accepted only while the call is published and its window is open, by the
clock of the request: at exactly the closing time it is refused. A refused response keeps
its draft, so nothing anyone typed is lost.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from app import journeys
from app.config import Settings
from app.forms import FormState
from app.journeys import Answers, Journey, JourneyDraft
from app.models import (
    Call,
    CallAnswer,
    CallResponse,
    CallStatus,
    ConsentPurpose,
    Participant,
    Question,
    Role,
)
from app.security import token_hash
from app.services import audit, calls_emails, consent
from app.services.calls_questions import (
    ABOUT_YOU,
    AGE_LABELS,
    QuestionStep,
    answer_choices,
    answer_words,
    step_name,
    steps_for,
    wording,
)
from app.services.identity import Identity
from app.windows import WindowState

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
QUOTE_WORDING, QUOTE_VERSION = consent.WORDING[ConsentPurpose.BE_QUOTED]
WHAT_HAPPENS_NEXT = (
    "A small team reads every answer. They look for what many people say, and for new ideas. "
    "We will share what we learned on the programme page. We never share your name."
)


class ClosedError(Exception):
    """The call is not taking answers (closed, not open yet, or not published)."""


class NotAnsweredError(Exception):
    def __init__(self, step: str) -> None:
        self.step = step


@dataclass
class CallJourney:
    call: Call
    questions: list[Question]
    steps: list[QuestionStep]

    @property
    def journey(self) -> Journey:
        return Journey(name=journey_name(self.call), steps=tuple(s.step for s in self.steps))

    def question_for(self, step: str) -> Question | None:
        return next((s.question for s in self.steps if s.step.name == step), None)


def journey_name(call: Call) -> str:
    return f"call:{call.id}"


# Who may do what with calls (named predicates, for routes and templates alike).


def may_build(identity: Identity, programme_id: int | None) -> bool:
    """Set up and change calls: admins of the call's programme (or of every programme)."""
    return identity.has_role(Role.ADMIN, programme_id)


def may_read_responses(identity: Identity, programme_id: int | None) -> bool:
    """Read, tag and export (without contact details) responses: its admins and analysts."""
    return identity.has_role(Role.ADMIN, programme_id) or identity.has_role(
        Role.ANALYST, programme_id
    )


def find_call(db: Session, slug: str, viewer: Identity) -> CallJourney | None:
    """A call people can see (a draft only for staff who can build it), with its questions."""
    if not slug or len(slug) > 80:
        return None
    call = db.exec(select(Call).where(Call.slug == slug)).first()
    if call is None:
        return None
    if call.status != CallStatus.PUBLISHED and not may_build(viewer, call.programme_id):
        return None
    questions = list(
        db.exec(select(Question).where(Question.call_id == call.id).order_by(col(Question.number)))
    )
    return CallJourney(call, questions, steps_for(call, questions))


def accepts_answers(call: Call, now: datetime) -> bool:
    return call.status == CallStatus.PUBLISHED and call.window.is_open(now)


@dataclass
class Timing:
    """Where a call stands, in words: "Closes in 3 days" and "Closes on Friday 5 February…"."""

    state: WindowState
    accepting: bool
    words: str
    closes: str


def timing(call: Call, now: datetime, tz: str) -> Timing:
    window = call.window
    return Timing(
        state=window.state(now),
        accepting=accepts_answers(call, now),
        words=window.words(now, tz),
        closes=window.closes_words(tz),
    )


def refusal(call: Call, now: datetime, tz: str) -> str:
    """Why answers can't be sent now, kindly, with the answers kept."""
    kept = "We could not send your answers. We have kept them for you below."
    state = call.window.state(now)
    if call.status != CallStatus.PUBLISHED:
        return f"Sorry, this call is not taking answers. {kept}"
    if state == WindowState.NOT_YET:
        return f"Sorry, this call is not open yet. {call.window.opens_words(now, tz)}. {kept}"
    closed = call.window.closed_words(tz)  # "Closed on Friday 5 February at 11:59pm"
    return f"Sorry, this call {closed[:1].lower()}{closed[1:]}. {kept}"


# --- drafts -------------------------------------------------------------------------------


def draft(db: Session, cj: CallJourney, owner_key: str) -> JourneyDraft | None:
    return journeys.find(db, journey_name(cj.call), owner_key)


def save_answer(
    db: Session,
    cj: CallJourney,
    owner_key: str,
    step: str,
    state: FormState[Any],
    now: datetime,
    identity: Identity,
) -> JourneyDraft:
    """Keep a validated answer, whatever the time: a closed call still keeps what was typed."""
    participant_id = identity.participant.id if identity.participant else None
    return journeys.save(db, journey_name(cj.call), owner_key, step, state, now, participant_id)


@dataclass
class AnswerRow:
    step: str
    label: str
    words: str


def answer_rows(cj: CallJourney, answers: Answers, young: bool = False) -> list[AnswerRow]:
    """Check your answers: each question and answer, then what they told us about themselves."""
    rows = []
    for question in cj.questions:
        saved = answers.get(step_name(question))
        rows.append(
            AnswerRow(
                step_name(question), wording(question, young)[0], answer_words(question, saved)
            )
        )
    about = answers.get(ABOUT_YOU) or {}
    rows.append(AnswerRow(ABOUT_YOU, "Your name", str(about.get("display_name") or "")))
    rows.append(AnswerRow(ABOUT_YOU, "Email address", str(about.get("email") or "")))
    rows.append(AnswerRow(ABOUT_YOU, "Age", AGE_LABELS.get(str(about.get("age_band")), "")))
    return rows


# --- save and come back later --------------------------------------------------------------


def send_resume_link(
    db: Session,
    settings: Settings,
    cj: CallJourney,
    draft_row: JourneyDraft,
    email: str,
    now: datetime,
) -> None:
    """Email a link back to this draft (a new link each time; the last one stops working)."""
    token = journeys.issue_resume_link(db, draft_row, now)
    calls_emails.queue_resume_link(
        db, settings, cj.call, token, email, draft_row.participant_id, now
    )


# --- sending ------------------------------------------------------------------------------


def by_submit_token(db: Session, token: str) -> CallResponse | None:
    if not token or len(token) > 100:
        return None
    return db.exec(
        select(CallResponse).where(CallResponse.submit_token_hash == token_hash(token))
    ).first()


def send(
    db: Session,
    settings: Settings,
    cj: CallJourney,
    draft_row: JourneyDraft | None,
    token: str,
    quote: bool,
    now: datetime,
    identity: Identity,
) -> tuple[CallResponse, bool]:
    """Send the answers once: (response, sent_now). The same token again finds the same one.

    Raises ClosedError after the closing time (the draft stays), NotAnsweredError when an
    answer is missing or no longer passes, and ValueError for a token that isn't this
    draft's (an old page: the person is shown the page again, with a fresh one).
    """
    existing = by_submit_token(db, token)
    if existing is not None and existing.call_id == cj.call.id:
        return existing, False
    if not accepts_answers(cj.call, now):
        raise ClosedError
    answers = journeys.answers_of(draft_row)
    missing = cj.journey.first_unanswered(answers)
    if missing is not None or draft_row is None:
        raise NotAnsweredError(missing or cj.journey.names[0])
    if not secrets.compare_digest(token.encode(), draft_row.submit_token.encode()):
        raise ValueError("not this draft's token")

    def create() -> CallResponse:
        return _write(db, settings, cj, answers, token, quote, now, identity)

    response, made = journeys.submit_once(db, token, lambda t: by_submit_token(db, t), create)
    if made:
        journeys.discard(db, draft_row)
    return response, made


def _write(
    db: Session,
    settings: Settings,
    cj: CallJourney,
    answers: Answers,
    token: str,
    quote: bool,
    now: datetime,
    identity: Identity,
) -> CallResponse:
    about = cj.journey.validated(answers)[ABOUT_YOU]
    participant = identity.participant
    response = CallResponse(
        call_id=cj.call.id or 0,
        reference=_new_reference(db),
        submit_token_hash=token_hash(token),
        participant_id=participant.id if participant else None,
        display_name=about.display_name or None,
        email=about.email or None,
        age_band=about.age_band or None,
        answers=[
            {
                "number": q.number,
                "question": q.text,
                "answer": answer_words(q, answers.get(step_name(q))),
            }
            for q in cj.questions
        ],
        quote_consent=quote,
        quote_wording=QUOTE_WORDING,
        quote_version=QUOTE_VERSION,
        quote_consent_at=now if quote else None,
        submitted_at=now,
        erase_after=cj.call.closes_at + timedelta(days=max(cj.call.keep_days, 0)),
    )
    db.add(response)
    db.flush()
    for q in cj.questions:
        saved = answers.get(step_name(q))
        db.add(
            CallAnswer(
                response_id=response.id or 0,
                question_id=q.id or 0,
                text=answer_words(q, saved),
                choices=answer_choices(q, saved),
            )
        )
    if quote and participant is not None:
        consent.give_current(db, participant, ConsentPurpose.BE_QUOTED, now)
    db.flush()
    audit.record(
        db, identity, "call.response_sent", record_type="call_response", record_id=response.id
    )
    if response.email:
        calls_emails.queue_receipt(db, settings, cj.call, response, WHAT_HAPPENS_NEXT, now)
    return response


def _new_reference(db: Session) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        reference = f"HRD-{code[:4]}-{code[4:]}"
        taken = db.exec(select(CallResponse.id).where(CallResponse.reference == reference))
        if taken.first() is None:
            return reference


@consent.on_withdraw
def _stop_quoting_call_answers(
    db: Session, participant: Participant, purpose: ConsentPurpose, now: datetime
) -> None:
    """Saying "stop quoting me" on My stuff covers what they sent to calls too."""
    if purpose != ConsentPurpose.BE_QUOTED:
        return
    rows = db.exec(
        select(CallResponse).where(
            CallResponse.participant_id == participant.id, col(CallResponse.quote_consent)
        )
    ).all()
    for row in rows:
        row.quote_consent = False
        row.quote_withdrawn_at = now
        db.add(row)
    db.flush()
