"""The round's applications as CSV for admins: contact details, scores, decisions. Audited."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session, col, select

from app.models import Application, ApplicationStatus, Decision, Outcome, Review, Round
from app.services import audit
from app.services.calls_staff import csv_cell
from app.services.identity import Identity
from app.services.rounds_review import flagged


def applications_csv(db: Session, round_: Round, actor: Identity) -> str:
    """One row per application; three queries of columns (no ORM objects) whatever the size."""
    columns = (
        Application.id,
        Application.number,
        Application.reference,
        Application.submitted_at,
        Application.name,
        Application.email,
        Application.age,
        Application.status,
        Application.adjustments,
    )
    rows = db.exec(
        select(*columns)  # type: ignore[call-overload]  # nine columns: more than its overloads
        .where(Application.round_id == round_.id)
        .order_by(col(Application.submitted_at), col(Application.id))
    ).all()
    in_round = col(Application.round_id) == round_.id
    reviews: dict[int, list[list[int]]] = {}
    found = db.exec(
        select(Review.application_id, Review.scores)
        .join(Application, col(Application.id) == col(Review.application_id))
        .where(in_round)
    )
    for application_id, scores in found:
        reviews.setdefault(application_id, []).append(list(scores))
    decisions = {
        d[0]: d[1:]
        for d in db.exec(
            select(Decision.application_id, Decision.outcome, Decision.reason, Decision.emailed_at)
            .join(Application, col(Application.id) == col(Decision.application_id))
            .where(in_round)
        )
    }
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    head = ["Applicant", "Reference", "Sent", "Name", "Email", "Age", "Status", "Adjustments"]
    head += ["Reviews", *(f"Mean: {c}" for c in round_.criteria), "Reviewers disagree"]
    head += ["Decision", "Reason", "Told"]
    writer.writerow([csv_cell(h) for h in head])
    criteria = range(len(round_.criteria))
    for app_id, number, reference, sent, name, email, age, status, adjustments in rows:
        scores = reviews.get(app_id or 0, [])
        told = decisions.get(app_id or 0)
        means = [_mean([s[i] for s in scores if i < len(s)]) for i in criteria]
        line: list[object] = [number, reference, sent.isoformat(), name, email, age]
        line += [ApplicationStatus(status).value, adjustments, len(scores), *means]
        line += ["yes" if flagged(round_, scores) else "no"]
        line += [
            Outcome(told[0]).label if told else "",
            told[1] if told else "",
            "yes" if told and told[2] else "no",
        ]
        writer.writerow([csv_cell(v) for v in line])
    audit.record(
        db, actor, "round.exported", record_type="round", record_id=round_.id, rows=len(rows)
    )
    return buffer.getvalue()


def _mean(marks: list[int]) -> str:
    return f"{sum(marks) / len(marks):.1f}" if marks else ""
