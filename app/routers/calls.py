"""Calls for everyone: read a call, answer it one question a page, save and come back, send."""

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
from app.ratelimit import client_key, email_key
from app.security import browser_token
from app.services import calls
from app.services.calls import CallJourney
from app.services.calls_questions import (
    ABOUT_YOU,
    SaveLinkForm,
    SendForm,
    has_young_version,
    limit,
    options,
    wording,
)
from app.services.identity import Identity
from app.templating import render

router = routing.router()


@dataclass
class Visit:
    """One visit to a published call: who, when, and where their draft is kept."""

    request: Request
    cj: CallJourney
    db: Session
    settings: Settings
    now: datetime
    who: Identity

    @property
    def owner(self) -> str:
        return calls.owner(self.settings, browser_token(self.request), self.who)

    @property
    def young(self) -> bool:
        return self.request.query_params.get("young") == "1"

    @property
    def change(self) -> bool:
        return bool(self.request.query_params.get("change"))

    def draft(self) -> JourneyDraft | None:
        return calls.draft(self.db, self.cj, self.owner)

    def answers(self) -> journeys.Answers:
        return journeys.answers_of(self.draft())

    def query(self, *, young: bool | None = None, change: bool = False) -> str:
        """Keeps the young person's words if they chose them (and says "changing an answer")."""
        young = self.young if young is None else young
        params = {k: "1" for k, on in (("young", young), ("change", change)) if on}
        return f"?{urlencode(params)}" if params else ""

    def url(self, path: str = "", *, young: bool | None = None, change: bool = False) -> str:
        return f"/calls/{self.cj.call.slug}{path}{self.query(young=young, change=change)}"

    @property
    def accepting(self) -> bool:
        return calls.accepts_answers(self.cj.call, self.now)

    def timing(self) -> calls.Timing:
        return calls.timing(self.cj.call, self.now, self.settings.timezone)


def visit(
    request: Request,
    slug: str,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
) -> Visit:
    found = calls.find_call(db, slug, who)
    if found is None:
        raise HTTPException(status_code=404)
    return Visit(request, found, db, settings, now, who)


CallVisit = Annotated[Visit, Depends(visit)]


@router.get("/calls/{slug}", response_class=HTMLResponse)
def call_page(v: CallVisit) -> HTMLResponse:
    cj = v.cj
    return render(
        v.request,
        "calls/start.html",
        {
            "call": cj.call,
            "timing": v.timing(),
            "draft": v.draft(),
            "young": v.young,
            "has_young": has_young_version(cj.questions),
            "questions": [wording(q, v.young)[0] for q in cj.questions],
            "first": v.url(f"/answer/{cj.journey.names[0]}"),
            "carry_on": v.url("/check"),
            "may_read": calls.may_read_responses(v.who, cj.call.programme_id),
        },
        fragments={"questions": "questions"},
    )


# --- one question a page -------------------------------------------------------------------


def _step_page(v: Visit, step: str, form: FormState[Any]) -> HTMLResponse:
    question = v.cj.question_for(step)
    previous = v.cj.journey.previous_name(step)
    back = v.url("/check") if v.change else v.url(f"/answer/{previous}" if previous else "")
    words, hint = wording(question, v.young) if question else ("About you", None)
    return render(
        v.request,
        "calls/step.html",
        {
            "call": v.cj.call,
            "question": question,
            "words": words,
            "hint": hint,
            "has_young": bool(question and question.young_text),
            "young": v.young,
            "position": v.cj.journey.position(step),
            "form": form,
            "options": options(question) if question else [],
            "limit": limit(question) if question else None,
            "back_url": back,
            "action": v.url(f"/answer/{step}", change=v.change),
            "toggle_url": v.url(f"/answer/{step}", young=not v.young, change=v.change),
        },
        fragments={"question": "question"},
    )


@router.get("/calls/{slug}/answer/{step}", response_class=HTMLResponse)
def question_page(v: CallVisit, step: str) -> Response:
    found = v.cj.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    if not v.accepting:
        return RedirectResponse(v.url(), status_code=303)
    return _step_page(v, step, v.cj.journey.form_for(found, v.answers()))


@router.post("/calls/{slug}/answer/{step}", response_class=HTMLResponse)
def answer_question(v: CallVisit, step: str, data: FormDataDep) -> Response:
    found = v.cj.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    answers = v.answers()
    state = v.cj.journey.parse(found, data, answers)
    saving = data.get("action") == "save"
    if saving and journeys.nothing_typed(state):
        return redirect(v.request, v.url("/save"))
    if not state.ok:
        return _step_page(v, step, state)
    # Kept whatever the time: after the closing time the call page says so, answers kept.
    calls.save_answer(v.db, v.cj, v.owner, step, state, v.now, v.who)
    if not v.accepting:
        return redirect(v.request, v.url())
    if saving:
        return redirect(v.request, v.url("/save"))
    answers[step] = dict(state.values)
    following = v.cj.journey.after(step, answers, change=v.change)
    if following == journeys.CHECK:
        return redirect(v.request, v.url("/check"))
    return redirect(v.request, v.url(f"/answer/{following}", change=v.change))


# --- check your answers, then send ---------------------------------------------------------


def _check_page(v: Visit, answers: journeys.Answers, problem: str | None = None) -> HTMLResponse:
    return render(
        v.request,
        "calls/check.html",
        {
            "call": v.cj.call,
            "rows": calls.answer_rows(v.cj, answers, v.young),
            "young": v.young,
            "timing": v.timing(),
            "complete": v.cj.journey.first_unanswered(answers) is None,
            "problem": problem,
            "q": v.query(change=True),
            "send_url": v.url("/send"),
        },
    )


