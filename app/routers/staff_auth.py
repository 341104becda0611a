"""Staff sign-in by emailed one-time link, sign-out, and the staff home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import EmailStr, Field

from app.deps import (
    Anyone,
    AnyStaff,
    FormDataDep,
    NowDep,
    SessionDep,
    SettingsDep,
    sign_in_browser,
    sign_out_browser,
)
from app.forms import FormModel, empty_form, parse_form
from app.htmx import redirect
from app.ratelimit import client_key
from app.services import audit, identity, staff
from app.templating import render

router = APIRouter()


class SignInForm(FormModel):
    email: EmailStr = Field(max_length=254)

    messages = {
        "email": {
            "missing": "Enter your work email address",
            "invalid": "Enter an email address like name@example.org",
            "too_long": "Your email address must be 254 characters or fewer",
        }
    }


@router.get("/staff/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "staff/sign_in.html", {"form": empty_form(SignInForm)})


@router.post("/staff/sign-in", response_class=HTMLResponse)
def send_link(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    form = parse_form(SignInForm, data)
    if not form.ok or form.data is None:
        return render(request, "staff/sign_in.html", {"form": form})
    limits = request.app.state.rate_limits
    limits.check(settings.sign_in_rate_per_ip, "staff-sign-in", client_key(request))
    staff.email_sign_in_link(session, settings, str(form.data.email), now)
    return redirect(request, "/staff/sign-in/check-email")


@router.get("/staff/sign-in/check-email", response_class=HTMLResponse)
def check_email(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "staff/check_email.html")


@router.get("/staff/sign-in/link", response_class=HTMLResponse)
def confirm_link(request: Request, _: Anyone, token: str = "") -> HTMLResponse:
    # A GET never uses the link: email scanners open links too. The button below does.
    return render(request, "staff/confirm_link.html", {"token": token[:100]})


@router.post("/staff/sign-in/link", response_class=HTMLResponse)
def use_link(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    token = data.get("token")
    member = staff.redeem_sign_in_link(session, token, now) if isinstance(token, str) else None
    if member is None:
        return render(request, "staff/link_expired.html", status_code=400)
    sign_in_browser(request, session, now, staff=member)
    audit.record(
        session,
        identity.Identity(staff=member),
        "staff.signed_in",
        record_type="staff_user",
        record_id=member.id,
        method="email_link",
    )
    return redirect(request, "/staff")


@router.post("/staff/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, session: SessionDep, who: AnyStaff) -> Response:
    audit.record(
        session,
        who,
        "staff.signed_out",
        record_type="staff_user",
        record_id=who.staff and who.staff.id,
    )
    sign_out_browser(request, session)
    return redirect(request, "/staff/signed-out")


@router.get("/staff/signed-out", response_class=HTMLResponse)
def signed_out(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "staff/signed_out.html")


@router.get("/staff", response_class=HTMLResponse)
def staff_home(request: Request, who: AnyStaff) -> HTMLResponse:
    return render(request, "staff/home.html", {"who": who})
