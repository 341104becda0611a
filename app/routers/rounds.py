"""Applying to join a group: the start page, one question a page, save and come back, check
your answers, the declaration, send; then the applicant's own page (see, withdraw, outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app import journey_pages, routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState
from app.htmx import redirect
from app.journey_pages import JourneyVisit
from app.journeys import Answers, Journey, JourneyDraft
from app.models import Application, Round
from app.services import rounds
from app.services.calls_questions import limit, options
from app.services.rounds import RoundJourney
from app.services.rounds_forms import (
    ABOUT_YOU,
    ADJUSTMENTS_MAX,
    CONSENT,
    DECLARATION,
    DeclarationForm,
    check_declaration,
)
from app.templating import render

router = routing.router()


@dataclass
class Visit(JourneyVisit):
    rj: RoundJourney

    noun = "round"
    steps_at = "apply"
    about_you = ABOUT_YOU
    send_form = DeclarationForm
    send_button = "Send my application"
    closed_error = rounds.ClosedError
    not_answered_error = rounds.NotAnsweredError

    @property
    def journey(self) -> Journey:
        return self.rj.journey

    @property
    def subject(self) -> Round:
        return self.rj.round

    @property
    def home(self) -> str:
        return f"/rounds/{self.rj.round.slug}"

    def timing(self, draft: JourneyDraft | None = None) -> rounds.Timing:
        extension = rounds.extension_for(self.db, draft)
        return rounds.timing(self.rj.round, self.now, self.settings.timezone, extension)

    def step_context(self, step: str) -> dict[str, Any]:
        question = self.rj.question_for(step)
        return {
            "step": step,
            "question": question,
            "words": question.text if question else self.journey.step(step).title,  # type: ignore[union-attr]
            "options": options(question) if question else [],
            "limit": limit(question) if question else ADJUSTMENTS_MAX,
        }

    def check_context(self, answers: Answers) -> dict[str, Any]:
        return {"rows": rounds.answer_rows(self.rj, answers)}

    def send_context(self) -> dict[str, Any]:
        return {"declaration": DECLARATION, "consent": CONSENT}

    def ready_to_send(self, form: FormState[Any], token: str) -> bool:
        done = rounds.by_submit_token(self.db, token)
        if done is not None and done.round_id == self.rj.round.id:
            return True  # sent already: sending again finds the same application
        check_declaration(form)
        return form.ok

    def submit(self, draft: JourneyDraft | None, form: FormState[Any], token: str) -> None:
        rounds.send(self.db, self.settings, self.rj, draft, token, self.now, self.who)

    def refusal(self) -> str:
        return rounds.refusal(self.rj.round, self.now, self.settings.timezone)

    def send_resume_link(self, draft: JourneyDraft, email: str) -> None:
        rounds.send_resume_link(self.db, self.settings, self.rj, draft, email, self.now)


def visit(
    request: Request, slug: str, db: SessionDep, settings: SettingsDep, now: NowDep, who: Anyone
) -> Visit:
    found = rounds.find_round(db, slug, who)
    if found is None:
        raise HTTPException(status_code=404)
    return Visit(request, db, settings, now, who, found)


RoundVisit = Annotated[Visit, Depends(visit)]


@router.get("/rounds/{slug}", response_class=HTMLResponse)
def round_page(v: RoundVisit) -> HTMLResponse:
    row = v.draft()
    context = {
        "round": v.rj.round,
        "timing": v.timing(row),
        "draft": row,
        "questions": [q.text for q in v.rj.questions],
        "first": v.step_url(v.journey.names[0]),
        "carry_on": v.url("/check"),
        "may_review": rounds.may_review(v.who),
    }
    return render(v.request, "rounds/start.html", context)


# --- one question a page, check your answers, send (app/journey_pages.py) ---------------


@router.get("/rounds/{slug}/apply/{step}", response_class=HTMLResponse)
def question_page(v: RoundVisit, step: str) -> Response:
    return journey_pages.question_page(v, step)


@router.post("/rounds/{slug}/apply/{step}", response_class=HTMLResponse)
def answer_question(v: RoundVisit, step: str, data: FormDataDep) -> Response:
    return journey_pages.answer_question(v, step, data)


@router.get("/rounds/{slug}/check", response_class=HTMLResponse)
def check_answers(v: RoundVisit) -> Response:
    return journey_pages.check_answers(v)


@router.get("/rounds/{slug}/send", response_class=HTMLResponse)
def before_you_send(v: RoundVisit) -> Response:
    return journey_pages.before_you_send(v)


@router.post("/rounds/{slug}/send", response_class=HTMLResponse)
def send_application(v: RoundVisit, data: FormDataDep) -> Response:
    return journey_pages.send(v, data)


@router.get("/rounds/{slug}/done", response_class=HTMLResponse)
def sent(v: RoundVisit, token: str = "") -> Response:
    application = rounds.by_submit_token(v.db, token)
    if application is None or application.round_id != v.rj.round.id:
        return RedirectResponse(v.url(), status_code=303)
    context = {
        "round": v.rj.round,
        "application": application,
        "what_next": rounds.WHAT_HAPPENS_NEXT,
        "manage_url": f"/applications/{rounds.manage_token(v.settings, token)}",
    }
    return render(v.request, "rounds/done.html", context)


# --- save and come back later --------------------------------------------------------------


@router.get("/rounds/{slug}/save", response_class=HTMLResponse)
def save_page(v: RoundVisit) -> Response:
    return journey_pages.save_page(v)


@router.post("/rounds/{slug}/save", response_class=HTMLResponse)
def email_save_link(v: RoundVisit, data: FormDataDep) -> Response:
    return journey_pages.email_save_link(v, data)


@router.get("/rounds/{slug}/saved", response_class=HTMLResponse)
def saved(v: RoundVisit) -> Response:
    return journey_pages.saved(v)


@router.get("/rounds/{slug}/resume", response_class=HTMLResponse)
def resume_page(v: RoundVisit, token: str = "") -> Response:
    return journey_pages.resume_page(v, token)


@router.post("/rounds/{slug}/resume", response_class=HTMLResponse)
def use_resume_link(v: RoundVisit, data: FormDataDep) -> Response:
    return journey_pages.use_resume_link(v, data)


# --- the applicant's own page ------------------------------------------------------------------


def own_application(token: str, db: SessionDep, who: Anyone) -> Application:
    application = rounds.by_manage_token(db, token)
    if application is None:
        raise HTTPException(status_code=404)
    return application


OwnApplication = Annotated[Application, Depends(own_application)]


def _application_page(
    request: Request, db: Session, application: Application, token: str, problem: str = ""
) -> HTMLResponse:
    round_ = db.get(Round, application.round_id)
    decision = rounds.decision_of(db, application)
    told = decision is not None and decision.emailed_at is not None
    context = {
        "round": round_,
        "application": application,
        "outcome": decision.outcome if told and decision else None,
        "outcome_text": rounds.outcome_words(round_, decision, application) if told else "",
        "decided": decision is not None,
        "token": token,
        "problem": problem,
    }
    return render(request, "rounds/application.html", context)


@router.get("/applications/{token}", response_class=HTMLResponse)
def application_page(
    request: Request, application: OwnApplication, db: SessionDep, token: str
) -> HTMLResponse:
    return _application_page(request, db, application, token)


@router.post("/applications/{token}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    application: OwnApplication,
    db: SessionDep,
    now: NowDep,
    who: Anyone,
    token: str,
) -> Response:
    try:
        rounds.withdraw(db, application, now, who)
    except rounds.WithdrawnError:
        problem = "We have already decided about your application, so it can't be taken back now."
        return _application_page(request, db, application, token, problem)
    return redirect(request, f"/applications/{token}")
