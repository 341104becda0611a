"""Applying to join a group: the start page, one question a page, save and come back, check
your answers, the declaration, send; then the applicant's own page (see, withdraw, outcome)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app import journeys, routing
from app.config import Settings
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState, empty_form, parse_form
from app.htmx import redirect
from app.journeys import JourneyDraft
from app.models import Application, Round
from app.ratelimit import client_key, email_key
from app.security import browser_token
from app.services import rounds
from app.services.calls_questions import SaveLinkForm, limit, options
from app.services.identity import Identity
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
class Visit:
    request: Request
    rj: RoundJourney
    db: Session
    settings: Settings
    now: datetime
    who: Identity

    @property
    def owner(self) -> str:
        return rounds.owner(self.settings, browser_token(self.request), self.who)

    @property
    def change(self) -> bool:
        return bool(self.request.query_params.get("change"))

    def draft(self) -> JourneyDraft | None:
        return rounds.draft(self.db, self.rj, self.owner)

    def url(self, path: str = "", *, change: bool = False) -> str:
        return f"/rounds/{self.rj.round.slug}{path}{'?change=1' if change else ''}"

    def timing(self, row: JourneyDraft | None = None) -> rounds.Timing:
        extension = rounds.extension_for(self.db, row)
        return rounds.timing(self.rj.round, self.now, self.settings.timezone, extension)


def visit(
    request: Request, slug: str, db: SessionDep, settings: SettingsDep, now: NowDep, who: Anyone
) -> Visit:
    found = rounds.find_round(db, slug, who)
    if found is None:
        raise HTTPException(status_code=404)
    return Visit(request, found, db, settings, now, who)


RoundVisit = Annotated[Visit, Depends(visit)]


@router.get("/rounds/{slug}", response_class=HTMLResponse)
def round_page(v: RoundVisit) -> HTMLResponse:
    row = v.draft()
    context = {
        "round": v.rj.round,
        "timing": v.timing(row),
        "draft": row,
        "questions": [q.text for q in v.rj.questions],
        "first": v.url(f"/apply/{v.rj.journey.names[0]}"),
        "carry_on": v.url("/check"),
        "may_review": rounds.may_review(v.who),
    }
    return render(v.request, "rounds/start.html", context)


def _step_page(v: Visit, step: str, form: FormState[Any]) -> HTMLResponse:
    question = v.rj.question_for(step)
    previous = v.rj.journey.previous_name(step)
    back = v.url("/check") if v.change else v.url(f"/apply/{previous}" if previous else "")
    context = {
        "round": v.rj.round,
        "step": step,
        "question": question,
        "words": question.text if question else v.rj.journey.step(step).title,  # type: ignore[union-attr]
        "position": v.rj.journey.position(step),
        "form": form,
        "options": options(question) if question else [],
        "limit": limit(question) if question else ADJUSTMENTS_MAX,
        "back_url": back,
        "action": v.url(f"/apply/{step}", change=v.change),
    }
    return render(v.request, "rounds/step.html", context)


@router.get("/rounds/{slug}/apply/{step}", response_class=HTMLResponse)
def question_page(v: RoundVisit, step: str) -> Response:
    found = v.rj.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    row = v.draft()
    if not v.timing(row).accepting:
        return RedirectResponse(v.url(), status_code=303)
    return _step_page(v, step, v.rj.journey.form_for(found, journeys.answers_of(row)))


@router.post("/rounds/{slug}/apply/{step}", response_class=HTMLResponse)
def answer_question(v: RoundVisit, step: str, data: FormDataDep) -> Response:
    found = v.rj.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    row = v.draft()
    answers = journeys.answers_of(row)
    state = v.rj.journey.parse(found, data, answers)
    saving = data.get("action") == "save"
    if saving and journeys.nothing_typed(state):
        return redirect(v.request, v.url("/save"))
    if not state.ok:
        return _step_page(v, step, state)
    # Kept whatever the time: after the closing time the round page says so, answers kept.
    participant_id = v.who.participant.id if v.who.participant else None
    row = journeys.save(
        v.db, rounds.journey_name(v.rj.round), v.owner, step, state, v.now, participant_id
    )
    if not v.timing(row).accepting:
        return redirect(v.request, v.url())
    if saving:
        return redirect(v.request, v.url("/save"))
    answers[step] = dict(state.values)
    following = v.rj.journey.after(step, answers, change=v.change)
    if following == journeys.CHECK:
        return redirect(v.request, v.url("/check"))
    return redirect(v.request, v.url(f"/apply/{following}", change=v.change))


def _check_page(v: Visit, row: JourneyDraft | None, problem: str | None = None) -> HTMLResponse:
    answers = journeys.answers_of(row)
    context = {
        "round": v.rj.round,
        "rows": rounds.answer_rows(v.rj, answers),
        "timing": v.timing(row),
        "complete": v.rj.journey.first_unanswered(answers) is None,
        "problem": problem,
        "send_url": v.url("/send"),
    }
    return render(v.request, "rounds/check.html", context)


@router.get("/rounds/{slug}/check", response_class=HTMLResponse)
def check_answers(v: RoundVisit) -> Response:
    row = v.draft()
    if row is None:
        return RedirectResponse(v.url(), status_code=303)
    missing = v.rj.journey.first_unanswered(journeys.answers_of(row))
    if missing and v.timing(row).accepting:
        return RedirectResponse(v.url(f"/apply/{missing}"), status_code=303)
    return _check_page(v, row)


def _send_page(v: Visit, form: FormState[Any], problem: str | None = None) -> HTMLResponse:
    context = {
        "round": v.rj.round,
        "form": form,
        "problem": problem,
        "declaration": DECLARATION,
        "consent": CONSENT,
        "action": v.url("/send"),
        "back_url": v.url("/check"),
    }
    return render(v.request, "rounds/send.html", context)


@router.get("/rounds/{slug}/send", response_class=HTMLResponse)
def before_you_send(v: RoundVisit) -> Response:
    row = v.draft()
    missing = v.rj.journey.first_unanswered(journeys.answers_of(row))
    if row is None or missing or not v.timing(row).accepting:
        return RedirectResponse(v.url("/check"), status_code=303)
    return _send_page(v, empty_form(DeclarationForm, submit_token=row.submit_token))


@router.post("/rounds/{slug}/send", response_class=HTMLResponse)
def send_application(v: RoundVisit, data: FormDataDep) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, "round-send", client_key(v.request))
    state = parse_form(DeclarationForm, data)
    token = str(state.values.get("submit_token") or "")[:100]
    row = v.draft()
    done = rounds.by_submit_token(v.db, token)
    if done is None or done.round_id != v.rj.round.id:
        check_declaration(state)
        if not state.ok:
            return _send_page(v, state)
    try:
        rounds.send(v.db, v.settings, v.rj, row, token, v.now, v.who)
    except rounds.ClosedError:
        problem = rounds.refusal(v.rj.round, v.now, v.settings.timezone)
        return _check_page(v, row, problem)
    except rounds.NotAnsweredError as missing:
        return redirect(v.request, v.url(f"/apply/{missing.step}"))
    except ValueError:
        fresh = empty_form(DeclarationForm, submit_token=row.submit_token if row else "")
        problem = "Your answers changed since you opened this page. Check them and press "
        return _send_page(v, fresh, problem + "“Send my application” again.")
    return redirect(v.request, v.url("/done") + "?" + urlencode({"token": token}))


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


def _save_page(v: Visit, form: FormState[Any], has_draft: bool) -> HTMLResponse:
    context = {"round": v.rj.round, "form": form, "has_draft": has_draft, "action": v.url("/save")}
    return render(v.request, "rounds/save.html", context)


@router.get("/rounds/{slug}/save", response_class=HTMLResponse)
def save_page(v: RoundVisit) -> HTMLResponse:
    row = v.draft()
    about = journeys.answers_of(row).get(ABOUT_YOU) or {}
    return _save_page(v, empty_form(SaveLinkForm, email=about.get("email") or ""), bool(row))


@router.post("/rounds/{slug}/save", response_class=HTMLResponse)
def email_save_link(v: RoundVisit, data: FormDataDep) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, "round-save", client_key(v.request))
    row = v.draft()
    form = parse_form(SaveLinkForm, data)
    if not form.ok or form.data is None or row is None:
        return _save_page(v, form, row is not None)
    email = form.data.email
    if limits.hit(v.settings.sign_in_rate_per_email, "round-save-email", email_key(email)):
        rounds.send_resume_link(v.db, v.settings, v.rj, row, email, v.now)
    return redirect(v.request, v.url("/saved"))


@router.get("/rounds/{slug}/saved", response_class=HTMLResponse)
def saved(v: RoundVisit) -> HTMLResponse:
    return render(v.request, "rounds/saved.html", {"round": v.rj.round, "timing": v.timing()})


@router.get("/rounds/{slug}/resume", response_class=HTMLResponse)
def resume_page(v: RoundVisit, token: str = "") -> HTMLResponse:
    # A GET never uses the link: email scanners open links too. The button does.
    name = rounds.journey_name(v.rj.round)
    works = journeys.peek_resume_link(v.db, name, token, v.now) is not None
    context = {"round": v.rj.round, "token": token[:100], "works": works}
    return render(v.request, "rounds/resume.html", context)


@router.post("/rounds/{slug}/resume", response_class=HTMLResponse)
def use_resume_link(v: RoundVisit, data: FormDataDep) -> Response:
    token = data.get("token")
    participant_id = v.who.participant.id if v.who.participant else None
    name = rounds.journey_name(v.rj.round)
    row = (
        journeys.use_resume_link(v.db, name, token, v.owner, v.now, participant_id)
        if isinstance(token, str)
        else None
    )
    if row is None:
        context = {"round": v.rj.round, "token": "", "works": False}
        return render(v.request, "rounds/resume.html", context, status_code=400)
    missing = v.rj.journey.first_unanswered(journeys.answers_of(row))
    return redirect(v.request, v.url(f"/apply/{missing}" if missing else "/check"))


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
