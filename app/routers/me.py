""" "My stuff": a participant's own page, coming back by emailed link, and signing out.

Everything here is about the signed-in participant only: no route takes another person's id,
and the one that takes a record id (withdrawing a consent) finds only the person's own.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field
from sqlmodel import Session

from app import flash, routing
from app.config import Settings
from app.deps import (
    Anyone,
    FormDataDep,
    NowDep,
    SessionDep,
    SettingsDep,
    SignedInParticipant,
    sign_in_browser,
    sign_out_browser,
)
from app.forms import EmailAddress, FormModel, FormState, empty_form, parse_form
from app.htmx import hx_target, redirect
from app.models import AgeBand, Consent, ConsentPurpose, ConsentState, Participant
from app.permissions import can_change_consent
from app.ratelimit import client_key, email_key
from app.redirects import safe_next, with_next
from app.services import audit, consent, my_data, participants, signups
from app.services.identity import Identity
from app.templating import render
from app.timefmt import in_words

router = routing.router()

# The page speaks to the young person, or (for under-13s) to the parent or carer with them.
WORDS = {
    "young": {
        "title": "My stuff",
        "intro": "This page shows what Heard keeps about you. You can change your mind, "
        "download it all, or delete it.",
        "held": "What Heard keeps about you",
        "agreed": "What you agreed to",
        "you": "you",
        "your": "your",
        "delete_lead": "This deletes everything Heard keeps about you.",
    },
    "parent": {
        "title": "My stuff",
        "intro": "This page is for a child under 13 and their parent or carer. Please read it "
        "together. It shows what Heard keeps about your child. You can change your minds, "
        "download it all, or delete it.",
        "held": "What Heard keeps about your child",
        "agreed": "What you and your child agreed to",
        "you": "your child",
        "your": "your child's",
        "delete_lead": "This deletes everything Heard keeps about your child.",
    },
}

PURPOSE_TEXT = {
    ConsentPurpose.TAKE_PART: "Taking part",
    ConsentPurpose.BE_QUOTED: "Using your words in reports (without your name)",
    ConsentPurpose.BE_CONTACTED_AGAIN: "Contacting you again",
    ConsentPurpose.BE_PAID: "Paying you for your time",
    ConsentPurpose.PARENT_CONSENT: "A parent or carer saying yes",
}
FIELD_TEXT = {
    "display_name": "Name you use",
    "age_band": "Age",
    "contact_email": "Email address",
    "contact_is_parent": "Email belongs to a parent or carer",
    "role_words": "Words you chose about yourself",
    "created_at": "Added on",
    "last_active_at": "Last used Heard",
    "purpose": "What for",
    "wording": "The words you saw",
    "version": "Version of the words",
    "state": "Answer",
    "given_by": "Who said yes",
    "parent_email": "Parent or carer's email",
    "given_at": "Said yes on",
    "withdrawn_at": "Stopped on",
}


def words_for(participant: Participant) -> dict[str, str]:
    return WORDS["parent" if participant.age_band == AgeBand.UNDER_13 else "young"]


# Fields whose stored values are codes: the words people read instead.
CODED = {
    "age_band": {band.value: band.label for band in AgeBand},
    "status": {
        **signups.STATUS_WORDS,
        "given": "Yes",
        "withdrawn": "Stopped",
        "waiting": "Waiting for an answer",
    },
    "attend_mode": {"in_person": "In person", "online": "Online"},
    "given_how": consent.GIVEN_HOW,
    "given_by": {"self": "You", "parent": "Your parent or carer", "staff": "Our staff"},
}


def show(value: Any, tz: str, name: str = "", workshops: dict[int, str] | None = None) -> str:
    """A value as a person reads it: words, never codes ("16 or 17", not "16_17")."""
    if name == "workshop_id" and workshops is not None and value in workshops:
        return workshops[value]
    if isinstance(value, str) and value in CODED.get(name, {}):
        return CODED[name][value]
    if isinstance(value, Enum) and str(value.value) in CODED.get(name, {}):
        return CODED[name][str(value.value)]
    if value is None or value == "":
        return "Not given"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return in_words(value, tz, year=True)
    if isinstance(value, AgeBand):
        return value.label
    if isinstance(value, ConsentPurpose):
        return PURPOSE_TEXT[value]
    if isinstance(value, Enum):
        return str(value.value).replace("_", " ").capitalize()
    return str(value)


def _me(who: Identity) -> Participant:
    assert who.participant is not None and who.participant.id is not None
    return who.participant


# Coming back by emailed link ----------------------------------------------------------------


class EmailForm(FormModel):
    email: EmailAddress = Field(max_length=254)

    messages = {
        "email": {
            "missing": "Enter your email address",
            "too_long": "Your email address must be 254 characters or fewer",
        }
    }


@router.get("/me/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, _: Anyone) -> HTMLResponse:
    # `next`: the page to come back to once signed in (kept through every step).
    next_page = safe_next(request.query_params.get("next"))
    return render(request, "me/sign_in.html", {"form": empty_form(EmailForm), "next": next_page})


@router.post("/me/sign-in", response_class=HTMLResponse)
def send_link(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    form = parse_form(EmailForm, data)
    next_page = safe_next(data.get("next"))
    if not form.ok or form.data is None:
        return render(request, "me/sign_in.html", {"form": form, "next": next_page})
    limits = request.app.state.rate_limits
    limits.check(settings.sign_in_rate_per_ip, "me-sign-in", client_key(request))
    email = str(form.data.email)
    # Per address too, silently: nobody can fill someone's inbox, and the page is the same.
    if limits.hit(settings.sign_in_rate_per_email, "me-sign-in-email", email_key(email)):
        participants.email_sign_in_link(session, settings, email, now, next_page)
    return redirect(request, with_next("/me/sign-in/check-email", next_page))


@router.get("/me/sign-in/check-email", response_class=HTMLResponse)
def check_email(request: Request, _: Anyone) -> HTMLResponse:
    next_page = safe_next(request.query_params.get("next"))
    return render(request, "me/check_email.html", {"again": with_next("/me/sign-in", next_page)})


@router.get("/me/sign-in/link", response_class=HTMLResponse)
def confirm_link(request: Request, _: Anyone, token: str = "") -> HTMLResponse:
    # A GET never uses the link: email scanners open links too. The button does.
    context = {"token": token[:100], "next": safe_next(request.query_params.get("next"))}
    return render(request, "me/confirm_link.html", context)


@router.post("/me/sign-in/link", response_class=HTMLResponse)
def use_link(
    request: Request, data: FormDataDep, session: SessionDep, now: NowDep, _: Anyone
) -> Response:
    token = data.get("token")
    person = (
        participants.redeem_sign_in_link(session, token, now) if isinstance(token, str) else None
    )
    if person is None:
        return render(request, "me/link_expired.html", status_code=400)
    sign_in_browser(request, session, now, participant=person)
    audit.record(
        session,
        Identity(participant=person),
        "participant.signed_in",
        record_type="participant",
        record_id=person.id,
        method="email_link",
    )
    return redirect(request, safe_next(data.get("next")) or "/me")


@router.post("/me/sign-out", response_class=HTMLResponse)
def sign_out(request: Request, session: SessionDep, who: SignedInParticipant) -> Response:
    audit.record(session, who, "participant.signed_out", record_type="participant")
    sign_out_browser(request, session)
    return redirect(request, "/me/signed-out")


@router.get("/me/signed-out", response_class=HTMLResponse)
def signed_out(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "me/signed_out.html")


# My stuff -----------------------------------------------------------------------------------


@router.get("/me", response_class=HTMLResponse)
def my_stuff(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: SignedInParticipant,
) -> HTMLResponse:
    return _my_stuff_page(request, session, settings, _me(who))


WITHDRAWN = "Done. We have stopped. Thank you for telling us."


def _my_stuff_page(
    request: Request,
    session: Session,
    settings: Settings,
    me: Participant,
    said: flash.Flash | None = None,
) -> HTMLResponse:
    assert me.id is not None
    sections = my_data.export(session, me.id)
    places = signups.my_workshops(session, settings, me.id)
    names = {place.workshop_id: place.title for place in places}
    current = consent.current(session, me.id)
    asked = {ConsentPurpose(c.purpose) for c in current}
    return render(
        request,
        "me/index.html",
        {
            "me": me,
            "words": words_for(me),
            "sections": [s for s in sections if s.table != "consent"],
            "consents": current,
            "not_asked": [p for p in consent.CHANGEABLE if p not in asked],
            "places": places,
            "purpose_text": PURPOSE_TEXT,
            "field_text": FIELD_TEXT,
            "show": lambda v, name="": show(v, settings.timezone, name, names),
            "needs_parent": consent.needs_parent_consent(settings, me.age_band),
            **({"flash": said} if said else {}),
            "ConsentState": ConsentState,
            "ConsentPurpose": ConsentPurpose,
        },
        fragments={"consents-block": "consents"},
    )


def get_own_consent(consent_id: int, session: SessionDep, who: SignedInParticipant) -> Consent:
    """Someone else's consent id finds nothing: a 404, never a 403 that confirms it exists."""
    me = _me(who)
    record = consent.get_own(session, me.id or 0, consent_id)
    if record is None or not can_change_consent(who, record.participant_id):
        raise HTTPException(status_code=404)
    return record


