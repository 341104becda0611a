"""Journey pages: the routes every journey shares, written once (app/journeys.py keeps the
drafts; this is their pages). One question a page, check your answers, send, and "save and
come back later", for calls and for applications to a round alike.

A feature subclasses `JourneyVisit` to say what differs: its words and templates (its folder
is its noun plus "s": "calls/step.html"), and the service calls that do its work. Its router
declares the routes, each calling one function here, so a feature's addresses and
permissions stay in its own router.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from app import journeys
from app.config import Settings
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.journeys import Answers, Journey, JourneyDraft
from app.ratelimit import client_key, email_key
from app.security import browser_token
from app.services.calls_questions import SaveLinkForm
from app.services.identity import Identity
from app.templating import render

ANSWERS_CHANGED = "Your answers changed since you opened this page. Check them and press "


class Timing(Protocol):
    """Where a journey's window stands for this visit (the feature's own Timing)."""

    accepting: bool


@dataclass
class JourneyVisit:
    """One visit to a journey's pages: who, when, and where their draft is kept."""

    request: Request
    db: Session
    settings: Settings
    now: datetime
    who: Identity

    # What each feature says about itself.
    noun: ClassVar[str]  # "call": templates in calls/, the page's object, rate-limit names
    steps_at: ClassVar[str]  # "answer": a step's address is {home}/answer/{step}
    about_you: ClassVar[str]  # the step that asks for their email address
    send_form: ClassVar[type[FormModel]]  # the last page's form (with the submit token)
    send_button: ClassVar[str]  # the words on its button
    kept_on_resend: ClassVar[tuple[str, ...]] = ()  # ticks kept when the page is shown again
    step_fragments: ClassVar[dict[str, str] | None] = None
    # The service's errors: answers not taken now, and a step to answer first (its .step).
    closed_error: ClassVar[type[Exception]]
    not_answered_error: ClassVar[type[Exception]]

    @property
    def journey(self) -> Journey:
        raise NotImplementedError

    @property
    def subject(self) -> Any:
        """The call or round the pages are about."""
        raise NotImplementedError

    @property
    def home(self) -> str:
        """Its start page's address, e.g. /calls/{slug}."""
        raise NotImplementedError

    def timing(self, draft: JourneyDraft | None = None) -> Timing:
        raise NotImplementedError

    def step_context(self, step: str) -> dict[str, Any]:
        """The question on a step's page, in the feature's words."""
        raise NotImplementedError

    def check_context(self, answers: Answers) -> dict[str, Any]:
        """The rows of check your answers (and anything else that page shows)."""
        raise NotImplementedError

    def send_context(self) -> dict[str, Any]:
        """What the last page asks them to agree to."""
        raise NotImplementedError

    def save_context(self) -> dict[str, Any]:
        return {}

    def submit(self, draft: JourneyDraft | None, form: FormState[Any], token: str) -> None:
        """Send once, through the feature's service (which raises its errors)."""
        raise NotImplementedError

    def ready_to_send(self, form: FormState[Any], token: str) -> bool:
        """The last page's own checks; False shows it again with its errors."""
        return True

    def refusal(self) -> str:
        raise NotImplementedError

    def send_resume_link(self, draft: JourneyDraft, email: str) -> None:
        raise NotImplementedError

    # --- shared by every journey --------------------------------------------------------

    @property
    def owner(self) -> str:
        return journeys.owner_key(
            self.settings.secret_key, browser_token(self.request), self.participant_id
        )

    @property
    def participant_id(self) -> int | None:
        return self.who.participant.id if self.who.participant else None

    @property
    def change(self) -> bool:
        return bool(self.request.query_params.get("change"))

    def draft(self) -> JourneyDraft | None:
        return journeys.find(self.db, self.journey.name, self.owner)

    def url(self, path: str = "", *, change: bool = False) -> str:
        return f"{self.home}{path}{'?change=1' if change else ''}"

    def step_url(self, step: str, *, change: bool = False) -> str:
        return self.url(f"/{self.steps_at}/{step}", change=change)

    def page(self, name: str, context: dict[str, Any], **options: Any) -> HTMLResponse:
        context = {self.noun: self.subject, **context}
        return render(self.request, f"{self.noun}s/{name}.html", context, **options)


# --- one question a page -------------------------------------------------------------------


def _step_page(v: JourneyVisit, step: str, form: FormState[Any]) -> HTMLResponse:
    previous = v.journey.previous_name(step)
    back = v.url("/check") if v.change else (v.step_url(previous) if previous else v.url())
    context = {
        **v.step_context(step),
        "position": v.journey.position(step),
        "form": form,
        "back_url": back,
        "action": v.step_url(step, change=v.change),
    }
    return v.page("step", context, fragments=v.step_fragments)


def question_page(v: JourneyVisit, step: str) -> Response:
    found = v.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    draft = v.draft()
    if not v.timing(draft).accepting:
        return RedirectResponse(v.url(), status_code=303)
    return _step_page(v, step, v.journey.form_for(found, journeys.answers_of(draft)))


