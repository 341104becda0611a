"""Programmes for staff: write "you said, we did" updates, publish them, and email them to
the programme's confirmed subscribers through the outbox, watching the worker's progress."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import flash, routing
from app.deps import Admin, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormState, empty_form, parse_form
from app.models import Programme, ProgrammeUpdate, Role
from app.services import audit, calls, programmes, subscriptions
from app.services.programmes import UpdateForm
from app.services.subscriptions import SubscribeForm
from app.templating import render

router = routing.router()
FRAGMENTS = {"progress": "progress"}


def runnable_programme(programme_id: int, db: SessionDep, who: Admin) -> Programme:
    """The programme, if this person is an admin of it (anyone else: "not found")."""
    programme = db.get(Programme, programme_id)
    if programme is None or not calls.may_build(who, programme.id):
        raise HTTPException(status_code=404)
    return programme


RunProgramme = Annotated[Programme, Depends(runnable_programme)]


def _update(db: SessionDep, programme: RunProgramme, update_id: int) -> ProgrammeUpdate:
    update = programmes.update_of(db, programme.id or 0, update_id)
    if update is None:
        raise HTTPException(status_code=404)
    return update


ProgrammeUpdateDep = Annotated[ProgrammeUpdate, Depends(_update)]


@router.get("/staff/programmes", response_class=HTMLResponse)
def programme_list(request: Request, db: SessionDep, who: Admin) -> HTMLResponse:
    rows = [p for p in programmes.all_programmes(db) if calls.may_build(who, p.id)]
    context = {"rows": rows, "may_look_up": who.has_role(Role.ADMIN)}
    return render(request, "staff/programmes/list.html", context)


def _programme_page(
    request: Request, db: Any, programme: Programme, form: FormState[Any]
) -> HTMLResponse:
    assert programme.id is not None
    context = {
        "programme": programme,
        "updates": programmes.updates_for_staff(db, programme.id),
        "subscribers": subscriptions.confirmed_count(db, programme.id),
        "form": form,
        "max": programmes.UPDATE_MAX,
    }
    return render(request, "staff/programmes/detail.html", context)


@router.get("/staff/programmes/{programme_id}", response_class=HTMLResponse)
def programme_detail(request: Request, db: SessionDep, programme: RunProgramme) -> HTMLResponse:
    return _programme_page(request, db, programme, empty_form(UpdateForm))


@router.post("/staff/programmes/{programme_id}/updates", response_class=HTMLResponse)
def add_update(
    request: Request,
    data: FormDataDep,
    db: SessionDep,
    now: NowDep,
    programme: RunProgramme,
    who: Admin,
) -> Response:
    form = parse_form(UpdateForm, data)
    if not form.ok or form.data is None:
        return _programme_page(request, db, programme, form)
    update = programmes.add_update(db, programme, form.data, now)
    audit.record(
        db, who, "programme_update.drafted", record_type="programme_update", record_id=update.id
    )
    return flash.redirect(
        request,
        f"/staff/programmes/{programme.id}",
        "Update saved as a draft. Check it, then publish it.",
    )


@router.post(
    "/staff/programmes/{programme_id}/updates/{update_id}/publish", response_class=HTMLResponse
)
def publish_update(
    request: Request,
    db: SessionDep,
    now: NowDep,
    programme: RunProgramme,
    update: ProgrammeUpdateDep,
    who: Admin,
) -> Response:
    if programmes.publish_update(db, update, now):
        audit.record(
            db,
            who,
            "programme_update.published",
            record_type="programme_update",
            record_id=update.id,
        )
    return flash.redirect(
        request, f"/staff/programmes/{programme.id}", "Update published on the programme page."
    )


@router.post(
    "/staff/programmes/{programme_id}/updates/{update_id}/send", response_class=HTMLResponse
)
def send_update(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    programme: RunProgramme,
    update: ProgrammeUpdateDep,
    who: Admin,
) -> Response:
    if update.published_at is None:
        return flash.redirect(
            request, f"/staff/programmes/{programme.id}", "Publish the update before sending it."
        )
    queued = subscriptions.send_update(db, settings, programme, update, now)
    audit.record(
        db,
        who,
        "programme_update.sent",
        record_type="programme_update",
        record_id=update.id,
        queued_now=queued,
    )
    return flash.redirect(
        request,
        f"/staff/programmes/{programme.id}/updates/{update.id}",
        "Sending the update to everyone who confirmed they want updates.",
    )


@router.get("/staff/programmes/{programme_id}/updates/{update_id}", response_class=HTMLResponse)
def update_progress(
    request: Request, db: SessionDep, programme: RunProgramme, update: ProgrammeUpdateDep
) -> HTMLResponse:
    context = {
        "programme": programme,
        "update": update,
        "progress": subscriptions.progress(db, update),
        "subscribers": subscriptions.confirmed_count(db, programme.id or 0),
    }
    return render(request, "staff/programmes/update.html", context, fragments=FRAGMENTS)


# --- personal data: someone who asked for updates asks what we hold, or to be forgotten ------


def _everywhere_admin(who: Admin) -> Any:
    """Subscriptions cross programmes: only admins of every programme look them up."""
    if not who.has_role(Role.ADMIN):
        raise HTTPException(status_code=404)
    return who


EverywhereAdmin = Annotated[Any, Depends(_everywhere_admin)]


def _requests_page(
    request: Request, form: FormState[Any], rows: list[dict[str, Any]] | None = None
) -> HTMLResponse:
    context = {"form": form, "rows": rows}
    return render(request, "staff/programmes/data_requests.html", context)


@router.get("/staff/subscriptions", response_class=HTMLResponse)
def data_requests(request: Request, _: EverywhereAdmin) -> HTMLResponse:
    return _requests_page(request, empty_form(SubscribeForm))


@router.post("/staff/subscriptions", response_class=HTMLResponse)
def find_subscriptions(
    request: Request, data: FormDataDep, db: SessionDep, who: EverywhereAdmin
) -> HTMLResponse:
    """A lookup, shown at once (an address never goes into a URL or the audit log)."""
    form = parse_form(SubscribeForm, data)
    if not form.ok or form.data is None:
        return _requests_page(request, form)
    rows = subscriptions.export_for_address(db, form.data.email)
    audit.record(db, who, "subscriptions.looked_up", record_type="subscription", found=len(rows))
    return _requests_page(request, form, rows)


@router.post("/staff/subscriptions/erase", response_class=HTMLResponse)
def erase_subscriptions(
    request: Request, data: FormDataDep, db: SessionDep, who: EverywhereAdmin
) -> Response:
    form = parse_form(SubscribeForm, data)
    if not form.ok or form.data is None:
        return _requests_page(request, form)
    erased = subscriptions.erase_address(db, form.data.email)
    audit.record(db, who, "subscriptions.erased", record_type="subscription", erased=erased)
    people = "subscription" if erased == 1 else "subscriptions"
    return flash.redirect(request, "/staff/subscriptions", f"Deleted {erased} {people}.")
