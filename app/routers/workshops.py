"""Workshops for everyone: what's on, signing up one question at a time, your place, the room."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app import events, routing
from app.config import Settings
from app.deps import (
    Anyone,
    FormDataDep,
    NowDep,
    PageDep,
    ParticipantPage,
    SessionDep,
    SettingsDep,
    sign_in_browser,
)
from app.forms import empty_form
from app.htmx import redirect
from app.models import Participant, SignUp, SignUpStatus, StaffUser, Workshop
from app.models.participants import AGE_BAND_LABELS, AgeBand
from app.models.workshops import AUDIENCES
from app.ratelimit import client_key
from app.routers import family_sign_ups
from app.security import browser_token
from app.services import consent, family_signups, rooms, signups
from app.services import workshops as workshop_service
from app.templating import render

router = routing.router()
# A parent or carer signing up their child is part of signing up (its own module).
router.include_router(family_sign_ups.router)


def public_workshop(slug: str, session: SessionDep) -> Workshop:
    workshop = workshop_service.public_by_slug(session, slug)
    if workshop is None:
        raise HTTPException(status_code=404)
    return workshop


PublicWorkshop = Annotated[Workshop, Depends(public_workshop)]


@router.get("/workshops", response_class=HTMLResponse)
def workshop_list(
    request: Request, session: SessionDep, now: NowDep, _: Anyone, audience: str = ""
) -> HTMLResponse:
    audience = audience if audience in AUDIENCES else ""
    cards = workshop_service.upcoming(session, now, audience=audience or None)
    return render(
        request,
        "workshops/list.html",
        {"cards": cards, "audience": audience, "audiences": AUDIENCES},
        fragments={"workshop-results": "results"},
    )


@router.get("/workshops/{slug}", response_class=HTMLResponse)
async def workshop_page(request: Request, slug: str, page: PageDep, _: Anyone) -> HTMLResponse:
    found = await page.cache.load(
        ("workshop_page", slug), lambda: workshop_service.public_page(page.db, slug)
    )
    if found is None:
        raise HTTPException(status_code=404)
    return render(
        request,
        "workshops/detail.html",
        {
            "workshop": found.workshop,
            "availability": workshop_service.availability(
                found.workshop, found.confirmed, page.now, page.settings.timezone
            ),
            "facilitators": found.facilitators,
        },
        same_for_everyone=True,
    )


# --- signing up ------------------------------------------------------------------------

STEP_NAMES = [*signups.STEP_ORDER, "check"]
NOT_FOR_YOU = "not-for-you"


def _draft_key(request: Request, settings: Any) -> str:
    return signups.browser_key(settings, browser_token(request))


def _step_page(
    request: Request,
    workshop: Workshop,
    step: str,
    form: Any,
    answers: dict[str, Any],
    settings: Any,
    change: bool,
    *,
    status_code: int = 200,
    nudge: bool = False,
) -> HTMLResponse:
    band = answers.get("age_band")
    needs_parent = bool(band) and consent.needs_parent_consent(settings, AgeBand(str(band)))
    back = signups.previous_step(step, workshop, answers)
    return render(
        request,
        "workshops/step.html",
        {
            "workshop": workshop,
            "step": step,
            "form": form,
            "change": change,
            "nudge": nudge,
            "needs_parent": needs_parent,
            "back_url": f"/workshops/{workshop.slug}/sign-up/check"
            if change
            else (
                f"/workshops/{workshop.slug}/sign-up/{back}"
                if back
                else f"/workshops/{workshop.slug}"
            ),
            "take_part_wording": consent.WORDING[consent.ConsentPurpose.TAKE_PART][0],
            "age_bands": [(b.value, b.label) for b in AgeBand],
            "max": signups.TEXT_MAX,
        },
        status_code=status_code,
    )


def _closed(workshop: Workshop, session: Any, now: Any) -> bool:
    assert workshop.id is not None
    confirmed = workshop_service.confirmed_count(session, workshop.id)
    return not workshop_service.availability(workshop, confirmed, now).can_sign_up


# --- the room (before the sign-up steps: a whole room reloads it at once) ------------


@router.get("/workshops/{slug}/room", response_class=HTMLResponse)
async def room(request: Request, slug: str, page: ParticipantPage) -> Response:
    # The page a whole room reloads at once: what it shows is read once a moment per person
    # (the read cache; any change made through this process shows at once).
    participant = page.identity.participant
    assert participant is not None and participant.id is not None
    found = await page.cache.load(
        ("room", slug, participant.id),
        lambda: _room(page.db, page.settings, slug, participant),
        personal=True,
    )
    if found is None:
        raise HTTPException(status_code=404)
    entry, facilitators = found
    workshop = entry.workshop
    if entry.problem == "parent":
        return await run_in_threadpool(
            _waiting_page, request, page.db, workshop, participant.id, entry.sign_up, None
        )
    if entry.problem is not None:
        # They said stop taking part: joining again (with the code) asks them again.
        return RedirectResponse("/join", status_code=303)
    state = rooms.room_state(workshop, page.now)
    return render(
        request,
        "workshops/room.html",
        {
            "workshop": workshop,
            "facilitators": facilitators,
            "first_names": [rooms.first_name(person.display_name) for person in facilitators],
            "now": page.now,
            "house_rules": rooms.HOUSE_RULES,
            "empty": empty_form,
            "state": state,
            "news": rooms.ROOM_NEWS[state],
            # Its live stream changes the state by itself at the start and end times.
            "live": events.live_link(
                request.app,
                stream=f"/live/workshops/{workshop.slug}/room?state={state}",
                poll=f"/workshops/{workshop.slug}/room",
                target="room-status",
            ),
        },
        fragments={"room-status": "status"},
        # Everyone in the room sees the same page but for their own name.
        same_within=("room", workshop.id, state),
        personal={"you": participant.display_name},
    )


def _room(
    session: Session, settings: Settings, slug: str, participant: Participant
) -> tuple[rooms.RoomEntry, list[StaffUser]] | None:
    entry = rooms.room_for(session, settings, slug, participant)
    if entry is None:
        return None
    return entry, workshop_service.facilitators(session, entry.workshop.id or 0)


# --- signing up: the steps ---------------------------------------------------------------


@router.get("/workshops/{slug}/sign-up")
def start_sign_up(workshop: PublicWorkshop, _: Anyone) -> Response:
    return RedirectResponse(f"/workshops/{workshop.slug}/sign-up/name", status_code=303)


@router.get("/workshops/{slug}/sign-up/sent", response_class=HTMLResponse)
def sign_up_sent(request: Request, workshop: PublicWorkshop, _: Anyone) -> HTMLResponse:
    """After "Sign up", whatever happened: see `_submit`."""
    return render(request, "workshops/sent.html", {"workshop": workshop})


@router.get("/workshops/{slug}/sign-up/{step}", response_class=HTMLResponse)
def sign_up_step(
    request: Request,
    step: str,
    workshop: PublicWorkshop,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
    change: str = "",
) -> Response:
    if step not in STEP_NAMES and step != NOT_FOR_YOU:
        raise HTTPException(status_code=404)
    if _closed(workshop, session, now):
        return RedirectResponse(f"/workshops/{workshop.slug}", status_code=303)
    assert workshop.id is not None
    answers = signups.load_answers(session, _draft_key(request, settings), workshop.id)
    if step == NOT_FOR_YOU:
        return _not_for_you(request, workshop, answers, session, now)
    if step not in [*signups.steps_for(workshop, answers), "check"]:
        raise HTTPException(status_code=404)  # a question this workshop doesn't ask
    if step == "check":
        if not _welcomes(workshop, answers):
            return RedirectResponse(
                f"/workshops/{workshop.slug}/sign-up/{NOT_FOR_YOU}", status_code=303
            )
        missing = signups.first_unanswered(settings, answers, workshop)
        if missing:
            return RedirectResponse(
                f"/workshops/{workshop.slug}/sign-up/{missing}", status_code=303
            )
        return _check_page(request, workshop, answers, settings)
    form = signups.step_form(step, answers)
    return _step_page(request, workshop, step, form, answers, settings, bool(change))


@router.post("/workshops/{slug}/sign-up/{step}", response_class=HTMLResponse)
def answer_step(
    request: Request,
    step: str,
    workshop: PublicWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
    change: str = "",
) -> Response:
    if step not in STEP_NAMES:
        raise HTTPException(status_code=404)
    assert workshop.id is not None
    key = _draft_key(request, settings)
    answers = signups.load_answers(session, key, workshop.id)
    if step == "check":
        return _submit(request, workshop, answers, key, session, settings, now, who)
    if step not in [*signups.steps_for(workshop, answers), "check"]:
        raise HTTPException(status_code=404)
    state = signups.check_step(settings, step, data, answers)
    participant_id = who.participant.id if who.participant else None
    # Keep what they typed even when it needs fixing, or sign-up has just closed: nothing
    # is ever lost (the workshop page then says why they can't go on).
    keep = signups.keepable(step, state)
    signups.save_answers(session, key, workshop.id, keep, now, participant_id)
    if _closed(workshop, session, now):
        return redirect(request, f"/workshops/{workshop.slug}")
    if not state.ok:
        return _step_page(request, workshop, step, state, answers, settings, bool(change))
    if _nudge_name(step, state.values, data):
        # It looks like a full name: say why a first name is safer, once. Keeping it is fine.
        return _step_page(
            request, workshop, step, state, answers, settings, bool(change), nudge=True
        )
    answers.update(state.values)
    if step == "age" and not _welcomes(workshop, answers):
        return redirect(request, f"/workshops/{workshop.slug}/sign-up/{NOT_FOR_YOU}")
    if change and signups.first_unanswered(settings, answers, workshop) is None:
        return redirect(request, f"/workshops/{workshop.slug}/sign-up/check")
    following = signups.next_step(step, workshop, answers)
    suffix = "?change=1" if change and following != "check" else ""
    return redirect(request, f"/workshops/{workshop.slug}/sign-up/{following}{suffix}")


def _welcomes(workshop: Workshop, answers: dict[str, Any]) -> bool:
    band = answers.get("age_band")
    return not band or workshop.welcomes(str(band))


def _nudge_name(step: str, values: dict[str, Any], data: Any) -> bool:
    """A name that looks like a full name, not yet nudged about (the second press keeps it)."""
    name = str(values.get("display_name") or "")
    return step == "name" and signups.looks_like_full_name(name) and data.get("nudged") != name


def _not_for_you(
    request: Request, workshop: Workshop, answers: dict[str, Any], session: Any, now: Any
) -> Response:
    """Someone outside the workshop's audience: kindly, and the workshops that are for them."""
    band = str(answers.get("age_band") or "")
    if band not in {b.value for b in AgeBand} or workshop.welcomes(band):
        return RedirectResponse(f"/workshops/{workshop.slug}/sign-up/age", status_code=303)
    return render(
        request,
        "workshops/not_for_you.html",
        {
            "workshop": workshop,
            "age_label": AgeBand(band).label,
            "cards": workshop_service.for_age(session, now, band),
            "adult": band in ("18_25", "26_plus"),
        },
    )