OwnConsent = Annotated[Consent, Depends(get_own_consent)]


@router.get("/me/consents/{consent_id}/withdraw", response_class=HTMLResponse)
def withdraw_confirm(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    record: OwnConsent,
    who: SignedInParticipant,
) -> HTMLResponse:
    """Are you sure? Stopping taking part also gives up places: say which, before it happens."""
    purpose = ConsentPurpose(record.purpose)
    if purpose == ConsentPurpose.PARENT_CONSENT:
        raise HTTPException(status_code=404)
    me = _me(who)
    return render(
        request,
        "me/withdraw.html",
        {
            "record": record,
            "purpose": purpose,
            "title": PURPOSE_TEXT[purpose],
            "words": words_for(me),
            "places": [
                place
                for place in signups.my_workshops(session, settings, me.id or 0)
                if place.active
            ],
            "ConsentPurpose": ConsentPurpose,
        },
    )


@router.post("/me/consents/{consent_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    record: OwnConsent,
    who: SignedInParticipant,
) -> Response:
    purpose = ConsentPurpose(record.purpose)
    if purpose == ConsentPurpose.PARENT_CONSENT:
        raise HTTPException(status_code=404)
    if purpose == ConsentPurpose.TAKE_PART and data.get("confirm") != "yes":
        # It gives up places too: only from the page that says so.
        return redirect(request, f"/me/consents/{record.id}/withdraw")
    consent.withdraw(session, _me(who), purpose, now)
    audit.record(
        session,
        who,
        "consent.withdrawn",
        record_type="consent",
        record_id=record.id,
        purpose=purpose.value,
    )
    if hx_target(request) == "consents-block":
        # HTMX: swap the list in place (the same block of the same page).
        said = flash.Flash(WITHDRAWN, near="consents")
        return _my_stuff_page(request, session, settings, _me(who), said)
    return flash.redirect(request, "/me#consents", WITHDRAWN, near="consents")


