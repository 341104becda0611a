"""Development only: read the emails Heard would have sent, and click their links."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.deps import DevelopmentOnly, SessionDep
from app.services import dev_mail
from app.templating import render

router = APIRouter()


@router.get("/dev/mail", response_class=HTMLResponse)
def mail_list(request: Request, session: SessionDep, _: DevelopmentOnly) -> HTMLResponse:
    return render(request, "dev/mail_list.html", {"emails": dev_mail.recent(session)})


@router.get("/dev/mail/{email_id}", response_class=HTMLResponse)
def mail_view(
    request: Request, email_id: int, session: SessionDep, _: DevelopmentOnly
) -> HTMLResponse:
    email = dev_mail.get(session, email_id)
    if email is None:
        raise HTTPException(status_code=404)
    return render(
        request, "dev/mail_view.html", {"email": email, "parts": dev_mail.linkify(email.body_text)}
    )
