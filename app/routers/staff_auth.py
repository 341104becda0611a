"""Staff sign-in (single sign-on, or an emailed one-time link), sign-out, staying signed in,
and the staff home page."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import Field

from app import routing
from app.deps import (
    Anyone,
    AnyStaff,
    FormDataDep,
    NowDep,
    SessionDep,
    SettingsDep,
    sign_in_browser,
    sign_out_browser,
    staff_session_limit,
)
from app.forms import EmailAddress, FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.ratelimit import client_key, email_key
from app.redirects import safe_next, with_next
from app.security import browser_token
from app.services import audit, identity, oidc, staff
from app.templating import render

router = routing.router()


class SignInForm(FormModel):
    email: EmailAddress = Field(max_length=254)

    messages = {
        "email": {
            "missing": "Enter your work email address",
            "too_long": "Your email address must be 254 characters or fewer",
        }
    }


def _sign_in_page(request: Request, form: FormState[SignInForm], next_page: str | None) -> Response:
    """The form, carrying `next` (where to land after signing in) through every step."""
    context = {
        "form": form,
        "next": next_page,
        "oidc_start": with_next("/auth/oidc/start", next_page),
    }
    return render(request, "staff/sign_in.html", context)


@router.get("/staff/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, settings: SettingsDep, _: Anyone) -> Response:
    if settings.oidc_enabled:
        return start_oidc(request, settings, _)
    next_page = safe_next(request.query_params.get("next"))
    return _sign_in_page(request, empty_form(SignInForm), next_page)


@router.get("/auth/oidc/start", response_class=HTMLResponse)
def start_oidc(request: Request, settings: SettingsDep, _: Anyone) -> Response:
    next_page = safe_next(request.query_params.get("next"))
    if not settings.oidc_enabled:
        return RedirectResponse(with_next("/staff/sign-in", next_page), status_code=303)
    try:
        url, pending = oidc.start(settings, next_page)
    except oidc.SignInFailed:
        return render(request, "staff/oidc_failed.html", status_code=503)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc.COOKIE,
        oidc.seal(settings, browser_token(request), pending, time.time()),
        max_age=oidc.PENDING_SECONDS,
        path="/auth/oidc",
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
    )
    return response


@router.get("/auth/oidc/callback", response_class=HTMLResponse)
def oidc_callback(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep, _: Anyone
) -> Response:
    """The provider sends the browser back here. A GET that signs in: the state proves
    this browser started the login (and the cookie is bound to this browser)."""
    if not settings.oidc_enabled:
        return RedirectResponse("/staff/sign-in", status_code=303)
    params = {k: v[:2000] for k, v in request.query_params.items()}
    try:
        pending = oidc.unseal(
            settings, browser_token(request), request.cookies.get(oidc.COOKIE), time.time()
        )
        claims = oidc.finish(settings, pending, params)
    except oidc.SignInFailed as failure:
        audit.record(session, None, "staff.sign_in_failed", method="oidc", reason=failure.reason)
        return _forget_login(render(request, "staff/oidc_failed.html", status_code=400))
    email = claims.get("email")
    subject = claims.get("sub")
    member = staff.sign_in_by_email_claim(
        session,
        email if isinstance(email, str) else None,
        now,
        subject if isinstance(subject, str) else None,
    )
    if member is None:
        return _forget_login(render(request, "staff/oidc_unknown.html", status_code=403))
    sign_in_browser(request, session, now, staff=member)
    audit.record(
        session,
        identity.Identity(staff=member),
        "staff.signed_in",
        record_type="staff_user",
        record_id=member.id,
        method="oidc",
    )
    return _forget_login(RedirectResponse(pending.next_page or "/staff", status_code=303))


def _forget_login(response: Response) -> Response:
    response.delete_cookie(oidc.COOKIE, path="/auth/oidc")
    return response


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
    next_page = safe_next(data.get("next"))
    if not form.ok or form.data is None:
        return _sign_in_page(request, form, next_page)
    limits = request.app.state.rate_limits
    limits.check(settings.sign_in_rate_per_ip, "staff-sign-in", client_key(request))
    email = str(form.data.email)
    # Per address too, silently: nobody can fill someone's inbox, and the page is the same.
    if limits.hit(settings.sign_in_rate_per_email, "staff-sign-in-email", email_key(email)):
        staff.email_sign_in_link(session, settings, email, now, next_page)
    return redirect(request, with_next("/staff/sign-in/check-email", next_page))


@router.get("/staff/sign-in/check-email", response_class=HTMLResponse)
def check_email(request: Request, _: Anyone) -> HTMLResponse:
    next_page = safe_next(request.query_params.get("next"))
    return render(
        request, "staff/check_email.html", {"again": with_next("/staff/sign-in", next_page)}
    )


@router.get("/staff/sign-in/link", response_class=HTMLResponse)
def confirm_link(request: Request, _: Anyone, token: str = "") -> HTMLResponse:
    # A GET never uses the link: email scanners open links too. The button below does.
    context = {"token": token[:100], "next": safe_next(request.query_params.get("next"))}
    return render(request, "staff/confirm_link.html", context)


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
    return redirect(request, safe_next(data.get("next")) or "/staff")


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


@router.post("/staff/session/extend")
def extend_session(
    request: Request, session: SessionDep, settings: SettingsDep, now: NowDep, who: AnyStaff
) -> Response:
    """ "Stay signed in": the warning dialog posts here (any request would do the same)."""
    assert who.web_session is not None
    lifetime = timedelta(minutes=settings.staff_idle_minutes)
    # Never past the session's absolute end (HEARD_STAFF_SESSION_HOURS).
    expires_at = identity.touch(
        session, who.web_session.id, now, lifetime, staff_session_limit(settings)
    ) or (now + lifetime)
    if "application/json" in request.headers.get("accept", ""):
        seconds_left = max(int((expires_at - now).total_seconds()), 0)
        return JSONResponse({"expires_at": expires_at.isoformat(), "seconds_left": seconds_left})
    return redirect(request, "/staff")
