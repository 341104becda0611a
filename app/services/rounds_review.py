"""Blind review: reviewers score applications they know only by a number, against the round's
criteria; two or more reviewers each; nobody sees others' scores before giving their own;
wide disagreements are flagged. Admins decide, with a reason, and every applicant is sent an
outcome from the round's editable templates, through the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.config import Settings
from app.forms import FormModel, FormState
from app.models import (
    Application,
    ApplicationStatus,
    Decision,
    Outcome,
    Review,
    Round,
)
from app.services import audit, rounds_emails
from app.services.identity import Identity

MIN_REVIEWS = 2
SCORES = ("0", "1", "2", "3", "4")


@dataclass
class BlindApplication:
    """What a reviewer may see: a number, and the answers not marked identifying.
    Never the name, email, age, reference or adjustments (those could say who it is)."""

    number: int
    answers: list[dict[str, Any]]


def blind(application: Application) -> BlindApplication:
    shown = [
        {"number": a.get("number"), "question": a.get("question"), "answer": a.get("answer")}
        for a in application.answers
        if not a.get("identifying")
    ]
    return BlindApplication(application.number, shown)


@dataclass
class Row:
    number: int
    reviews: int
    mine: bool
    flagged: bool
    withdrawn: bool
    outcome: Outcome | None


def flagged(round_: Round, reviews: list[list[int]]) -> bool:
    """Two reviewers further apart than the round allows on any one criterion."""
    for i in range(len(round_.criteria)):
        marks = [scores[i] for scores in reviews if i < len(scores)]
        if len(marks) >= 2 and max(marks) - min(marks) > round_.disagreement:
            return True
    return False


PAGE_SIZE = 50


def rows(db: Session, round_: Round, who: Identity, page: int = 1) -> tuple[list[Row], int]:
    """One page of the reviewer list, and how many pages: columns only (never the answers),
    three queries whatever the size of the round."""
    total = db.exec(
        select(func.count()).select_from(Application).where(Application.round_id == round_.id)
    ).one()
    pages = max(1, -(-int(total) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    applications = db.exec(
        select(Application.id, Application.number, Application.status)
        .where(Application.round_id == round_.id)
        .order_by(col(Application.number))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    ids = [a[0] for a in applications]
    by_app: dict[int, list[tuple[int | None, list[int]]]] = {}
    outcomes: dict[int, Outcome] = {}
    if ids:
        found = db.exec(
            select(Review.application_id, Review.reviewer_id, Review.scores).where(
                col(Review.application_id).in_(ids)
            )
        )
        for application_id, reviewer_id, scores in found:
            by_app.setdefault(application_id, []).append((reviewer_id, list(scores)))
        decided = select(Decision.application_id, Decision.outcome)
        for application_id, outcome in db.exec(
            decided.where(col(Decision.application_id).in_(ids))
        ):
            outcomes[application_id] = Outcome(outcome)
    me = who.staff.id if who.staff else None
    found_rows = []
    for row_id, number, status in applications:
        reviews = by_app.get(row_id or 0, [])
        scores = [s for _, s in reviews]
        mine = any(reviewer == me for reviewer, _ in reviews)
        found_rows.append(
            Row(
                number=number,
                reviews=len(reviews),
                mine=mine,
                flagged=flagged(round_, scores),
                withdrawn=status == ApplicationStatus.WITHDRAWN,
                outcome=outcomes.get(row_id or 0),
            )
        )
    return found_rows, pages


def by_number(db: Session, round_: Round, number: int) -> Application | None:
    if not 0 < number <= 2**31 - 1:
        return None
    return db.exec(
        select(Application).where(Application.round_id == round_.id, Application.number == number)
    ).first()


def reviews_of(db: Session, application: Application) -> list[Review]:
    return list(
        db.exec(
            select(Review)
            .where(Review.application_id == application.id)
            .order_by(col(Review.created_at))
        )
    )


def my_review(reviews: list[Review], who: Identity) -> Review | None:
    me = who.staff.id if who.staff else None
    return next((r for r in reviews if r.reviewer_id == me), None)


def visible_reviews(reviews: list[Review], who: Identity) -> list[Review]:
    """Others' scores only once this reviewer has given theirs (so nobody is led by them)."""
    return reviews if my_review(reviews, who) is not None else []


class ScoreForm(FormModel):
    comment: str | None = Field(default=None, max_length=2000)
    messages = {"comment": {"too_long": "The comment must be 2,000 characters or fewer"}}