def answer_question(v: JourneyVisit, step: str, data: FormData) -> Response:
    found = v.journey.step(step)
    if found is None:
        raise HTTPException(status_code=404)
    answers = journeys.answers_of(v.draft())
    state = v.journey.parse(found, data, answers)
    saving = data.get("action") == "save"
    if saving and journeys.nothing_typed(state):
        return redirect(v.request, v.url("/save"))
    if not state.ok:
        return _step_page(v, step, state)
    # Kept whatever the time: after the closing time the start page says so, answers kept.
    draft = journeys.save(v.db, v.journey.name, v.owner, step, state, v.now, v.participant_id)
    if not v.timing(draft).accepting:
        return redirect(v.request, v.url())
    if saving:
        return redirect(v.request, v.url("/save"))
    answers[step] = dict(state.values)
    following = v.journey.after(step, answers, change=v.change)
    if following == journeys.CHECK:
        return redirect(v.request, v.url("/check"))
    return redirect(v.request, v.step_url(following, change=v.change))


# --- check your answers, then send ---------------------------------------------------------


def _check_page(
    v: JourneyVisit, draft: JourneyDraft | None, problem: str | None = None
) -> Response:
    answers = journeys.answers_of(draft)
    context = {
        **v.check_context(answers),
        "timing": v.timing(draft),
        "complete": v.journey.first_unanswered(answers) is None,
        "problem": problem,
        "send_url": v.url("/send"),
    }
    return v.page("check", context)


def check_answers(v: JourneyVisit) -> Response:
    draft = v.draft()
    if draft is None:
        return RedirectResponse(v.url(), status_code=303)
    missing = v.journey.first_unanswered(journeys.answers_of(draft))
    if missing and v.timing(draft).accepting:
        return RedirectResponse(v.step_url(missing), status_code=303)
    return _check_page(v, draft)


def _send_page(v: JourneyVisit, form: FormState[Any], problem: str | None = None) -> Response:
    context = {
        **v.send_context(),
        "form": form,
        "problem": problem,
        "action": v.url("/send"),
        "back_url": v.url("/check"),
    }
    return v.page("send", context)


def before_you_send(v: JourneyVisit) -> Response:
    draft = v.draft()
    missing = v.journey.first_unanswered(journeys.answers_of(draft))
    if draft is None or missing or not v.timing(draft).accepting:
        return RedirectResponse(v.url("/check"), status_code=303)
    return _send_page(v, empty_form(v.send_form, submit_token=draft.submit_token))


def send(v: JourneyVisit, data: FormData) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, f"{v.noun}-send", client_key(v.request))
    form = parse_form(v.send_form, data)
    token = str(form.values.get("submit_token") or "")[:100]
    draft = v.draft()
    if not v.ready_to_send(form, token):
        return _send_page(v, form)
    try:
        v.submit(draft, form, token)
    except v.closed_error:
        return _check_page(v, draft, v.refusal())
    except v.not_answered_error as missing:
        return redirect(v.request, v.step_url(missing.step))  # type: ignore[attr-defined]
    except ValueError:
        # A page from before (an older draft): shown again, with this draft's token.
        kept = {name: form.values.get(name) or [] for name in v.kept_on_resend}
        fresh = empty_form(v.send_form, **kept, submit_token=draft.submit_token if draft else "")
        return _send_page(v, fresh, f"{ANSWERS_CHANGED}“{v.send_button}” again.")
    return redirect(v.request, f"{v.home}/done?{urlencode({'token': token})}")


# --- save and come back later --------------------------------------------------------------


def _save_page(v: JourneyVisit, form: FormState[Any], has_draft: bool) -> Response:
    context = {**v.save_context(), "form": form, "has_draft": has_draft}
    return v.page("save", {**context, "action": v.url("/save")})


def save_page(v: JourneyVisit) -> Response:
    draft = v.draft()
    about = journeys.answers_of(draft).get(v.about_you) or {}
    return _save_page(v, empty_form(SaveLinkForm, email=about.get("email") or ""), bool(draft))


def email_save_link(v: JourneyVisit, data: FormData) -> Response:
    limits = v.request.app.state.rate_limits
    limits.check(v.settings.form_rate_per_ip, f"{v.noun}-save", client_key(v.request))
    draft = v.draft()
    form = parse_form(SaveLinkForm, data)
    if not form.ok or form.data is None or draft is None:
        return _save_page(v, form, draft is not None)
    # Over the per-address limit the page looks the same, and no email is sent.
    email = form.data.email
    if limits.hit(v.settings.sign_in_rate_per_email, f"{v.noun}-save-email", email_key(email)):
        v.send_resume_link(draft, email)
    return redirect(v.request, v.url("/saved"))


def saved(v: JourneyVisit) -> Response:
    return v.page("saved", {"timing": v.timing()})


def resume_page(v: JourneyVisit, token: str) -> Response:
    # A GET never uses the link: email scanners open links too. The button does.
    works = journeys.peek_resume_link(v.db, v.journey.name, token, v.now) is not None
    return v.page("resume", {"token": token[:100], "works": works})


def use_resume_link(v: JourneyVisit, data: FormData) -> Response:
    token = data.get("token")
    draft = (
        journeys.use_resume_link(v.db, v.journey.name, token, v.owner, v.now, v.participant_id)
        if isinstance(token, str)
        else None
    )
    if draft is None:
        return v.page("resume", {"token": "", "works": False}, status_code=400)
    missing = v.journey.first_unanswered(journeys.answers_of(draft))
    return redirect(v.request, v.step_url(missing) if missing else v.url("/check"))
