"""The safeguarding leads' pages: the urgent queue and a concern (every view audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import routing
from app.deps import FormDataDep, NowDep, SessionDep, allow
from app.forms import FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Concern, ConcernStatus, NoteKind
from app.permissions import SAFEGUARDING
from app.routers.spaces import DbId
from app.services import moderation, safeguarding
from app.services.identity import Identity
from app.templating import render

router = routing.router()

Lead = Annotated[Identity, allow(SAFEGUARDING)]


def lead_concern(concern_id: DbId, session: SessionDep, who: Lead) -> Concern:
    """A concern this lead may see: their programmes' (anyone else gets "not found")."""
    concern = safeguarding.concern_for(session, concern_id, who)
    if concern is None:
        raise HTTPException(status_code=404)
    return concern


LeadConcern = Annotated[Concern, Depends(lead_concern)]


@router.get("/safeguarding", response_class=HTMLResponse)
def urgent_queue(request: Request, session: SessionDep, who: Lead) -> HTMLResponse:
    return render(
        request,
        "safeguarding/queue.html",
        {"rows": safeguarding.urgent_queue(session, who), "statuses": list(ConcernStatus)},
    )


def _concern_page(
    request: Request, session: Any, concern: Concern, form: FormState[Any]
) -> HTMLResponse:
    post = moderation.post_state(session, concern.post_id)
    return render(
        request,
        "safeguarding/concern.html",
        {
            "concern": concern,
            "notes": safeguarding.notes(session, concern.id or 0),
            "form": form,
            "statuses": [(s.value, s.label) for s in ConcernStatus],
            "kinds": [(k.value, k.label) for k in (NoteKind.NOTE, NoteKind.ACTION)],
            "post_state": post,
        },
    )


@router.get("/safeguarding/concerns/{concern_id}", response_class=HTMLResponse)
@routing.writes  # every view is audited
def concern_page(
    request: Request, concern: LeadConcern, session: SessionDep, now: NowDep, who: Lead
) -> HTMLResponse:
    safeguarding.open_concern(session, concern, who, now)
    form = empty_form(safeguarding.ConcernForm, kind="note", status=concern.status.value)
    return _concern_page(request, session, concern, form)


@router.post("/safeguarding/concerns/{concern_id}", response_class=HTMLResponse)
def update_concern(
    request: Request,
    concern: LeadConcern,
    data: FormDataDep,
    session: SessionDep,
    now: NowDep,
    who: Lead,
) -> Response:
    form = parse_form(safeguarding.ConcernForm, data)
    if form.data is not None:
        try:
            safeguarding.update(session, concern, form.data, who, now)
        except safeguarding.ConcernError as error:
            form.add_error("text", str(error))
    if not form.ok:
        safeguarding.open_concern(session, concern, who, now)
        return _concern_page(request, session, concern, form)
    return redirect(request, f"/safeguarding/concerns/{concern.id}")
