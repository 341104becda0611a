"""Workshops for staff: set them up, show the join code, see attendees, check people in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import events, routing
from app.deps import Facilitator, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState, empty_form, parse_form
from app.htmx import is_htmx, redirect
from app.models import Programme, SignUp, Workshop, WorkshopStatus
from app.models.participants import AGE_BAND_LABELS
from app.models.workshops import AUDIENCES
from app.services import reserved_places, rooms, signups
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.services.workshops import WorkshopForm
from app.templating import render

router = routing.router()


def run_workshop(workshop_id: int, session: SessionDep, who: Facilitator) -> Workshop:
    """The workshop, if this staff member runs it (anyone else gets "not found")."""
    workshop = session.get(Workshop, workshop_id)
    if workshop is None or not workshop_service.can_run(
        who, workshop, workshop_service.facilitator_ids(session, workshop_id)
    ):
        raise HTTPException(status_code=404)
    return workshop


RunWorkshop = Annotated[Workshop, Depends(run_workshop)]


@router.get("/staff/workshops", response_class=HTMLResponse)
def staff_list(request: Request, session: SessionDep, who: Facilitator) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/list.html",
        {"workshops": workshop_service.for_staff(session, who)},
    )


def _form_page(
    request: Request,
    session: Any,
    form: FormState[Any],
    workshop: Workshop | None,
    choices: list[Programme],
) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/form.html",
        {
            "form": form,
            "workshop": workshop,
            "programmes": [(str(p.id), p.title) for p in choices],
            "audiences": list(AUDIENCES.items()),
            "people": workshop_service.possible_facilitators(session),
            "no_programme": not choices,
        },
    )


@router.get("/staff/workshops/new", response_class=HTMLResponse)
def new_workshop(request: Request, session: SessionDep, who: Facilitator) -> HTMLResponse:
    choices = workshop_service.programmes_for(session, who)
    # Only one programme to choose: chosen already, and still shown so people know where.
    only = str(choices[0].id) if len(choices) == 1 else ""
    form = empty_form(WorkshopForm, status="draft", reserved_places="0", programme_id=only)
    return _form_page(request, session, form, None, choices)


@router.post("/staff/workshops/new", response_class=HTMLResponse)
def create_workshop(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(WorkshopForm, data)
    choices = workshop_service.programmes_for(session, who)
    workshop_service.check_programme(form, choices)
    workshop_service.cross_check(form)
    if not form.ok or form.data is None:
        return _form_page(request, session, form, None, choices)
    workshop = workshop_service.apply_form(
        session, settings, form.data, workshop=None, actor=who, now=now
    )
    return redirect(request, f"/staff/workshops/{workshop.id}")


@router.get("/staff/workshops/{workshop_id}/edit", response_class=HTMLResponse)
def edit_workshop(
    request: Request,
    workshop: RunWorkshop,
    session: SessionDep,
    settings: SettingsDep,
    who: Facilitator,
) -> HTMLResponse:
    ids = workshop_service.facilitator_ids(session, workshop.id or 0)
    form = empty_form(WorkshopForm, **workshop_service.form_values(workshop, settings, ids))
    choices = workshop_service.programmes_for(session, who)
    return _form_page(request, session, form, workshop, choices)


@router.post("/staff/workshops/{workshop_id}/edit", response_class=HTMLResponse)
def change_workshop(
    request: Request,
    workshop: RunWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(WorkshopForm, data)
    # Moving a workshop is allowed only into another programme this person runs.
    choices = workshop_service.programmes_for(session, who)
    workshop_service.check_programme(form, choices)
    workshop_service.cross_check(form)
    if workshop.status == WorkshopStatus.CANCELLED:
        form.add_error("title", "This workshop has been cancelled, so it can't be changed")
    if not form.ok or form.data is None:
        return _form_page(request, session, form, workshop, choices)
    workshop_service.apply_form(session, settings, form.data, workshop=workshop, actor=who, now=now)
    signups.fill_from_waiting_list(session, settings, workshop, now)
    return redirect(request, f"/staff/workshops/{workshop.id}")


AGE_LABELS = {band.value: label for band, label in AGE_BAND_LABELS.items()}
# HX-Target -> the block of staff/workshops/detail.html that answers it.
DETAIL_FRAGMENTS = {"attendees": "attendees", "attendee-list": "attendee_list"}


def attendee_list_context(session: Any, settings: Any, workshop: Workshop) -> dict[str, Any]:
    """What the attendee list shows: for the page, and for its live stream."""
    assert workshop.id is not None
    return {
        "workshop": workshop,
        "attendance": rooms.attendance(session, settings, workshop.id),
        "age_labels": AGE_LABELS,
    }


def _detail(
    request: Request,
    workshop: Workshop,
    session: Any,
    settings: Any,
    now: Any,
    *,
    announce: str = "",
) -> HTMLResponse:
    assert workshop.id is not None
    opens, closes = workshop_service.code_window(settings, workshop)
    context = attendee_list_context(session, settings, workshop)
    version = context["attendance"].version
    return render(
        request,
        "staff/workshops/detail.html",
        {
            **context,
            "counts": signups.counts(session, workshop.id),
            "facilitators": workshop_service.facilitators(session, workshop.id),
            "code_opens": opens,
            "code_closes": closes,
            "announce": announce,
            "utcnow": now,
            "reserved_left": reserved_places.left(session, workshop),
            "can_give_reserved": reserved_places.can_give_now(workshop, now),
            "room_state": rooms.room_state(workshop, now),
            "live": events.live_link(
                request.app,
                stream=f"/live/staff/workshops/{workshop.id}/attendees?state={version}",
                poll=f"/staff/workshops/{workshop.id}",
                target="attendee-list",
            ),
        },
        fragments=DETAIL_FRAGMENTS,
    )


@router.get("/staff/workshops/{workshop_id}", response_class=HTMLResponse)
def staff_workshop(
    request: Request,
    workshop: RunWorkshop,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> HTMLResponse:
    return _detail(request, workshop, session, settings, now)


@router.post("/staff/workshops/{workshop_id}/start")
def start_workshop(
    request: Request, workshop: RunWorkshop, session: SessionDep, now: NowDep, who: Facilitator
) -> Response:
    """ "Start the workshop now": every room open on a phone shows that it has started."""
    try:
        workshop_service.start_now(session, workshop, who, now)
    except workshop_service.CannotStartError:
        return redirect(request, f"/staff/workshops/{workshop.id}?start=refused")
    return redirect(request, f"/staff/workshops/{workshop.id}?started=1#room")


# --- the join code ---------------------------------------------------------------------


@router.get("/staff/workshops/{workshop_id}/code", response_class=HTMLResponse)
def show_code(
    request: Request, workshop: RunWorkshop, settings: SettingsDep, now: NowDep
) -> HTMLResponse:
    opens, closes = workshop_service.code_window(settings, workshop)
    return render(
        request,
        "staff/workshops/code.html",
        {
            "workshop": workshop,
            "join_url": workshop_service.join_url(settings, workshop.join_code or ""),
            "code_opens": opens,
            "code_closes": closes,
            "works_now": workshop_service.code_works_now(settings, workshop, now),
        },
    )


@router.get("/staff/workshops/{workshop_id}/code.svg")
def code_qr(workshop: RunWorkshop, settings: SettingsDep) -> Response:
    url = workshop_service.join_url(settings, workshop.join_code or "")
    return Response(workshop_service.qr_svg(url), media_type="image/svg+xml")


@router.post("/staff/workshops/{workshop_id}/code/rotate")
def rotate_code(
    request: Request, workshop: RunWorkshop, session: SessionDep, who: Facilitator
) -> Response:
    workshop_service.rotate_code(session, workshop, who)
    return redirect(request, f"/staff/workshops/{workshop.id}/code")


# --- checking people in ----------------------------------------------------------------


@router.post(
    "/staff/workshops/{workshop_id}/sign-ups/{sign_up_id}/check-in", response_class=HTMLResponse
)
def check_in(
    request: Request,
    sign_up_id: int,
    workshop: RunWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    row = signups.get_for_workshop(session, workshop.id or 0, sign_up_id)
    if row is None:
        raise HTTPException(status_code=404)
    here = data.get("here") != "no"
    rooms.mark_here(session, row, here, now, who)
    if is_htmx(request):
        words = "is checked in" if here else "is no longer checked in"
        return _detail(
            request, workshop, session, settings, now, announce=f"{row.display_name} {words}"
        )
    return redirect(request, f"/staff/workshops/{workshop.id}#attendees")


def _scanned(token: str, session: SessionDep, who: Facilitator) -> tuple[SignUp, Workshop]:
    row = signups.by_check_in_token(session, token)
    workshop = session.get(Workshop, row.workshop_id) if row else None
    if row is None or workshop is None or not _runs(who, session, workshop):
        raise HTTPException(status_code=404)
    return row, workshop


def _runs(who: Identity, session: Any, workshop: Workshop) -> bool:
    return workshop_service.can_run(
        who, workshop, workshop_service.facilitator_ids(session, workshop.id or 0)
    )


Scanned = Annotated[tuple[SignUp, Workshop], Depends(_scanned)]


@router.get("/staff/check-in/{token}", response_class=HTMLResponse)
def scanned_page(
    request: Request, token: str, scanned: Scanned, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    row, workshop = scanned
    waiting = bool(signups.waiting_for_parent(session, settings, [row]))
    return render(
        request,
        "staff/workshops/check_in.html",
        {"sign_up": row, "workshop": workshop, "token": token, "waiting_for_parent": waiting},
    )


@router.post("/staff/check-in/{token}", response_class=HTMLResponse)
def scanned_check_in(
    request: Request,
    token: str,
    scanned: Scanned,
    session: SessionDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    row, _ = scanned
    rooms.mark_here(session, row, True, now, who)
    return redirect(request, f"/staff/check-in/{token}")


# --- reserved places -------------------------------------------------------------------

GIVE_REFUSED = {
    "none_left": "There are no reserved places left. To give one, first change the workshop "
    "to keep back more reserved places",
    "unavailable": "You can give a reserved place only while the workshop is published and "
    "before it starts",
}


def _reserved_page(
    request: Request, session: Any, workshop: Workshop, form: FormState[Any], now: Any
) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/reserved.html",
        {
            "workshop": workshop,
            "form": form,
            "reserved_left": reserved_places.left(session, workshop),
            "can_give": reserved_places.can_give_now(workshop, now),
        },
    )


@router.get("/staff/workshops/{workshop_id}/reserved", response_class=HTMLResponse)
def reserved_form(
    request: Request, workshop: RunWorkshop, session: SessionDep, now: NowDep
) -> HTMLResponse:
    form = empty_form(reserved_places.ReservedPlaceForm)
    return _reserved_page(request, session, workshop, form, now)


@router.post("/staff/workshops/{workshop_id}/reserved", response_class=HTMLResponse)
def give_reserved_place(
    request: Request,
    workshop: RunWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(reserved_places.ReservedPlaceForm, data)
    reserved_places.check_form(settings, form)
    if form.ok and form.data is not None:
        given = reserved_places.give(session, settings, workshop.id or 0, form.data, now, who)
        if given.result == "given":
            return redirect(request, f"/staff/workshops/{workshop.id}?reserved=given")
        if given.result == "already":
            form.add_error(
                "email",
                "Already signed up: someone with this email address already has a place "
                "or is on the waiting list for this workshop",
            )
        else:
            form.add_error("reserved", GIVE_REFUSED[given.result])
    return _reserved_page(request, session, workshop, form, now)


# --- messages, cancelling, export ------------------------------------------------------


@router.get("/staff/workshops/{workshop_id}/message", response_class=HTMLResponse)
def message_form(request: Request, workshop: RunWorkshop) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/message.html",
        {"workshop": workshop, "form": empty_form(signups.MessageForm)},
    )


@router.post("/staff/workshops/{workshop_id}/message", response_class=HTMLResponse)
def send_message(
    request: Request,
    workshop: RunWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(signups.MessageForm, data)
    if not form.ok or form.data is None:
        return render(request, "staff/workshops/message.html", {"workshop": workshop, "form": form})
    sent = signups.message_attendees(session, settings, workshop, form.data, now, who)
    return redirect(request, f"/staff/workshops/{workshop.id}?sent={sent}")


@router.get("/staff/workshops/{workshop_id}/cancel", response_class=HTMLResponse)
def cancel_form(request: Request, workshop: RunWorkshop) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/cancel.html",
        {"workshop": workshop, "form": empty_form(signups.CancelWorkshopForm)},
    )


@router.post("/staff/workshops/{workshop_id}/cancel", response_class=HTMLResponse)
def cancel_workshop(
    request: Request,
    workshop: RunWorkshop,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(signups.CancelWorkshopForm, data)
    if not form.ok or form.data is None:
        return render(request, "staff/workshops/cancel.html", {"workshop": workshop, "form": form})
    signups.cancel_workshop(session, settings, workshop, form.data.reason or "", now, who)
    return redirect(request, f"/staff/workshops/{workshop.id}")


@router.get("/staff/workshops/{workshop_id}/attendees.csv")
@routing.writes  # a download that writes its audit entry
def export_attendees(
    workshop: RunWorkshop, session: SessionDep, settings: SettingsDep, who: Facilitator
) -> Response:
    text = signups.attendees_csv(session, settings, workshop, who)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="attendees-{workshop.slug}.csv"'},
    )