@router.get("/calls/{slug}/check", response_class=HTMLResponse)
def check_answers(v: CallVisit) -> Response:
    draft = v.draft()
    answers = journeys.answers_of(draft)
    missing = v.cj.journey.first_unanswered(answers)
    if draft is None:
        return RedirectResponse(v.url(), status_code=303)
    if missing and v.accepting:
        return RedirectResponse(v.url(f"/answer/{missing}"), status_code=303)
    return _check_page(v, answers)


def _send_page(v: Visit, form: FormState[Any], problem: str | None = None) -> HTMLResponse:
    return render(
        v.request,
        "calls/send.html",
        {
            "call": v.cj.call,
            "form": form,
            "problem": problem,
            "quote_wording": calls.QUOTE_WORDING,
            "action": v.url("/send"),
            "back_url": v.url("/check"),
        },
    )


@router.get("/calls/{slug}/send", response_class=HTMLResponse)
def before_you_send(v: CallVisit) -> Response:
    draft = v.draft()
    missing = v.cj.journey.first_unanswered(journeys.answers_of(draft))
    if draft is None or missing or not v.accepting:
        return RedirectResponse(v.url("/check"), status_code=303)
    return _send_page(v, empty_form(SendForm, submit_token=draft.submit_token))


@router.post("/calls/{slug}/send", response_class=HTMLResponse)
def send_answers(v: CallVisit, data: FormDataDep) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, "call-send", client_key(v.request))
    state = parse_form(SendForm, data)
    token = str(state.values.get("submit_token") or "")[:100]
    quote = "yes" in (state.values.get("quote") or [])
    draft = v.draft()
    try:
        calls.send(v.db, v.settings, v.cj, draft, token, quote, v.now, v.who)
    except calls.ClosedError:
        problem = calls.refusal(v.cj.call, v.now, v.settings.timezone)
        return _check_page(v, journeys.answers_of(draft), problem)
    except calls.NotAnsweredError as missing:
        return redirect(v.request, v.url(f"/answer/{missing.step}"))
    except ValueError:
        # A page from before (an older draft): shown again, with this draft's token.
        fresh = empty_form(SendForm, quote=state.values.get("quote") or [])
        fresh.values["submit_token"] = draft.submit_token if draft else ""
        problem = "Your answers changed since you opened this page. Check them and press "
        return _send_page(v, fresh, problem + "“Send my answers” again.")
    return redirect(v.request, v.url("/done", young=False) + "?" + urlencode({"token": token}))


@router.get("/calls/{slug}/done", response_class=HTMLResponse)
def sent(v: CallVisit, token: str = "") -> Response:
    response = calls.by_submit_token(v.db, token)
    if response is None or response.call_id != v.cj.call.id:
        return RedirectResponse(v.url(), status_code=303)
    context = {"call": v.cj.call, "response": response, "what_next": calls.WHAT_HAPPENS_NEXT}
    return render(v.request, "calls/done.html", context)


# --- save and come back later --------------------------------------------------------------


def _save_page(v: Visit, form: FormState[Any], has_draft: bool) -> HTMLResponse:
    context = {"call": v.cj.call, "form": form, "has_draft": has_draft, "young": v.young}
    return render(v.request, "calls/save.html", {**context, "action": v.url("/save")})


@router.get("/calls/{slug}/save", response_class=HTMLResponse)
def save_page(v: CallVisit) -> HTMLResponse:
    draft = v.draft()
    about = journeys.answers_of(draft).get(ABOUT_YOU) or {}
    return _save_page(v, empty_form(SaveLinkForm, email=about.get("email") or ""), bool(draft))


@router.post("/calls/{slug}/save", response_class=HTMLResponse)
def email_save_link(v: CallVisit, data: FormDataDep) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, "call-save", client_key(v.request))
    draft = v.draft()
    form = parse_form(SaveLinkForm, data)
    if not form.ok or form.data is None or draft is None:
        return _save_page(v, form, draft is not None)
    # Over the per-address limit the page looks the same, and no email is sent.
    email = form.data.email
    if limits.hit(v.settings.sign_in_rate_per_email, "call-save-email", email_key(email)):
        calls.send_resume_link(v.db, v.settings, v.cj, draft, email, v.now)
    return redirect(v.request, v.url("/saved"))


@router.get("/calls/{slug}/saved", response_class=HTMLResponse)
def saved(v: CallVisit) -> HTMLResponse:
    return render(v.request, "calls/saved.html", {"call": v.cj.call, "timing": v.timing()})


@router.get("/calls/{slug}/resume", response_class=HTMLResponse)
def resume_page(v: CallVisit, token: str = "") -> HTMLResponse:
    # A GET never uses the link: email scanners open links too. The button does.
    works = calls.peek_resume(v.db, v.cj, token, v.now)
    context = {"call": v.cj.call, "token": token[:100], "works": works}
    return render(v.request, "calls/resume.html", context)


@router.post("/calls/{slug}/resume", response_class=HTMLResponse)
def use_resume_link(v: CallVisit, data: FormDataDep) -> Response:
    token = data.get("token")
    draft = (
        calls.resume(v.db, v.cj, token, v.owner, v.now, v.who) if isinstance(token, str) else None
    )
    if draft is None:
        context = {"call": v.cj.call, "token": "", "works": False}
        return render(v.request, "calls/resume.html", context, status_code=400)
    missing = v.cj.journey.first_unanswered(journeys.answers_of(draft))
    return redirect(v.request, v.url(f"/answer/{missing}" if missing else "/check"))
