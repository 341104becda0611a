"""Development only: read the emails Heard would have sent, and click their links.

The mail viewer shows every sign-in link, so it answers only the machine Heard runs on: a
development server someone else can reach must not hand them a staff sign-in link.
"""

from __future__ import annotations

import ipaddress

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from app import routing
from app.deps import DevelopmentOnly, SessionDep
from app.services import dev_mail
from app.templating import render

router = routing.router()

# Set by a proxy or tunnel passing on someone else's request: never "this machine".
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def from_this_machine(request: Request) -> bool:
    """Asked from a loopback address (127.0.0.0/8 or ::1), not passed on by a proxy."""
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
    return loopback and not any(name in request.headers for name in FORWARDING_HEADERS)


async def this_machine_only(request: Request) -> None:
    if not from_this_machine(request):
        raise HTTPException(status_code=404)


ThisMachineOnly = Depends(this_machine_only)


@router.get("/dev/mail", response_class=HTMLResponse, dependencies=[ThisMachineOnly])
def mail_list(request: Request, session: SessionDep, _: DevelopmentOnly) -> HTMLResponse:
    return render(request, "dev/mail_list.html", {"emails": dev_mail.recent(session)})


@router.get("/dev/mail/{email_id}", response_class=HTMLResponse, dependencies=[ThisMachineOnly])
def mail_view(
    request: Request, email_id: int, session: SessionDep, _: DevelopmentOnly
) -> HTMLResponse:
    email = dev_mail.get(session, email_id)
    if email is None:
        raise HTTPException(status_code=404)
    return render(
        request, "dev/mail_view.html", {"email": email, "parts": dev_mail.linkify(email.body_text)}
    )
