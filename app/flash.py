"""What just happened ("Roles saved"), said once on the next page.

Never read from the address: `?sent=500` would let any link make a page claim something that
never happened. The message travels in a short-lived cookie signed with the secret key and
bound to this browser's own cookie, so nobody else can make one. The next whole page shows
it once, in a status region that is announced (templates/base.html), and the cookie goes.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from app import htmx
from app.config import Settings
from app.security import browser_token

MAX_AGE = 300  # seconds: a message nobody saw by then is stale
MAX_TEXT = 300


@dataclass(frozen=True)
class Flash:
    text: str
    # Where the page shows it: None for the top of the page, or the id of the part the
    # person was working on (the page's template places it there).
    near: str | None = None


def cookie_name(settings: Settings) -> str:
    return "__Host-heard_flash" if settings.is_production else "heard_flash"


def redirect(request: Request, url: str, text: str, *, near: str | None = None) -> Response:
    """Post/Redirect/Get, saying `text` on the page it lands on."""
    response = htmx.redirect(request, url)
    settings: Settings = request.app.state.settings
    response.set_cookie(
        cookie_name(settings),
        _seal(settings, browser_token(request), Flash(text[:MAX_TEXT], near)),
        max_age=MAX_AGE,
        path="/",
        secure=settings.is_production,
        httponly=True,
        samesite="lax",
    )
    return response


def waiting(request: Request) -> bool:
    return cookie_name(request.app.state.settings) in request.cookies


def read(request: Request) -> Flash | None:
    """The message waiting for this browser, if it is genuine (see `forget`)."""
    settings: Settings = request.app.state.settings
    value = request.cookies.get(cookie_name(settings))
    return None if value is None else _unseal(settings, browser_token(request), value)


def forget(request: Request, response: Response) -> None:
    """Said once: the page that shows the message removes it."""
    settings: Settings = request.app.state.settings
    response.delete_cookie(
        cookie_name(settings), path="/", secure=settings.is_production, httponly=True
    )


def _mac(settings: Settings, token: str, payload: str) -> str:
    key = settings.secret_key.encode()
    message = b"flash|" + token.encode() + b"|" + payload.encode()
    return hmac.new(key, message, "sha256").hexdigest()


def _seal(settings: Settings, token: str, flash: Flash) -> str:
    data = json.dumps({"t": flash.text, "n": flash.near}).encode()
    payload = base64.urlsafe_b64encode(data).decode().rstrip("=")
    return f"{payload}.{_mac(settings, token, payload)}"


def _unseal(settings: Settings, token: str, value: str) -> Flash | None:
    payload, _, mac = value.rpartition(".")
    if not payload or not hmac.compare_digest(mac, _mac(settings, token, payload)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        text, near = data["t"], data["n"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(text, str) or not (near is None or isinstance(near, str)):
        return None
    return Flash(text[:MAX_TEXT], near)
