"""Applying to a recruitment round: the journey, saving, sending once, withdrawing.

An application is accepted only while the round is open and its window is open, by the
clock of the request (at exactly the closing time it is refused), or while staff have given
that one draft more time. A refused application keeps its draft, so nothing typed is lost.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import journeys
from app.config import Settings
from app.journeys import Answers, Journey, JourneyDraft
from app.models import (
    Application,
    ApplicationStatus,
    Decision,
    Role,
    Round,
    RoundExtension,
    RoundQuestion,
    RoundStatus,
)
from app.security import token_hash
from app.services import audit, rounds_emails
from app.services.calls_questions import answer_words, step_name
from app.services.identity import Identity
from app.services.rounds_forms import (
    ABOUT_YOU,
    ADJUSTMENTS,
    CONSENT,
    DECLARATION,
    RoundStep,
    steps_for,
)
from app.windows import WindowState

REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
WHAT_HAPPENS_NEXT = (
    "After the closing date, a small team reads every application. They do not see your "
    "name, your age or how to contact you. We will email you to tell you what we decided. "
    "Everyone who applies gets an answer."
)


class ClosedError(Exception):
    """The round is not taking applications (closed, not open yet, or a draft)."""


class NotAnsweredError(Exception):
    def __init__(self, step: str) -> None:
        self.step = step


class WithdrawnError(Exception):
    """The application was withdrawn, or has a decision already."""


@dataclass
class RoundJourney:
    round: Round
    questions: list[RoundQuestion]
    steps: list[RoundStep]

    @property
    def journey(self) -> Journey:
        return Journey(name=journey_name(self.round), steps=tuple(s.step for s in self.steps))

    def question_for(self, step: str) -> RoundQuestion | None:
        return next((s.question for s in self.steps if s.step.name == step), None)


def journey_name(round_: Round) -> str:
    return f"round:{round_.id}"


# Who may do what (named predicates, for routes and templates alike).


def may_build(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN)


def may_review(identity: Identity) -> bool:
    return identity.has_role(Role.ADMIN) or identity.has_role(Role.REVIEWER)


def questions_of(db: Session, round_: Round) -> list[RoundQuestion]:
    query = select(RoundQuestion).where(RoundQuestion.round_id == round_.id)
    return list(db.exec(query.order_by(col(RoundQuestion.number))))


def load(db: Session, round_: Round) -> RoundJourney:
    questions = questions_of(db, round_)
    return RoundJourney(round_, questions, steps_for(round_, questions))


def find_round(db: Session, slug: str, viewer: Identity) -> RoundJourney | None:
    """A round people can see (a draft only for admins), with its questions."""
    if not slug or len(slug) > 80:
        return None
    round_ = db.exec(select(Round).where(Round.slug == slug)).first()
    if round_ is None or (round_.status == RoundStatus.DRAFT and not may_build(viewer)):
        return None
    return load(db, round_)


def extension_for(db: Session, draft: JourneyDraft | None) -> RoundExtension | None:
    if draft is None or draft.id is None:
        return None
    return db.exec(select(RoundExtension).where(RoundExtension.draft_id == draft.id)).first()


def accepts(round_: Round, now: datetime, extension: RoundExtension | None = None) -> bool:
    if round_.status != RoundStatus.OPEN and not (
        extension and round_.status == RoundStatus.CLOSED
    ):
        return False
    if round_.window.is_open(now):
        return True
    return extension is not None and now < extension.until


@dataclass
class Timing:
    """Where a round stands, in words: "Closes in 3 days", "Closes on Friday 5 February…"."""

    state: WindowState
    accepting: bool
    words: str
    closes: str
    extended_until: datetime | None = None


def timing(
    round_: Round, now: datetime, tz: str, extension: RoundExtension | None = None
) -> Timing:
    window = round_.window
    return Timing(
        state=window.state(now),
        accepting=accepts(round_, now, extension),
        words=window.words(now, tz),
        closes=window.closes_words(tz).replace("Closes on", "Applications close on"),
        extended_until=extension.until if extension and now < extension.until else None,
    )


def refusal(round_: Round, now: datetime, tz: str) -> str:
    kept = "We could not send your application. We have kept your answers for you below."
    state = round_.window.state(now)
    if round_.status == RoundStatus.DRAFT:
        return f"Sorry, this round is not taking applications. {kept}"
    if state == WindowState.NOT_YET:
        return f"Sorry, applications are not open yet. {round_.window.opens_words(now, tz)}. {kept}"
    closed = round_.window.closed_words(tz)  # "Closed on Friday 5 February at 11:59pm"
    return f"Sorry, applications {closed[:1].lower()}{closed[1:]}. {kept}"


# --- drafts -------------------------------------------------------------------------------


def draft(db: Session, rj: RoundJourney, owner_key: str) -> JourneyDraft | None:
    return journeys.find(db, journey_name(rj.round), owner_key)


@dataclass
class AnswerRow:
    step: str
    label: str
    words: str


def answer_rows(rj: RoundJourney, answers: Answers) -> list[AnswerRow]:
    rows = [
        AnswerRow(step_name(q), q.text, answer_words(q, answers.get(step_name(q))))
        for q in rj.questions
    ]
    adjustments = answers.get(ADJUSTMENTS) or {}
    rows.append(
        AnswerRow(ADJUSTMENTS, rj.round.adjustments_question, str(adjustments.get("answer") or ""))
    )
    about = answers.get(ABOUT_YOU) or {}
    rows.append(AnswerRow(ABOUT_YOU, "Your name", str(about.get("name") or "")))
    rows.append(AnswerRow(ABOUT_YOU, "Email address", str(about.get("email") or "")))
    rows.append(AnswerRow(ABOUT_YOU, "Age", str(about.get("age") or "")))
    return rows


def send_resume_link(
    db: Session, settings: Settings, rj: RoundJourney, row: JourneyDraft, email: str, now: datetime
) -> None:
    token = journeys.issue_resume_link(db, row, now)
    rounds_emails.queue_resume_link(db, settings, rj.round, token, email, row.participant_id, now)


# --- sending ------------------------------------------------------------------------------


def manage_token(settings: Settings, submit_token: str) -> str:
    """The applicant's own link to their application, worked out from the token their browser
    already holds (only its hash is stored)."""
    key = settings.secret_key.encode()
    return hmac.new(key, b"application|" + submit_token.encode(), "sha256").hexdigest()


def by_submit_token(db: Session, token: str) -> Application | None:
    if not token or len(token) > 100:
        return None
    query = select(Application).where(Application.submit_token_hash == token_hash(token))
    return db.exec(query).first()


def by_manage_token(db: Session, token: str) -> Application | None:
    if not token or len(token) > 100:
        return None
    query = select(Application).where(Application.manage_token_hash == token_hash(token))
    return db.exec(query).first()


def send(
    db: Session,
    settings: Settings,
    rj: RoundJourney,
    row: JourneyDraft | None,
    token: str,
    now: datetime,
    identity: Identity,
) -> tuple[Application, bool]:
    """Send once: (application, sent_now). The same token again finds the same application.

    Raises ClosedError after the closing time (the draft stays), NotAnsweredError when an
    answer is missing, and ValueError for a token that isn't this draft's.
    """
    existing = by_submit_token(db, token)
    if existing is not None and existing.round_id == rj.round.id:
        return existing, False
    if not accepts(rj.round, now, extension_for(db, row)):
        raise ClosedError
    answers = journeys.answers_of(row)
    missing = rj.journey.first_unanswered(answers)
    if missing is not None or row is None:
        raise NotAnsweredError(missing or rj.journey.names[0])
    if not secrets.compare_digest(token.encode(), row.submit_token.encode()):
        raise ValueError("not this draft's token")

    def create() -> Application:
        return _write(db, settings, rj, answers, token, now, identity)

    for attempt in range(5):
        try:
            found = journeys.submit_once(db, token, lambda t: by_submit_token(db, t), create)
            break
        except IntegrityError:
            # Another applicant took the same number or reference at the same moment.
            if attempt == 4:
                raise
    application, made = found
    if made:
        journeys.discard(db, row)
    return application, made


def _write(
    db: Session,
    settings: Settings,
    rj: RoundJourney,
    answers: Answers,
    token: str,
    now: datetime,
    identity: Identity,
) -> Application:
    about = rj.journey.validated(answers)[ABOUT_YOU]
    participant = identity.participant
    application = Application(
        round_id=rj.round.id or 0,
        number=_next_number(db, rj.round),
        reference=_new_reference(db),
        submit_token_hash=token_hash(token),
        manage_token_hash=token_hash(manage_token(settings, token)),
        participant_id=participant.id if participant else None,
        name=about.name,
        email=about.email,
        age=about.age,
        answers=[
            {
                "number": q.number,
                "question": q.text,
                "answer": answer_words(q, answers.get(step_name(q))),
                "identifying": q.identifying,
            }
            for q in rj.questions
        ],
        adjustments=str((answers.get(ADJUSTMENTS) or {}).get("answer") or ""),
        declaration=True,
        consent=True,
        consent_wording=f"{DECLARATION}\n{CONSENT}",
        submitted_at=now,
    )
    db.add(application)
    db.flush()
    audit.record(
        db, identity, "round.application_sent", record_type="application", record_id=application.id
    )
    rounds_emails.queue_receipt(
        db, settings, rj.round, application, manage_token(settings, token), WHAT_HAPPENS_NEXT, now
    )
    return application


def _next_number(db: Session, round_: Round) -> int:
    """A random five-digit number, free in this round: it says nothing about who applied or
    when (a number in order would hint at who sent theirs on the last night)."""
    while True:
        number = 10_000 + secrets.randbelow(90_000)
        taken = db.exec(
            select(Application.id).where(
                Application.round_id == round_.id, Application.number == number
            )
        )
        if taken.first() is None:
            return number


def _new_reference(db: Session) -> str:
    while True:
        code = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        reference = f"HRD-{code[:4]}-{code[4:]}"
        taken = db.exec(select(Application.id).where(Application.reference == reference))
        if taken.first() is None:
            return reference


# --- the applicant's own view ----------------------------------------------------------------


def decision_of(db: Session, application: Application) -> Decision | None:
    return db.exec(select(Decision).where(Decision.application_id == application.id)).first()


def withdraw(db: Session, application: Application, now: datetime, identity: Identity) -> None:
    if application.status == ApplicationStatus.WITHDRAWN:
        return
    if decision_of(db, application) is not None:
        raise WithdrawnError
    application.status = ApplicationStatus.WITHDRAWN
    application.withdrawn_at = now
    db.add(application)
    db.flush()
    audit.record(
        db,
        identity,
        "round.application_withdrawn",
        record_type="application",
        record_id=application.id,
    )


def retention_date(round_: Round, decided_at: datetime) -> datetime:
    return decided_at + timedelta(days=max(round_.keep_days, 0))


def outcome_words(round_: Round | None, decision: Decision | None, application: Application) -> str:
    if round_ is None or decision is None:
        return ""
    return rounds_emails.outcome_text(round_, decision.outcome, application.name)
