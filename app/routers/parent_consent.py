"""A parent or carer answers for their child, from the one-time link we emailed them."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from app import routing
from app.deps import Anyone, FormDataDep, NowDep, SessionDep
from app.htmx import redirect
from app.services import consent, signups
from app.templating import render

router = routing.router()


@router.get("/parent/consent", response_class=HTMLResponse)
def ask(
    request: Request, session: SessionDep, now: NowDep, _: Anyone, token: str = ""
) -> HTMLResponse:
    # Looking does not use the link (email scanners open links); the buttons do.
    found = consent.waiting_parent_request(session, token[:100], now) if token else None
    if found is None:
        return render(request, "parent/link_expired.html", status_code=400)
    child, record = found
    return render(
        request,
        "parent/consent.html",
        {
            "child": child,
            "record": record,
            "token": token[:100],
            # What they are asking to go to: when, where and what happens there.
            "workshops": signups.workshops_of(session, child.id or 0),
            "now": now,
        },
    )


@router.post("/parent/consent", response_class=HTMLResponse)
def answer(
    request: Request, data: FormDataDep, session: SessionDep, now: NowDep, _: Anyone
) -> Response:
    token, choice = data.get("token"), data.get("answer")
    if not isinstance(token, str) or choice not in {"yes", "no"}:
        return render(request, "parent/link_expired.html", status_code=400)
    record = consent.answer_parent_request(session, token[:100], choice == "yes", now)
    if record is None:
        return render(request, "parent/link_expired.html", status_code=400)
    return redirect(request, f"/parent/consent/done?answer={choice}")


@router.get("/parent/consent/done", response_class=HTMLResponse)
def done(request: Request, _: Anyone, answer: str = "") -> HTMLResponse:
    # Only what the address says: without an answer, the page claims neither yes nor no.
    said = answer if answer in ("yes", "no") else None
    return render(request, "parent/done.html", {"said": said})