Answer = Literal["yes", "no"]


class ConsentsForm(FormModel):
    take_part: Answer | None = None
    be_quoted: Answer | None = None
    be_contacted_again: Answer | None = None
    be_paid: Answer | None = None

    messages = {
        name: {"invalid": "Choose yes or no"}
        for name in ("take_part", "be_quoted", "be_contacted_again", "be_paid")
    }


def _consents_page(request: Request, me: Participant, form: FormState[Any]) -> HTMLResponse:
    return render(
        request,
        "me/consents.html",
        {
            "form": form,
            "words": words_for(me),
            "questions": [
                (p.value, PURPOSE_TEXT[p], consent.WORDING[p][0]) for p in consent.CHANGEABLE
            ],
        },
    )


@router.get("/me/consents", response_class=HTMLResponse)
def consents_form(request: Request, session: SessionDep, who: SignedInParticipant) -> HTMLResponse:
    me = _me(who)
    current = {c.purpose: c.state for c in consent.current(session, me.id or 0)}
    values = {
        p.value: ("yes" if current[p] == ConsentState.GIVEN else "no")
        for p in consent.CHANGEABLE
        if p in current
    }
    return _consents_page(request, me, empty_form(ConsentsForm, **values))


@router.post("/me/consents", response_class=HTMLResponse)
def change_consents(
    request: Request, data: FormDataDep, session: SessionDep, now: NowDep, who: SignedInParticipant
) -> Response:
    me = _me(who)
    form = parse_form(ConsentsForm, data)
    if not form.ok or form.data is None:
        return _consents_page(request, me, form)
    for purpose in consent.CHANGEABLE:
        answer = getattr(form.data, purpose.value)
        if answer is None:
            continue
        has = consent.has_consent(session, me.id or 0, purpose)
        if answer == "yes" and not has:
            record = consent.give_current(session, me, purpose, now)
            audit.record(
                session,
                who,
                "consent.given",
                record_type="consent",
                record_id=record.id,
                purpose=purpose.value,
            )
        elif answer == "no" and has:
            consent.withdraw(session, me, purpose, now)
            audit.record(session, who, "consent.withdrawn", purpose=purpose.value)
    return flash.redirect(request, "/me#consents", "Your choices are saved.", near="consents")


# Changing my details -------------------------------------------------------------------------

AgeChoice = Literal["under_13", "13_15", "16_17", "18_25", "26_plus", "prefer_not"]
Whose = Literal["mine", "parent"]


