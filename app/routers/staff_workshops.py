"""Workshops for staff: set them up, show the join code, see attendees, check people in."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import field_validator

from app import events, flash, routing
from app.deps import Facilitator, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import is_htmx, redirect
from app.models import AgeBand, Participant, Programme, SignUp, Workshop, WorkshopStatus
from app.models.participants import AGE_BAND_LABELS
from app.models.workshops import AUDIENCES
from app.objects import Guard
from app.services import consent, reserved_places, rooms, signups
from app.services import workshops as workshop_service
from app.services.workshops import WorkshopForm
from app.templating import render

router = routing.router()


# The workshop, if this staff member runs it. Anyone else gets "not found" (a 404), with
# words that help a colleague: ask who runs it.
RUN_WORKSHOP = Guard(
    Workshop, may=workshop_service.may_run, refused=workshop_service.RUN_BY_SOMEONE_ELSE
)
RunWorkshop = Annotated[Workshop, RUN_WORKSHOP.dependency("workshop_id", Facilitator)]


def sign_up_of(sign_up_id: int, workshop: RunWorkshop, session: SessionDep) -> SignUp:
    """A sign-up of the workshop in the address (one of another workshop's: not found)."""
    row = signups.get_for_workshop(session, workshop.id or 0, sign_up_id)
    if row is None:
        raise HTTPException(status_code=404)
    return row


WorkshopSignUp = Annotated[SignUp, Depends(sign_up_of)]


@router.get("/staff/workshops", response_class=HTMLResponse)
def staff_list(request: Request, session: SessionDep, who: Facilitator) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/list.html",
        {"cards": workshop_service.staff_cards(session, who)},
    )


