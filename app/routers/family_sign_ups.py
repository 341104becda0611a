"""A parent or carer signs up their child (or two), one question a page, and says yes for
them on the way: no second email to approve what they just filled in, one email at the end.

Included by routers/workshops.py (it is part of signing up for a workshop).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.htmx import redirect
from app.models import AgeBand, Workshop
from app.ratelimit import client_key
from app.security import browser_token
from app.services import family_signups as family
from app.services import workshops as workshop_service
from app.templating import render

router = routing.router()
STEP_NAMES = [*family.STEP_ORDER, "check", "sent"]


def _workshop(session: Any, slug: str) -> Workshop:
    workshop = workshop_service.public_by_slug(session, slug)
    if workshop is None or not family.offered(workshop):
        raise HTTPException(status_code=404)
    return workshop


def _key(request: Request, settings: Any) -> str:
    return family.draft_key(settings, browser_token(request))


def _closed(workshop: Workshop, session: Any, now: Any) -> bool:
    assert workshop.id is not None
    confirmed = workshop_service.confirmed_count(session, workshop.id)
    return not workshop_service.availability(workshop, confirmed, now).can_sign_up


def _base(workshop: Workshop) -> str:
    return f"/workshops/{workshop.slug}/family"


def _step_page(
    request: Request,
    workshop: Workshop,
    step: str,
    form: Any,
    answers: dict[str, Any],
    change: bool,
) -> HTMLResponse:
    back = family.previous_step(step, workshop, answers)
    names = [child.name for child in family.children(answers)]
    return render(
        request,
        "workshops/family_step.html",
        {
            "workshop": workshop,
            "step": step,
            "form": form,
            "change": change,
            "back_url": f"{_base(workshop)}/check"
            if change
            else (f"{_base(workshop)}/{back}" if back else f"/workshops/{workshop.slug}"),
            "age_bands": [(b, AgeBand(b).label) for b in _bands(workshop)],
            "names": names,
            "two": len(names) > 1,
            "wording": family.parent_wording(workshop, names),
            "max": family.TEXT_MAX,
        },
    )


def _bands(workshop: Workshop) -> list[str]:
    from app.models.workshops import AUDIENCE_AGE_BANDS

    return list(AUDIENCE_AGE_BANDS.get(workshop.audience, ()))


@router.get("/workshops/{slug}/family/{step}", response_class=HTMLResponse)
def family_step(
    request: Request,
    slug: str,
    step: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
    change: str = "",
) -> Response:
    workshop = _workshop(session, slug)
    if step not in STEP_NAMES:
        raise HTTPException(status_code=404)
    if step == "sent":
        return render(request, "workshops/family_sent.html", {"workshop": workshop})
    if _closed(workshop, session, now):
        return RedirectResponse(f"/workshops/{workshop.slug}", status_code=303)
    assert workshop.id is not None
    answers = family.load_answers(session, _key(request, settings), workshop.id)
    if step == "check":
        missing = family.first_unanswered(workshop, answers)
        if missing:
            return RedirectResponse(f"{_base(workshop)}/{missing}", status_code=303)
        return _check_page(request, workshop, answers)
    if step not in family.steps_for(workshop, answers):
        raise HTTPException(status_code=404)
    form = family.step_form(step, answers)
    return _step_page(request, workshop, step, form, answers, bool(change))


@router.post("/workshops/{slug}/family/{step}", response_class=HTMLResponse)
def family_answer(
    request: Request,
    slug: str,
    step: str,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
    change: str = "",
) -> Response:
    workshop = _workshop(session, slug)
    if step not in STEP_NAMES or step == "sent":
        raise HTTPException(status_code=404)
    assert workshop.id is not None
    key = _key(request, settings)
    answers = family.load_answers(session, key, workshop.id)
    if step == "check":
        return _submit(request, workshop, answers, key, session, settings, now)
    if step not in family.steps_for(workshop, answers):
        raise HTTPException(status_code=404)
    state = family.check_step(workshop, step, data)
    # Nothing typed is lost, even when it needs fixing or sign-up has just closed.
    family.save_answers(session, key, workshop.id, family.keepable(step, state), now)
    if _closed(workshop, session, now):
        return redirect(request, f"/workshops/{workshop.slug}")
    if not state.ok:
        return _step_page(request, workshop, step, state, answers, bool(change))
    answers.update(state.values)
    if change and family.first_unanswered(workshop, answers) is None:
        return redirect(request, f"{_base(workshop)}/check")
    following = family.next_step(step, workshop, answers)
    suffix = "?change=1" if change and following != "check" else ""
    return redirect(request, f"{_base(workshop)}/{following}{suffix}")


def _check_page(
    request: Request, workshop: Workshop, answers: dict[str, Any], problem: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "workshops/family_check.html",
        {
            "workshop": workshop,
            "answers": answers,
            "children": family.children(answers),
            "steps": family.steps_for(workshop, answers),
            "back_step": family.previous_step("check", workshop, answers),
            "problem": problem,
        },
    )


def _submit(
    request: Request,
    workshop: Workshop,
    answers: dict[str, Any],
    key: str,
    session: Any,
    settings: Any,
    now: Any,
) -> Response:
    assert workshop.id is not None
    missing = family.first_unanswered(workshop, answers)
    if missing:
        return redirect(request, f"{_base(workshop)}/{missing}")
    request.app.state.rate_limits.check(settings.form_rate_per_ip, "sign-up", client_key(request))
    outcome = family.sign_up_children(session, settings, workshop.id, answers, now, draft=key)
    if outcome.result == "unavailable":
        return _check_page(
            request,
            workshop,
            answers,
            "Sorry, you can't sign up for this workshop any more. Your answers are still "
            "here. Look at other workshops or contact us.",
        )
    # Whatever happened (new places, or a child already signed up), the same page: the
    # email to the address's owner says which.
    return redirect(request, f"{_base(workshop)}/sent")