class DetailsForm(FormModel):
    display_name: str = Field(min_length=1, max_length=60)
    age_band: AgeChoice
    whose: Whose | None = None
    contact_email: EmailAddress | None = Field(default=None, max_length=254)
    role_words: str | None = Field(default=None, max_length=120)

    messages = {
        "display_name": {
            "missing": "Enter the name you want to use",
            "too_long": "Your name must be 60 characters or fewer",
        },
        "age_band": {
            "missing": "Choose how old you are, or choose I'd rather not say",
            "invalid": "Choose how old you are, or choose I'd rather not say",
        },
        "whose": {"invalid": "Choose whose email address it is"},
        "contact_email": {
            "too_long": "The email address must be 254 characters or fewer",
        },
        "role_words": {"too_long": "Words about you must be 120 characters or fewer"},
    }


DETAILS_FRAGMENTS = {"details-form": "details_form"}


def _details_page(
    request: Request, settings: Settings, me: Participant, form: FormState[Any]
) -> HTMLResponse:
    return render(
        request,
        "me/details.html",
        {
            "form": form,
            "words": words_for(me),
            "parent_under": settings.parent_consent_under,
        },
        fragments=DETAILS_FRAGMENTS,
    )


@router.get("/me/details", response_class=HTMLResponse)
def details_form(request: Request, settings: SettingsDep, who: SignedInParticipant) -> HTMLResponse:
    me = _me(who)
    values = {
        "display_name": me.display_name,
        "age_band": me.age_band.value if me.age_band else "prefer_not",
        "whose": ("parent" if me.contact_is_parent else "mine") if me.contact_email else "",
        "contact_email": me.contact_email or "",
        "role_words": me.role_words or "",
    }
    return _details_page(request, settings, me, empty_form(DetailsForm, **values))


@router.post("/me/details", response_class=HTMLResponse)
def change_details(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: SignedInParticipant,
) -> Response:
    # Only ever the signed-in person's own record: there is no id in the address or the form.
    me = _me(who)
    form = parse_form(DetailsForm, data)
    band: AgeBand | None = None
    if form.ok and form.data is not None:
        details = form.data
        band = None if details.age_band == "prefer_not" else AgeBand(details.age_band)
        if participants.would_skip_parent(session, settings, me, band):
            form.add_error(
                "age_band",
                "We have asked your parent or carer, so you cannot change your age here. "
                "If it is wrong, use Contact us to tell the team.",
            )
        if details.contact_email and details.whose is None:
            form.add_error("whose", "Choose whose email address it is")
        elif participants.parent_email_needed(session, settings, me, band) and not (
            details.contact_email and details.whose == "parent"
        ):
            form.add_error(
                "contact_email",
                "Because of your age, give your parent or carer's email address. "
                "We will ask them to say yes.",
            )
    if not form.ok or form.data is None:
        return _details_page(request, settings, me, form)
    participants.change_details(
        session,
        settings,
        who,
        me,
        display_name=form.data.display_name,
        age_band=band,
        contact_email=str(form.data.contact_email) if form.data.contact_email else None,
        contact_is_parent=form.data.whose == "parent",
        role_words=form.data.role_words,
        now=now,
    )
    return flash.redirect(request, "/me", "Your details are saved.")


# Download and delete ------------------------------------------------------------------------


@router.get("/me/data", response_class=HTMLResponse)
def my_data_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: SignedInParticipant,
    download: str = "",
) -> HTMLResponse:
    me = _me(who)
    names = {
        place.workshop_id: place.title
        for place in signups.my_workshops(session, settings, me.id or 0)
    }
    response = render(
        request,
        "me/data.html",
        {
            "me": me,
            "words": words_for(me),
            "sections": my_data.export(session, me.id or 0),
            "field_text": FIELD_TEXT,
            "show": lambda v, name="": show(v, settings.timezone, name, names),
            "made_at": now,
        },
    )
    if download == "1":
        response.headers["Content-Disposition"] = 'attachment; filename="heard-my-data.html"'
    return response


@router.get("/me/data.json")
def my_data_json(session: SessionDep, now: NowDep, who: SignedInParticipant) -> Response:
    me = _me(who)
    body = json.dumps(my_data.export_json(session, me.id or 0, now), indent=2, ensure_ascii=False)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="heard-my-data.json"'},
    )


@router.get("/me/delete", response_class=HTMLResponse)
def delete_confirm(request: Request, who: SignedInParticipant) -> HTMLResponse:
    me = _me(who)
    return render(request, "me/delete.html", {"me": me, "words": words_for(me)})


@router.post("/me/delete", response_class=HTMLResponse)
def delete_me(request: Request, session: SessionDep, who: SignedInParticipant) -> Response:
    me = _me(who)
    my_data.erase(session, "participant", me.id or 0, reason="asked by the person")
    sign_out_browser(request, session)
    return redirect(request, "/me/deleted")


@router.get("/me/deleted", response_class=HTMLResponse)
def deleted(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "me/deleted.html")
