"""Joining a workshop on the day with a code (the code box on the home page posts here).

Step 1 (/join) checks the code: wrong codes count against the address, right ones against
the code from that address (so nobody can use up a class's code). Step 2 (/join/you)
carries a short-lived signed ticket for the code, so reloading it is not another guess; the
code is checked again (it may have been changed) before anyone is let in.

A code always makes a new person for today (or lets the same person back in). People who
signed up join from the link in their email instead (routers/workshops.py, "Join the room").
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, field_validator

from app import routing
from app.deps import (
    Anyone,
    FormDataDep,
    NowDep,
    SessionDep,
    SettingsDep,
    sign_in_browser,
)
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Workshop
from app.ratelimit import client_key
from app.services import join_codes, rooms
from app.services import workshops as workshop_service
from app.services.join_codes import CODE_LENGTH, normalise_code
from app.templating import render

router = routing.router()
CODE_DIDNT_WORK = "That code didn't work. Check it with your facilitator."


class CodeForm(FormModel):
    code: str = Field(max_length=40)

    messages = {
        "code": {"missing": "Enter the code your facilitator gave you", "too_long": CODE_DIDNT_WORK}
    }

    @field_validator("code")
    @classmethod
    def _shape(cls, value: str) -> str:
        code = normalise_code(value)
        if len(code) != CODE_LENGTH:
            raise ValueError(
                f"Codes have {CODE_LENGTH} letters and numbers. Check it with your facilitator."
            )
        return code


def _code_page(
    request: Request, form: FormState[CodeForm], *, same_for_everyone: bool = False
) -> HTMLResponse:
    return render(
        request,
        "join/code.html",
        {"form": form},
        fragments={"join-form": "join_form"},
        same_for_everyone=same_for_everyone,
    )


@router.get("/join", response_class=HTMLResponse)
async def join(request: Request, _: Anyone, code: str = "") -> HTMLResponse:
    # async: no database and no waiting, so no worker thread (a whole class opens it at once)
    return _code_page(request, empty_form(CodeForm, code=code[:40]), same_for_everyone=True)


@router.post("/join", response_class=HTMLResponse)
def use_code(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    form = parse_form(CodeForm, data)
    limits = request.app.state.rate_limits
    address = client_key(request)
    # Per address, only wrong codes count (many people share one school or youth-club
    # address): that is what stops guessing.
    limits.refuse_if_spent(settings.join_rate_per_ip, "join-ip", address)
    if not form.ok or form.data is None:
        limits.hit(settings.join_rate_per_ip, "join-ip", address)
        return _code_page(request, form)
    workshop = workshop_service.by_code(session, settings, form.data.code, now)
    if workshop is None or workshop.join_code is None:
        limits.hit(settings.join_rate_per_ip, "join-ip", address)
        # A real code on another day says when it works (still counted as a wrong try).
        later = workshop_service.code_not_now(session, settings, form.data.code, now)
        form.add_error("code", later or CODE_DIDNT_WORK)
        return _code_page(request, form)
    # A right code counts against that code from this address only: someone who knows the
    # code and uses it over and over locks out themselves, never the class.
    limits.check(settings.join_rate_per_code, "join-code", workshop.join_code, address)
    ticket = join_codes.make_ticket(settings.secret_key, workshop.join_code, now)
    return redirect(request, f"/join/you?ticket={ticket}")


def _ticket_workshop(
    session: SessionDep, settings: SettingsDep, now: NowDep, ticket: str
) -> Workshop | None:
    code = join_codes.read_ticket(settings.secret_key, ticket, now)
    return workshop_service.by_code(session, settings, code, now) if code else None


def _you_page(
    request: Request, workshop: Workshop, ticket: str, form: FormState[rooms.JoinForm]
) -> HTMLResponse:
    return render(
        request,
        "join/you.html",
        {
            "workshop": workshop,
            "ticket": ticket,
            "form": form,
            "house_rules": rooms.HOUSE_RULES,
            "wording": rooms.JOIN_WORDING,
        },
    )


def _code_didnt_work(request: Request) -> HTMLResponse:
    form = empty_form(CodeForm)
    form.add_error("code", CODE_DIDNT_WORK)
    return _code_page(request, form)


@router.get("/join/you", response_class=HTMLResponse)
def about_you(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
    ticket: str = "",
) -> HTMLResponse:
    workshop = _ticket_workshop(session, settings, now, ticket[:100])
    if workshop is None:
        return _code_didnt_work(request)
    name = who.participant.display_name if who.participant else ""
    return _you_page(request, workshop, ticket, empty_form(rooms.JoinForm, display_name=name))


@router.post("/join/you", response_class=HTMLResponse)
def enter_room(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
) -> Response:
    raw = data.get("ticket")
    ticket = raw[:100] if isinstance(raw, str) else ""
    workshop = _ticket_workshop(session, settings, now, ticket)
    if workshop is None:
        return _code_didnt_work(request)
    # No reference or email here: a sign-up is joined only from its own emailed link.
    form = parse_form(rooms.JoinForm, data)
    if not form.ok or form.data is None:
        return _you_page(request, workshop, ticket, form)
    participant = rooms.enter(session, workshop, form.data, now, who.participant)
    if who.participant is None or who.participant.id != participant.id:
        sign_in_browser(request, session, now, participant=participant)
    return redirect(request, f"/workshops/{workshop.slug}/room")