def _check_page(
    request: Request,
    workshop: Workshop,
    answers: dict[str, Any],
    settings: Any,
    *,
    problem: str | None = None,
) -> HTMLResponse:
    band = AgeBand(answers["age_band"])
    return render(
        request,
        "workshops/check.html",
        {
            "workshop": workshop,
            "answers": answers,
            "steps": signups.steps_for(workshop, answers),
            "back_step": signups.previous_step("check", workshop, answers),
            "age_label": AGE_BAND_LABELS[band],
            "needs_parent": consent.needs_parent_consent(settings, band),
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
    who: Any,
) -> Response:
    assert workshop.id is not None
    if not _welcomes(workshop, answers):
        return redirect(request, f"/workshops/{workshop.slug}/sign-up/{NOT_FOR_YOU}")
    missing = signups.first_unanswered(settings, answers, workshop)
    if missing:
        return redirect(request, f"/workshops/{workshop.slug}/sign-up/{missing}")
    request.app.state.rate_limits.check(settings.form_rate_per_ip, "sign-up", client_key(request))
    outcome = signups.sign_up(
        session, settings, workshop.id, answers, now, participant=who.participant, draft_key=key
    )
    if outcome.result == "unavailable":
        return _check_page(
            request,
            workshop,
            answers,
            settings,
            problem="Sorry, you can't sign up for this workshop any more. "
            "Your answers are still here. Look at other workshops or contact us.",
        )
    # A new place, a place on the waiting list, or an address that already has one: the
    # same page, so nobody can find out whether an address goes to a workshop. The email
    # (to the address's owner) says which it was.
    return redirect(request, f"/workshops/{workshop.slug}/sign-up/sent")


# --- your place ------------------------------------------------------------------------


# The 404 page's words for a link of someone who asked to be deleted.
ACCOUNT_DELETED = "account_deleted"


def _own_sign_up(token: str, session: SessionDep) -> SignUp:
    row = signups.by_manage_token(session, token)
    if row is None:
        deleted = signups.link_of_erased_account(session, token)
        raise HTTPException(status_code=404, detail=ACCOUNT_DELETED if deleted else None)
    return row


OwnSignUp = Annotated[SignUp, Depends(_own_sign_up)]


@router.get("/sign-ups/{token}", response_class=HTMLResponse)
def your_place(
    request: Request,
    token: str,
    sign_up: OwnSignUp,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> HTMLResponse:
    workshop = session.get(Workshop, sign_up.workshop_id)
    assert workshop is not None
    return render(
        request,
        "workshops/sign_up.html",
        {
            "workshop": workshop,
            "sign_up": sign_up,
            "token": token,
            "confirmed": sign_up.status == SignUpStatus.CONFIRMED,
            "waiting": sign_up.status == SignUpStatus.WAITING,
            "parent_status": consent.parent_consent_status(session, sign_up.participant_id),
            "waits_for_parent": signups.waits_for_parent(session, settings, sign_up),
            "join_open": rooms.join_open(settings, workshop, sign_up, now),
            "position": signups.waiting_position(session, sign_up),
            "waiting_words": signups.waiting_words(signups.waiting_position(session, sign_up)),
            "in_person": signups.comes_in_person(workshop, sign_up),
            "online": signups.comes_online(workshop, sign_up),
            "family": family_signups.family_of(session, settings, sign_up),
            "now": now,
        },
    )


@router.post("/sign-ups/{token}/join")
def join_from_sign_up(
    request: Request,
    token: str,
    sign_up: OwnSignUp,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Anyone,
) -> Response:
    """Join the room as the person who signed up: their emailed link is the proof."""
    workshop = session.get(Workshop, sign_up.workshop_id)
    assert workshop is not None
    entry = rooms.enter_with_sign_up(session, settings, workshop, sign_up, now)
    if entry.result == "waiting_for_parent":
        return redirect(request, f"/sign-ups/{token}/waiting")
    if entry.result != "in" or entry.participant is None:
        return redirect(request, f"/sign-ups/{token}")
    if who.participant is None or who.participant.id != entry.participant.id:
        sign_in_browser(request, session, now, participant=entry.participant)
    return redirect(request, f"/workshops/{workshop.slug}/room")


@router.get("/sign-ups/{token}/waiting", response_class=HTMLResponse)
def waiting_for_parent(
    request: Request,
    token: str,
    sign_up: OwnSignUp,
    session: SessionDep,
    settings: SettingsDep,
    _: Anyone,
) -> Response:
    if not signups.waits_for_parent(session, settings, sign_up):
        return RedirectResponse(f"/sign-ups/{token}", status_code=303)
    workshop = session.get(Workshop, sign_up.workshop_id)
    return _waiting_page(request, session, workshop, sign_up.participant_id, sign_up, token)


def _waiting_page(
    request: Request,
    session: Any,
    workshop: Workshop | None,
    participant_id: int,
    sign_up: SignUp | None,
    token: str | None,
) -> HTMLResponse:
    """A kind page for a child whose parent or carer has not said yes (yet)."""
    return render(
        request,
        "workshops/waiting.html",
        {
            "workshop": workshop,
            "sign_up": sign_up,
            "token": token,
            "parent_status": consent.parent_consent_status(session, participant_id),
        },
    )


@router.get("/sign-ups/{token}/calendar.ics")
def calendar_file(
    token: str,
    sign_up: OwnSignUp,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    workshop = session.get(Workshop, sign_up.workshop_id)
    assert workshop is not None
    if sign_up.status == SignUpStatus.WAITING:
        # No calendar file until the place is theirs.
        return RedirectResponse(f"/sign-ups/{token}", status_code=303)
    return Response(
        signups.ics_for(settings, workshop, sign_up, now),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="workshop.ics"'},
    )


@router.get("/sign-ups/{token}/check-in.svg")
def check_in_qr(sign_up: OwnSignUp, settings: SettingsDep, _: Anyone) -> Response:
    url = signups.links(settings, sign_up)["check_in"]
    return Response(workshop_service.qr_svg(url), media_type="image/svg+xml")


@router.get("/sign-ups/{token}/cancel", response_class=HTMLResponse)
def cancel_page(
    request: Request, token: str, sign_up: OwnSignUp, session: SessionDep, _: Anyone
) -> HTMLResponse:
    workshop = session.get(Workshop, sign_up.workshop_id)
    return render(
        request,
        "workshops/cancel.html",
        {"workshop": workshop, "sign_up": sign_up, "token": token},
    )


@router.post("/sign-ups/{token}/cancel", response_class=HTMLResponse)
def cancel_place(
    request: Request,
    token: str,
    sign_up: OwnSignUp,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    _: Anyone,
) -> Response:
    signups.cancel(session, settings, sign_up, now)
    return redirect(request, f"/sign-ups/{token}")
