""" "Keep me updated": subscribe to a programme's updates, confirm by the emailed link, and
unsubscribe in one click (from the email's link, or a mail program's List-Unsubscribe button).

Every page here is the same whether or not an address was known: nobody can find out who
follows a programme.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import flash, routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Programme, Subscription
from app.ratelimit import client_key
from app.services import programmes, subscriptions
from app.services.subscriptions import SubscribeForm
from app.templating import render

router = routing.router()


def programme_by_slug(slug: str, session: SessionDep) -> Programme:
    programme = programmes.by_slug(session, slug)
    if programme is None:
        raise HTTPException(status_code=404)
    return programme


ProgrammeDep = Annotated[Programme, Depends(programme_by_slug)]


def _form_page(request: Request, programme: Programme, form: FormState[Any]) -> HTMLResponse:
    return render(request, "programmes/subscribe.html", {"programme": programme, "form": form})


@router.get("/programmes/{slug}/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, programme: ProgrammeDep, _: Anyone) -> HTMLResponse:
    return _form_page(request, programme, empty_form(SubscribeForm))


@router.post("/programmes/{slug}/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    programme: ProgrammeDep,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
) -> Response:
    form = parse_form(SubscribeForm, data)
    if not form.ok or form.data is None:
        return _form_page(request, programme, form)
    limits = request.app.state.rate_limits
    limits.check(settings.subscribe_rate_per_ip, "subscribe", client_key(request))
    address = subscriptions.normalise(form.data.email)
    # Per mailbox too, silently: nobody can fill someone's inbox, and the page is the same.
    mailbox = subscriptions.mailbox_key(address)
    if limits.hit(settings.subscribe_rate_per_email, "subscribe-email", mailbox):
        participant_id = who.participant.id if who.participant else None
        subscriptions.subscribe(session, settings, programme, address, now, participant_id)
    return redirect(request, f"/programmes/{programme.slug}/subscribe/check-email")


@router.get("/programmes/{slug}/subscribe/check-email", response_class=HTMLResponse)
def check_email(request: Request, programme: ProgrammeDep, _: Anyone) -> HTMLResponse:
    return render(request, "programmes/check_email.html", {"programme": programme})


# --- confirming ------------------------------------------------------------------------


def _confirmable(session: SessionDep, token: str) -> tuple[Subscription, Programme]:
    found = subscriptions.by_confirm_token(session, token)
    programme = session.get(Programme, found.programme_id) if found else None
    if found is None or programme is None:
        raise HTTPException(status_code=404)
    return found, programme


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    request: Request,
    token: str,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> HTMLResponse:
    # A GET never uses the link (email scanners open links too): the button does.
    subscription, programme = _confirmable(session, token)
    state = subscriptions.confirm_state(subscription, now)
    context = {
        "programme": programme,
        "state": state,
        "token": token,
        # Stopping is as easy as starting: the way out is on the page that says yes.
        "stop": subscriptions.unsubscribe_token(settings, subscription)
        if state == subscriptions.ConfirmState.CONFIRMED
        else None,
    }
    return render(request, "programmes/confirm.html", context)


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str, session: SessionDep, now: NowDep, _: Anyone) -> Response:
    subscription, _programme = _confirmable(session, token)
    subscriptions.confirm(session, subscription, now)
    return redirect(request, f"/subscribe/confirm/{token}")


# --- unsubscribing ---------------------------------------------------------------------


def _subscribed(session: SessionDep, token: str) -> tuple[Subscription, Programme]:
    found = subscriptions.by_unsubscribe_token(session, token)
    programme = session.get(Programme, found.programme_id) if found else None
    if found is None or programme is None:
        raise HTTPException(status_code=404)
    return found, programme


def _unsubscribe_page(
    request: Request, programme: Programme, subscription: Subscription, token: str
) -> HTMLResponse:
    context = {
        "programme": programme,
        "stopped": subscription.status == subscriptions.UNSUBSCRIBED,
        "token": token,
    }
    return render(request, "programmes/unsubscribe.html", context)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, token: str, session: SessionDep, _: Anyone) -> HTMLResponse:
    # One click: the button on this page, or the mail program's own button (the POST below).
    subscription, programme = _subscribed(session, token)
    return _unsubscribe_page(request, programme, subscription, token)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
@routing.token_is_the_key  # mail programs post it with no cookie (RFC 8058)
def unsubscribe(
    request: Request,
    token: str,
    data: FormDataDep,
    session: SessionDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    subscription, programme = _subscribed(session, token)
    subscriptions.unsubscribe(session, subscription, now)
    if data.get("List-Unsubscribe") == "One-Click":
        # A mail program's one-click POST (RFC 8058) follows no redirect: answer at once.
        return _unsubscribe_page(request, programme, subscription, token)
    return redirect(request, f"/unsubscribe/{token}")


@router.post("/unsubscribe/{token}/forget", response_class=HTMLResponse)
def forget(request: Request, token: str, session: SessionDep, _: Anyone) -> Response:
    """Delete the address now, rather than 30 days after unsubscribing."""
    subscription, programme = _subscribed(session, token)
    subscriptions.forget(session, subscription)
    return flash.redirect(
        request, f"/programmes/{programme.slug}", "We have deleted your email address."
    )
