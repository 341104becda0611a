"""Contact us: the reference form for Heard's one form pattern."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from app import routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import empty_form, parse_form
from app.htmx import redirect
from app.ratelimit import client_key
from app.services import contact
from app.services.contact import ContactForm
from app.templating import render

router = routing.router()
FRAGMENTS = {"contact-form": "contact_form"}


def _page(request: Request, form: object) -> HTMLResponse:
    return render(
        request,
        "contact/form.html",
        {"form": form, "topics": contact.TOPICS, "max": contact.MESSAGE_MAX},
        fragments=FRAGMENTS,
    )


@router.get("/contact", response_class=HTMLResponse)
def contact_form(request: Request, _: Anyone) -> HTMLResponse:
    return _page(request, empty_form(ContactForm))


@router.post("/contact", response_class=HTMLResponse)
def send_contact(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
) -> Response:
    form = parse_form(ContactForm, data)
    if not form.ok or form.data is None:
        return _page(request, form)
    request.app.state.rate_limits.check(settings.form_rate_per_ip, "contact", client_key(request))
    participant_id = who.participant.id if who.participant else None
    message = contact.send_message(session, settings, form.data, now, participant_id)
    return redirect(request, f"/contact/sent?reference={message.reference}")


@router.get("/contact/sent", response_class=HTMLResponse)
def contact_sent(request: Request, _: Anyone, reference: str = "") -> HTMLResponse:
    reference = reference if contact.looks_like_reference(reference) else ""
    return render(request, "contact/sent.html", {"reference": reference})