def parse_scores(round_: Round, data: Any, state: FormState[ScoreForm]) -> list[int]:
    """One score from 0 to 4 per criterion (fields score-0, score-1 …)."""
    scores = []
    for i, _criterion in enumerate(round_.criteria):
        value = data.get(f"score-{i}")
        state.values[f"score-{i}"] = value if isinstance(value, str) and value in SCORES else ""
        if state.values[f"score-{i}"] == "":
            state.add_error(f"score-{i}", "Choose a score from 0 to 4")
        else:
            scores.append(int(value))
    return scores


def score(
    db: Session,
    application: Application,
    scores: list[int],
    comment: str,
    who: Identity,
    now: datetime,
) -> Review:
    """One review per reviewer per application: scoring again changes their own."""
    reviews = reviews_of(db, application)
    review = my_review(reviews, who) or Review(
        application_id=application.id or 0, reviewer_id=who.staff.id if who.staff else None
    )
    review.scores = scores
    review.comment = comment
    review.created_at = now
    db.add(review)
    db.flush()
    audit.record(db, who, "round.scored", record_type="application", record_id=application.id)
    return review


class DecisionForm(FormModel):
    outcome: Outcome
    reason: str = Field(max_length=2000)
    messages = {
        "outcome": {"missing": "Choose a decision", "invalid": "Choose a decision"},
        "reason": {
            "missing": "Give a reason, for the record",
            "too_long": "The reason must be 2,000 characters or fewer",
        },
    }


def decide(
    db: Session, application: Application, form: DecisionForm, who: Identity, now: datetime
) -> Decision:
    decision = db.exec(
        select(Decision).where(Decision.application_id == application.id)
    ).first() or Decision(application_id=application.id or 0, outcome=form.outcome, reason="")
    if decision.emailed_at is None:
        decision.outcome = form.outcome
    decision.reason = form.reason
    decision.decided_by = who.staff.id if who.staff else None
    decision.decided_at = now
    db.add(decision)
    db.flush()
    audit.record(db, who, "round.decided", record_type="application", record_id=application.id)
    return decision


@dataclass
class Progress:
    applications: int
    decided: int
    emailed: int

    @property
    def waiting(self) -> int:
        return self.applications - self.decided


def progress(db: Session, round_: Round) -> Progress:
    applications = db.exec(
        select(Application.id).where(
            Application.round_id == round_.id,
            Application.status == ApplicationStatus.SUBMITTED,
        )
    ).all()
    decisions = (
        db.exec(select(Decision).where(col(Decision.application_id).in_(applications))).all()
        if applications
        else []
    )
    return Progress(
        len(applications), len(decisions), sum(1 for d in decisions if d.emailed_at is not None)
    )


def send_outcomes(
    db: Session, settings: Settings, round_: Round, now: datetime, who: Identity
) -> int:
    """Queue an outcome email for every decided application not yet told (safe to press twice:
    each email has its own dedupe key, and `emailed_at` marks who has been told)."""
    pairs = db.exec(
        select(Application, Decision)
        .join(Decision, col(Decision.application_id) == col(Application.id))
        .where(
            Application.round_id == round_.id,
            Application.status == ApplicationStatus.SUBMITTED,
            col(Decision.emailed_at).is_(None),
        )
    ).all()
    for application, decision in pairs:
        rounds_emails.queue_outcome(db, settings, round_, application, decision.outcome, now)
        decision.emailed_at = now
        db.add(decision)
    db.flush()
    if pairs:
        audit.record(db, who, "round.outcomes_sent", record_type="round", record_id=round_.id)
    return len(pairs)


def save_templates(db: Session, round_: Round, data: Any, who: Identity) -> dict[str, str]:
    """Admins edit each outcome's words; an empty one goes back to the standard words."""
    templates: dict[str, str] = {}
    errors: dict[str, str] = {}
    for outcome in Outcome:
        value = data.get(f"template-{outcome.value}")
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > 3000:
            errors[f"template-{outcome.value}"] = "Each message must be 3,000 characters or fewer"
        templates[outcome.value] = text or rounds_emails.DEFAULT_TEMPLATES[outcome.value]
    if not errors:
        round_.templates = templates
        db.add(round_)
        db.flush()
        audit.record(db, who, "round.templates_changed", record_type="round", record_id=round_.id)
    return errors
