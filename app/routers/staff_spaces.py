"""Spaces for the staff who run workshops: open a workshop room's space, open threads with a
prompt, and choose how posts are checked."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile as StarletteUpload

from app import routing, uploads
from app.deps import Facilitator, FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Space, SpaceMode, Workshop
from app.models.spaces import SPACE_MODE_LABELS
from app.routers.spaces import DbId, form_id, picture_response, thread_of
from app.services import spaces, spaces_staff
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.templating import render

router = routing.router()


class ThreadForm(FormModel):
    prompt: str = ""
    picture_alt: str = ""
    # A picture already checked and kept while the rest of the form is put right.
    picture_kept: str = ""


class ModeForm(FormModel):
    mode: str = ""


def run_space(space_id: DbId, session: SessionDep, who: Facilitator) -> Space:
    """The space, if this member of staff runs its workshop (anyone else: "not found")."""
    space = session.get(Space, space_id)
    workshop = session.get(Workshop, space.workshop_id) if space and space.workshop_id else None
    if (
        space is None
        or workshop is None
        or not workshop_service.can_run(
            who, workshop, workshop_service.facilitator_ids(session, workshop.id or 0)
        )
    ):
        raise HTTPException(status_code=404)
    return space


RunSpace = Annotated[Space, Depends(run_space)]


@router.get("/staff/spaces", response_class=HTMLResponse)
def space_list(request: Request, session: SessionDep, who: Facilitator) -> HTMLResponse:
    rows = [
        (workshop, spaces.for_workshop(session, workshop.id or 0))
        for workshop in workshop_service.for_staff(session, who)
    ]
    return render(request, "staff/spaces/list.html", {"rows": rows})


@router.post("/staff/spaces", response_class=HTMLResponse)
def open_space(
    request: Request, data: FormDataDep, session: SessionDep, now: NowDep, who: Facilitator
) -> Response:
    workshop_id = form_id(data.get("workshop_id"))
    workshop = session.get(Workshop, workshop_id) if workshop_id else None
    if workshop is None or not workshop_service.can_run(
        who, workshop, workshop_service.facilitator_ids(session, workshop.id or 0)
    ):
        return redirect(request, "/staff/spaces")
    space = spaces_staff.open_for_workshop(session, workshop, who, now)
    return redirect(request, f"/staff/spaces/{space.id}")


def _space_page(
    request: Request,
    session: Any,
    space: Space,
    who: Identity,
    *,
    thread_form: FormState[Any] | None = None,
    mode_form: FormState[Any] | None = None,
) -> HTMLResponse:
    modes = [(m.value, SPACE_MODE_LABELS[m]) for m in SpaceMode]
    if space.under_18s:
        modes = [m for m in modes if m[0] != SpaceMode.POST_MODERATED.value]
    return render(
        request,
        "staff/spaces/space.html",
        {
            "space": space,
            "threads": spaces.threads(session, space.id or 0),
            "thread_form": thread_form or empty_form(ThreadForm),
            "mode_form": mode_form or empty_form(ModeForm, mode=space.mode.value),
            "modes": modes,
        },
    )


@router.get("/staff/spaces/{space_id}", response_class=HTMLResponse)
def space_page(
    request: Request, space: RunSpace, session: SessionDep, who: Facilitator
) -> HTMLResponse:
    return _space_page(request, session, space, who)


@router.post("/staff/spaces/{space_id}/threads", response_class=HTMLResponse)
def add_thread(
    request: Request,
    space: RunSpace,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Facilitator,
) -> Response:
    form = parse_form(ThreadForm, data)
    picture = uploads.kept_picture(settings, form.values["picture_kept"])
    chosen = data.get("picture")
    if isinstance(chosen, StarletteUpload) and (chosen.filename or chosen.size):
        try:
            picture = uploads.store_picture(
                settings, chosen.file.read(settings.picture_max_bytes + 1)
            )
        except uploads.UploadError as error:
            form.add_error("picture", error.message)
    form.values["picture_kept"] = picture.key if picture is not None else ""
    prompt, alt = form.values["prompt"], form.values["picture_alt"]
    for name, message in spaces_staff.thread_problems(prompt, alt, picture is not None).items():
        form.add_error(name, message)
    if form.errors:
        return _space_page(request, session, space, who, thread_form=form)
    spaces_staff.add_thread(session, space, prompt, who, now, picture=picture, picture_alt=alt)
    return redirect(request, f"/staff/spaces/{space.id}")


@router.get("/staff/spaces/{space_id}/threads/{thread_id}/picture")
def thread_picture(
    space: RunSpace, thread_id: DbId, session: SessionDep, settings: SettingsDep, _: Facilitator
) -> Response:
    """The picture with a thread's prompt, for the staff who run its space."""
    return picture_response(settings, thread_of(session, space, thread_id))


@router.post("/staff/spaces/{space_id}/mode", response_class=HTMLResponse)
def change_mode(
    request: Request, space: RunSpace, data: FormDataDep, session: SessionDep, who: Facilitator
) -> Response:
    form = parse_form(ModeForm, data)
    try:
        spaces_staff.set_mode(session, space, form.values["mode"], who)
    except spaces.SpaceError as error:
        form.add_error("mode", error.message)
        return _space_page(request, session, space, who, mode_form=form)
    return redirect(request, f"/staff/spaces/{space.id}")
