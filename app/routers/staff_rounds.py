"""Rounds for staff: admins build and run them (closing time, late drafts, extensions, outcome
emails); reviewers score applications blind; admins decide."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from app import flash, routing
from app.config import Settings
from app.deps import Admin, FormDataDep, NowDep, SessionDep, SettingsDep, allow
from app.forms import FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Group, Outcome, Round
from app.permissions import REVIEWER
from app.services import rounds, rounds_export, rounds_review, rounds_staff
from app.services.identity import Identity
from app.services.rounds_review import DecisionForm, ScoreForm
from app.services.rounds_staff import ClosingForm, RoundForm, RoundQuestionForm
from app.templating import render

router = routing.router()
Reviewer = Annotated[Identity, allow(REVIEWER)]
KINDS = [(k.value, k.label) for k in rounds_staff.QuestionKind]


def reviewable_round(round_id: int, db: SessionDep, who: Reviewer) -> Round:
    round_ = rounds_staff.get_round(db, round_id)
    if round_ is None or not rounds.may_review(who):
        raise HTTPException(status_code=404)
    return round_


def buildable_round(round_id: int, db: SessionDep, who: Admin) -> Round:
    round_ = rounds_staff.get_round(db, round_id)
    if round_ is None or not rounds.may_build(who):
        raise HTTPException(status_code=404)
    return round_


ReviewableRound = Annotated[Round, Depends(reviewable_round)]
BuildableRound = Annotated[Round, Depends(buildable_round)]


@router.get("/staff/rounds", response_class=HTMLResponse)
def round_list(request: Request, db: SessionDep, who: Reviewer) -> HTMLResponse:
    found = rounds_staff.rounds_for(db)
    context = {"rows": found, "may_build": rounds.may_build(who)}
    return render(request, "staff/rounds/list.html", context)


# --- building and running a round -------------------------------------------------------------


@router.get("/staff/rounds/new", response_class=HTMLResponse)
def new_round(request: Request, who: Admin) -> HTMLResponse:
    form = empty_form(RoundForm, group="Experts by experience group", min_age="16", max_age="25")
    return render(request, "staff/rounds/form.html", {"form": form})


@router.post("/staff/rounds/new", response_class=HTMLResponse)
def create_round(
    request: Request, data: FormDataDep, db: SessionDep, settings: SettingsDep, who: Admin
) -> Response:
    form = parse_form(RoundForm, data)
    times = rounds_staff.check_round_form(form, settings.tz)
    if not form.ok or form.data is None:
        return render(request, "staff/rounds/form.html", {"form": form})
    round_ = rounds_staff.create_round(db, form.data, times, who)
    return redirect(request, f"/staff/rounds/{round_.id}")


def _detail(
    request: Request,
    db: Session,
    settings: Settings,
    round_: Round,
    *,
    closing: FormState[Any] | None = None,
    question: FormState[Any] | None = None,
    template_errors: dict[str, str] | None = None,
    notice: str = "",
) -> HTMLResponse:
    tz = settings.tz
    values = rounds_staff.round_values(round_, db.get(Group, round_.group_id), tz)
    context = {
        "round": round_,
        "questions": rounds.questions_of(db, round_),
        "applications": rounds_staff.application_count(db, round_),
        "late": rounds_staff.late_drafts(db, round_),
        "progress": rounds_review.progress(db, round_),
        "next_status": rounds_staff.NEXT_STATUS.get(round_.status),
        "closing": closing or empty_form(ClosingForm, closes_at=values["closes_at"]),
        "question": question or empty_form(RoundQuestionForm, kind="long_text"),
        "kinds": KINDS,
        "outcomes": list(Outcome),
        "templates": round_.templates,
        "template_errors": template_errors or {},
        "notice": notice,
    }
    return render(request, "staff/rounds/detail.html", context)


@router.get("/staff/rounds/{round_id}", response_class=HTMLResponse)
def round_detail(
    request: Request, round_: BuildableRound, db: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    return _detail(request, db, settings, round_)


@router.post("/staff/rounds/{round_id}/status", response_class=HTMLResponse)
def move_on(
    request: Request, round_: BuildableRound, db: SessionDep, now: NowDep, who: Admin
) -> Response:
    rounds_staff.move_on(db, round_, now, who)
    return redirect(request, f"/staff/rounds/{round_.id}")


@router.post("/staff/rounds/{round_id}/closing", response_class=HTMLResponse)
def change_closing(
    request: Request,
    round_: BuildableRound,
    data: FormDataDep,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Admin,
) -> Response:
    form = parse_form(ClosingForm, data)
    emailed = rounds_staff.change_closing(db, settings, round_, form, now, who)
    if not form.ok:
        return _detail(request, db, settings, round_, closing=form)
    return flash.redirect(
        request,
        f"/staff/rounds/{round_.id}",
        f"The closing time is changed. {emailed} people with unsent applications were emailed.",
    )


@router.post("/staff/rounds/{round_id}/questions", response_class=HTMLResponse)
def add_question(
    request: Request,
    round_: BuildableRound,
    data: FormDataDep,
    db: SessionDep,
    settings: SettingsDep,
    who: Admin,
) -> Response:
    form = parse_form(RoundQuestionForm, data)
    rounds_staff.check_question_form(form)
    if not form.ok or form.data is None:
        return _detail(request, db, settings, round_, question=form)
    rounds_staff.add_question(db, round_, form.data, who)
    return redirect(request, f"/staff/rounds/{round_.id}")


@router.post("/staff/rounds/{round_id}/extension", response_class=HTMLResponse)
def grant_extension(
    request: Request,
    round_: BuildableRound,
    data: FormDataDep,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Admin,
) -> Response:
    raw = str(data.get("draft_id") or "")
    draft_id = int(raw) if raw.isdigit() and len(raw) < 10 else 0
    granted = rounds_staff.grant_extension(db, settings, round_, draft_id, now, who)
    return flash.redirect(
        request,
        f"/staff/rounds/{round_.id}",
        "We gave them more time and emailed them a link."
        if granted
        else "That draft has no email address, so we could not give more time.",
    )


@router.post("/staff/rounds/{round_id}/templates", response_class=HTMLResponse)
def save_templates(
    request: Request,
    round_: BuildableRound,
    data: FormDataDep,
    db: SessionDep,
    settings: SettingsDep,
    who: Admin,
) -> Response:
    errors = rounds_review.save_templates(db, round_, data, who)
    if errors:
        return _detail(request, db, settings, round_, template_errors=errors)
    return flash.redirect(request, f"/staff/rounds/{round_.id}", "The outcome messages are saved.")


@router.post("/staff/rounds/{round_id}/outcomes", response_class=HTMLResponse)
def send_outcomes(
    request: Request,
    round_: BuildableRound,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Admin,
) -> Response:
    sent = rounds_review.send_outcomes(db, settings, round_, now, who)
    return flash.redirect(
        request, f"/staff/rounds/{round_.id}", f"{sent} outcome emails are on their way."
    )


@router.get("/staff/rounds/{round_id}/applications.csv")
@routing.writes  # a download that writes its audit entry
def export_applications(round_: BuildableRound, db: SessionDep, who: Admin) -> Response:
    return Response(
        rounds_export.applications_csv(db, round_, who),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{round_.slug}-applications.csv"'},
    )


# --- blind review -------------------------------------------------------------------------------


@router.get("/staff/rounds/{round_id}/review", response_class=HTMLResponse)
def review_list(
    request: Request, round_: ReviewableRound, db: SessionDep, who: Reviewer, page: str = "1"
) -> HTMLResponse:
    number = int(page) if page.isdigit() and len(page) < 7 else 1
    found, pages = rounds_review.rows(db, round_, who, number)
    context = {
        "round": round_,
        "rows": found,
        "page": min(max(number, 1), pages),
        "pages": pages,
        "min_reviews": rounds_review.MIN_REVIEWS,
        "may_build": rounds.may_build(who),
    }
    return render(request, "staff/rounds/review_list.html", context)


def _application(
    request: Request,
    db: Session,
    round_: Round,
    number: int,
    who: Identity,
    score_form: FormState[Any] | None = None,
    decision_form: FormState[Any] | None = None,
) -> HTMLResponse:
    application = rounds_review.by_number(db, round_, number)
    if application is None:
        raise HTTPException(status_code=404)
    reviews = rounds_review.reviews_of(db, application)
    mine = rounds_review.my_review(reviews, who)
    decision = rounds.decision_of(db, application)
    if score_form is None:
        score_form = empty_form(ScoreForm, comment=mine.comment if mine else "")
        for i, _c in enumerate(round_.criteria):
            score_form.values[f"score-{i}"] = (
                str(mine.scores[i]) if mine and i < len(mine.scores) else ""
            )
    if decision_form is None:
        decision_form = empty_form(
            DecisionForm,
            outcome=decision.outcome.value if decision else "",
            reason=decision.reason if decision else "",
        )
    context = {
        "round": round_,
        "blind": rounds_review.blind(application),
        "withdrawn": application.status.value == "withdrawn",
        "reviews": rounds_review.visible_reviews(reviews, who),
        "review_count": len(reviews),
        "flagged": rounds_review.flagged(round_, [r.scores for r in reviews]),
        "scored": mine is not None,
        "score_form": score_form,
        "score_options": [(s, f"{s} out of 4") for s in rounds_review.SCORES],
        "decision": decision,
        "decision_form": decision_form,
        "outcomes": [(o.value, o.label) for o in Outcome],
        "may_build": rounds.may_build(who),
        "action": f"/staff/rounds/{round_.id}/review/{number}",
    }
    return render(request, "staff/rounds/application.html", context)


@router.get("/staff/rounds/{round_id}/review/{number}", response_class=HTMLResponse)
def review_application(
    request: Request, round_: ReviewableRound, number: int, db: SessionDep, who: Reviewer
) -> HTMLResponse:
    return _application(request, db, round_, number, who)


@router.post("/staff/rounds/{round_id}/review/{number}", response_class=HTMLResponse)
def score_application(
    request: Request,
    round_: ReviewableRound,
    number: int,
    data: FormDataDep,
    db: SessionDep,
    now: NowDep,
    who: Reviewer,
) -> Response:
    application = rounds_review.by_number(db, round_, number)
    if application is None:
        raise HTTPException(status_code=404)
    form = parse_form(ScoreForm, data)
    scores = rounds_review.parse_scores(round_, data, form)
    if not form.ok or form.data is None:
        return _application(request, db, round_, number, who, score_form=form)
    rounds_review.score(db, application, scores, form.data.comment or "", who, now)
    return redirect(request, f"/staff/rounds/{round_.id}/review/{number}")


@router.post("/staff/rounds/{round_id}/review/{number}/decision", response_class=HTMLResponse)
def decide(
    request: Request,
    round_: BuildableRound,
    number: int,
    data: FormDataDep,
    db: SessionDep,
    now: NowDep,
    who: Admin,
) -> Response:
    application = rounds_review.by_number(db, round_, number)
    if application is None:
        raise HTTPException(status_code=404)
    form = parse_form(DecisionForm, data)
    if not form.ok or form.data is None:
        return _application(request, db, round_, number, who, decision_form=form)
    rounds_review.decide(db, application, form.data, who, now)
    return redirect(request, f"/staff/rounds/{round_.id}/review")