def _form_page(
    request: Request,
    session: Any,
    form: FormState[Any],
    workshop: Workshop | None,
    choices: list[Programme],
    *,
    confirm_capacity: bool = False,
) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/form.html",
        {
            "form": form,
            "workshop": workshop,
            "confirm_capacity": confirm_capacity,
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
    workshop_service.cross_check(form, now=now, tz=settings.tz)
    if not form.ok or form.data is None:
        return _form_page(request, session, form, None, choices)
    workshop = workshop_service.apply_form(
        session, settings, form.data, workshop=None, actor=who, now=now
    )
    return flash.redirect(request, f"/staff/workshops/{workshop.id}", "Workshop created.")


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
    taken = workshop_service.places_taken(session, workshop.id or 0)
    warned = workshop_service.cross_check(
        form, now=now, tz=settings.tz, workshop=workshop, taken=taken
    )
    if workshop.status == WorkshopStatus.CANCELLED:
        form.add_error("title", "This workshop has been cancelled, so it can't be changed")
    if not form.ok or form.data is None:
        return _form_page(request, session, form, workshop, choices, confirm_capacity=warned)
    before = workshop_service.arrangements(workshop)
    workshop_service.apply_form(session, settings, form.data, workshop=workshop, actor=who, now=now)
    signups.fill_from_waiting_list(session, settings, workshop, now)
    told = signups.tell_about_changes(session, settings, workshop, before, now)
    words = "Workshop changed." + (
        f" We have emailed {told} {'person' if told == 1 else 'people'} what changed."
        if told
        else ""
    )
    return flash.redirect(request, f"/staff/workshops/{workshop.id}", words)


AGE_LABELS = {band.value: label for band, label in AGE_BAND_LABELS.items()}
# HX-Target -> the block of staff/workshops/detail.html that answers it.
DETAIL_FRAGMENTS = {
    "attendees": "attendees",
    "attendee-list": "attendee_list",
    "attendees-live": "attendees_live",
}


def attendee_list_context(
    session: Any, settings: Any, workshop: Workshop, now: Any = None
) -> dict[str, Any]:
    """What the attendee list shows: for the page, and for its live stream. Which of them
    (search, filter, sort) comes from the address of the page or stream (`attendee_view`)."""
    from app.db import utcnow

    assert workshop.id is not None
    return {
        "workshop": workshop,
        "attendance": rooms.attendance(session, settings, workshop.id),
        "age_labels": AGE_LABELS,
        "status_words": signups.STATUS_WORDS,
        "attendee_view": rooms.AttendeeView.from_query,
        "show_options": rooms.SHOW,
        "sort_options": rooms.SORT,
        "check_in_closed": rooms.check_in_words(settings, workshop, now or utcnow()),
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
    context = attendee_list_context(session, settings, workshop, now)
    version = context["attendance"].version
    view = rooms.AttendeeView.from_query(request.query_params).query_string
    also = f"&{view}" if view else ""
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
            "now": now,
            "reserved_left": reserved_places.left(session, workshop),
            "can_give_reserved": reserved_places.can_give_now(workshop, now),
            "room_state": rooms.room_state(workshop, now),
            "live": events.live_link(
                request.app,
                stream=f"/live/staff/workshops/{workshop.id}/attendees?state={version}{also}",
                poll=f"/staff/workshops/{workshop.id}" + (f"?{view}" if view else ""),
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
    who: Facilitator,
) -> HTMLResponse:
    if not is_htmx(request) and who.staff is not None and workshop.id is not None:
        # "New since you last looked" on the list: a short write of its own, so reading
        # the page (and its live parts asking for news) never holds a write lock.
        with request.app.state.open_session(True) as writer:
            workshop_service.mark_seen(writer, workshop.id, who.staff.id or 0, now)
            writer.commit()
    return _detail(request, workshop, session, settings, now)


@router.post("/staff/workshops/{workshop_id}/start")
def start_workshop(
    request: Request, workshop: RunWorkshop, session: SessionDep, now: NowDep, who: Facilitator
) -> Response:
    """ "Start the workshop now": every room open on a phone shows that it has started."""
    try:
        workshop_service.start_now(session, workshop, who, now)
    except workshop_service.CannotStartError:
        refused = "You can start only a published workshop that has not finished."
        return flash.redirect(
            request, f"/staff/workshops/{workshop.id}", refused, near="room-problem"
        )
    started = "The workshop has started. Everyone in the room can see it now."
    return flash.redirect(request, f"/staff/workshops/{workshop.id}#room", started, near="room")


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
    workshop: RunWorkshop,
    row: WorkshopSignUp,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    here = data.get("here") != "no"
    try:
        rooms.mark_here(session, settings, row, here, now, who)
    except rooms.CheckInClosedError:
        closed = rooms.check_in_words(settings, workshop, now) or ""
        if is_htmx(request):
            return _detail(request, workshop, session, settings, now, announce=closed)
        return flash.redirect(request, f"/staff/workshops/{workshop.id}#attendees", closed)
    if is_htmx(request):
        words = "is checked in" if here else "is no longer checked in"
        return _detail(
            request, workshop, session, settings, now, announce=f"{row.display_name} {words}"
        )
    return redirect(request, f"/staff/workshops/{workshop.id}#attendees")


def _scanned(token: str, session: SessionDep, who: Facilitator) -> tuple[SignUp, Workshop]:
    row = signups.by_check_in_token(session, token)
    if row is None and signups.link_of_erased_account(session, token):
        raise HTTPException(status_code=404, detail="account_deleted")
    workshop = RUN_WORKSHOP.check(
        who, RUN_WORKSHOP.find(session, row.workshop_id) if row is not None else None
    )
    assert row is not None  # found a workshop, so found its sign-up
    return row, workshop


Scanned = Annotated[tuple[SignUp, Workshop], Depends(_scanned)]


@router.get("/staff/check-in/{token}", response_class=HTMLResponse)
def scanned_page(
    request: Request,
    token: str,
    scanned: Scanned,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> HTMLResponse:
    row, workshop = scanned
    waiting = bool(signups.waiting_for_parent(session, settings, [row]))
    closed = rooms.check_in_words(settings, workshop, now)
    # The workshops this person runs that are on now: a code for another one says so.
    on_now = [
        other
        for other in workshop_service.for_staff(session, who)
        if other.id != workshop.id and workshop_service.code_works_now(settings, other, now)
    ]
    return render(
        request,
        "staff/workshops/check_in.html",
        {
            "sign_up": row,
            "workshop": workshop,
            "token": token,
            "waiting_for_parent": waiting,
            "check_in_closed": closed,
            "on_now": on_now,
            "status_words": signups.STATUS_WORDS,
            "now": now,
        },
    )


@router.post("/staff/check-in/{token}", response_class=HTMLResponse)
def scanned_check_in(
    request: Request,
    token: str,
    scanned: Scanned,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    row, workshop = scanned
    try:
        rooms.mark_here(session, settings, row, True, now, who)
    except rooms.CheckInClosedError:
        closed = rooms.check_in_words(settings, workshop, now) or ""
        return flash.redirect(request, f"/staff/check-in/{token}", closed)
    return flash.redirect(request, f"/staff/check-in/{token}", f"{row.display_name} is checked in.")


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
            "age_bands": [(b.value, b.label) for b in AgeBand],
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
    reserved_places.check_form(settings, form, workshop)
    if form.ok and form.data is not None:
        given = reserved_places.give(session, settings, workshop.id or 0, form.data, now, who)
        if given.result == "given":
            given_words = (
                "The reserved place is given. We have emailed them the details and a calendar file."
            )
            return flash.redirect(request, f"/staff/workshops/{workshop.id}", given_words)
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


def _message_page(
    request: Request, session: Any, workshop: Workshop, form: FormState[Any]
) -> HTMLResponse:
    counts = signups.message_counts(session, workshop.id or 0)
    return render(
        request,
        "staff/workshops/message.html",
        {
            "workshop": workshop,
            "form": form,
            "choices": [
                (to, f"{words} ({counts[to]})") for to, words in signups.MESSAGE_AUDIENCES.items()
            ],
        },
    )


@router.get("/staff/workshops/{workshop_id}/message", response_class=HTMLResponse)
def message_form(request: Request, workshop: RunWorkshop, session: SessionDep) -> HTMLResponse:
    return _message_page(request, session, workshop, empty_form(signups.MessageForm))


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
        return _message_page(request, session, workshop, form)
    sent = signups.message_attendees(session, settings, workshop, form.data, now, who)
    people = "person" if sent == 1 else "people"
    return flash.redirect(
        request,
        f"/staff/workshops/{workshop.id}",
        f"Your message is on its way to {sent} {people}.",
    )


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
    told = signups.cancel_workshop(session, settings, workshop, form.data.reason or "", now, who)
    people = "person" if told == 1 else "people"
    words = f"The workshop is cancelled. We have emailed {told} {people}."
    return flash.redirect(request, f"/staff/workshops/{workshop.id}", words)


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


# --- a parent's yes, given in person or on paper ------------------------------------------


def _parent_yes_page(
    request: Request, workshop: Workshop, row: SignUp, form: FormState[Any]
) -> HTMLResponse:
    return render(
        request,
        "staff/workshops/parent_yes.html",
        {"workshop": workshop, "sign_up": row, "form": form},
    )


@router.get(
    "/staff/workshops/{workshop_id}/sign-ups/{sign_up_id}/parent-yes",
    response_class=HTMLResponse,
)
def parent_yes_form(request: Request, workshop: RunWorkshop, row: WorkshopSignUp) -> HTMLResponse:
    return _parent_yes_page(request, workshop, row, empty_form(ParentYesForm))


@router.post(
    "/staff/workshops/{workshop_id}/sign-ups/{sign_up_id}/parent-yes",
    response_class=HTMLResponse,
)
def record_parent_yes(
    request: Request,
    workshop: RunWorkshop,
    row: WorkshopSignUp,
    data: FormDataDep,
    session: SessionDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(ParentYesForm, data)
    if not form.ok or form.data is None:
        return _parent_yes_page(request, workshop, row, form)
    child = session.get(Participant, row.participant_id)
    if child is None:
        raise HTTPException(status_code=404)
    consent.record_parent_yes(
        session,
        child,
        how=form.data.how,
        context=f'the workshop "{workshop.title}"',
        now=now,
        actor=who,
    )
    # The attendee list of every facilitator follows (it shows who still needs a yes).
    events.record(session, "attendee.checked_in", workshop_id=workshop.id, sign_up_id=row.id)
    words = f"We have recorded that {row.display_name}'s parent or carer said yes."
    return flash.redirect(request, f"/staff/workshops/{workshop.id}#sign-up-{row.id}", words)


class ParentYesForm(FormModel):
    how: Literal["in_person", "on_paper"]
    confirm: list[str] = []
    multi = ("confirm",)
    messages = {
        "how": {
            "missing": "Choose how the parent or carer said yes",
            "invalid": "Choose how the parent or carer said yes",
        }
    }

    @field_validator("confirm")
    @classmethod
    def _sure(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to confirm the parent or carer said yes")
        return value


# --- the projector view --------------------------------------------------------------------


@router.get("/staff/workshops/{workshop_id}/code/projector", response_class=HTMLResponse)
def projector(
    request: Request, workshop: RunWorkshop, settings: SettingsDep, now: NowDep
) -> HTMLResponse:
    """The join code for a room's screen: the code as large as the screen allows, a QR code
    readable from the back, the address and until when it works. Nothing else."""
    opens, closes = workshop_service.code_window(settings, workshop)
    return render(
        request,
        "staff/workshops/projector.html",
        {
            "workshop": workshop,
            "address": workshop_service.join_url(settings, "").split("?")[0].split("://")[-1],
            "code_opens": opens,
            "code_closes": closes,
            "works_now": workshop_service.code_works_now(settings, workshop, now),
            "now": now,
        },
    )
