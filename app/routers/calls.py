"""Calls for everyone: read a call, answer it one question a page, save and come back, send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import journey_pages, routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState
from app.journey_pages import JourneyVisit
from app.journeys import Answers, Journey, JourneyDraft
from app.models import Call
from app.services import calls
from app.services.calls import CallJourney
from app.services.calls_questions import (
    ABOUT_YOU,
    SendForm,
    has_young_version,
    limit,
    options,
    wording,
)
from app.templating import render

router = routing.router()


@dataclass
class Visit(JourneyVisit):
    """One visit to a published call: who, when, and where their draft is kept."""

    cj: CallJourney

    noun = "call"
    steps_at = "answer"
    about_you = ABOUT_YOU
    send_form = SendForm
    send_button = "Send my answers"
    kept_on_resend = ("quote",)
    step_fragments: ClassVar[dict[str, str] | None] = {"question": "question"}
    closed_error = calls.ClosedError
    not_answered_error = calls.NotAnsweredError

    @property
    def journey(self) -> Journey:
        return self.cj.journey

    @property
    def subject(self) -> Call:
        return self.cj.call

    @property
    def home(self) -> str:
        return f"/calls/{self.cj.call.slug}"

    @property
    def young(self) -> bool:
        return self.request.query_params.get("young") == "1"

    def query(self, *, young: bool | None = None, change: bool = False) -> str:
        """Keeps the young person's words if they chose them (and says "changing an answer")."""
        young = self.young if young is None else young
        params = {k: "1" for k, on in (("young", young), ("change", change)) if on}
        return f"?{urlencode(params)}" if params else ""

    def url(self, path: str = "", *, young: bool | None = None, change: bool = False) -> str:
        return f"{self.home}{path}{self.query(young=young, change=change)}"

    def timing(self, draft: JourneyDraft | None = None) -> calls.Timing:
        return calls.timing(self.cj.call, self.now, self.settings.timezone)

    def step_context(self, step: str) -> dict[str, Any]:
        question = self.cj.question_for(step)
        words, hint = wording(question, self.young) if question else ("About you", None)
        return {
            "question": question,
            "words": words,
            "hint": hint,
            "has_young": bool(question and question.young_text),
            "young": self.young,
            "options": options(question) if question else [],
            "limit": limit(question) if question else None,
            "toggle_url": self.url(f"/answer/{step}", young=not self.young, change=self.change),
        }

    def check_context(self, answers: Answers) -> dict[str, Any]:
        rows = calls.answer_rows(self.cj, answers, self.young)
        return {"rows": rows, "young": self.young, "q": self.query(change=True)}

    def send_context(self) -> dict[str, Any]:
        return {"quote_wording": calls.QUOTE_WORDING}

    def save_context(self) -> dict[str, Any]:
        return {"young": self.young}

    def submit(self, draft: JourneyDraft | None, form: FormState[Any], token: str) -> None:
        quote = "yes" in (form.values.get("quote") or [])
        calls.send(self.db, self.settings, self.cj, draft, token, quote, self.now, self.who)

    def refusal(self) -> str:
        return calls.refusal(self.cj.call, self.now, self.settings.timezone)

    def send_resume_link(self, draft: JourneyDraft, email: str) -> None:
        calls.send_resume_link(self.db, self.settings, self.cj, draft, email, self.now)


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
    return Visit(request, db, settings, now, who, found)


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
            "first": v.step_url(cj.journey.names[0]),
            "carry_on": v.url("/check"),
            "may_read": calls.may_read_responses(v.who, cj.call.programme_id),
        },
        fragments={"questions": "questions"},
    )


# --- one question a page, check your answers, send (app/journey_pages.py) ---------------


@router.get("/calls/{slug}/answer/{step}", response_class=HTMLResponse)
def question_page(v: CallVisit, step: str) -> Response:
    return journey_pages.question_page(v, step)


@router.post("/calls/{slug}/answer/{step}", response_class=HTMLResponse)
def answer_question(v: CallVisit, step: str, data: FormDataDep) -> Response:
    return journey_pages.answer_question(v, step, data)


@router.get("/calls/{slug}/check", response_class=HTMLResponse)
def check_answers(v: CallVisit) -> Response:
    return journey_pages.check_answers(v)


@router.get("/calls/{slug}/send", response_class=HTMLResponse)
def before_you_send(v: CallVisit) -> Response:
    return journey_pages.before_you_send(v)


@router.post("/calls/{slug}/send", response_class=HTMLResponse)
def send_answers(v: CallVisit, data: FormDataDep) -> Response:
    return journey_pages.send(v, data)


@router.get("/calls/{slug}/done", response_class=HTMLResponse)
def sent(v: CallVisit, token: str = "") -> Response:
    response = calls.by_submit_token(v.db, token)
    if response is None or response.call_id != v.cj.call.id:
        return RedirectResponse(v.url(), status_code=303)
    context = {"call": v.cj.call, "response": response, "what_next": calls.WHAT_HAPPENS_NEXT}
    return render(v.request, "calls/done.html", context)


# --- save and come back later --------------------------------------------------------------


@router.get("/calls/{slug}/save", response_class=HTMLResponse)
def save_page(v: CallVisit) -> Response:
    return journey_pages.save_page(v)


@router.post("/calls/{slug}/save", response_class=HTMLResponse)
def email_save_link(v: CallVisit, data: FormDataDep) -> Response:
    return journey_pages.email_save_link(v, data)


@router.get("/calls/{slug}/saved", response_class=HTMLResponse)
def saved(v: CallVisit) -> Response:
    return journey_pages.saved(v)


@router.get("/calls/{slug}/resume", response_class=HTMLResponse)
def resume_page(v: CallVisit, token: str = "") -> Response:
    return journey_pages.resume_page(v, token)


@router.post("/calls/{slug}/resume", response_class=HTMLResponse)
def use_resume_link(v: CallVisit, data: FormDataDep) -> Response:
    return journey_pages.use_resume_link(v, data)
