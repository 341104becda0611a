"""The security baseline every response goes through.

- a browser token cookie (random, HttpOnly, SameSite=Lax; `__Host-` and Secure in production)
  that names the server-side session and binds the CSRF token;
- the CSRF check on every state-changing request (token in the form or the X-CSRF-Token
  header, and no cross-site requests at all);
- security headers, and `Cache-Control: no-store` on anything personal;
- a request id for the logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.log import request_id_var

log = logging.getLogger("heard.request")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SLOW_SECONDS = 0.5
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TOKEN_BYTES = 32

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def browser_token(request: Request) -> str:
    return str(request.state.browser_token)


def csrf_token(request: Request) -> str:
    """The synchronizer token: bound to this browser's cookie, so a new sign-in renews it.

    A keyed BLAKE2b (one C call) rather than HMAC-SHA256 (a Python wrapper around two): every
    page carries one, and this was a measurable share of rendering a cached page.
    """
    key = hashlib.sha256(b"csrf|" + request.app.state.settings.secret_key.encode()).digest()
    return hashlib.blake2b(browser_token(request).encode(), key=key, digest_size=32).hexdigest()


def replace_browser_token(request: Request, *, max_age: int | None) -> str:
    """Issue a new cookie value (sign-in and sign-out): the old session id is never reused."""
    token = new_token()
    request.state.browser_token = token
    request.state.cookie_to_set = (token, max_age)
    return token


async def csrf_protect(request: Request) -> None:
    """A global dependency: refuses cross-site and token-less state-changing requests."""
    if request.method in SAFE_METHODS:
        return
    if request.headers.get("Sec-Fetch-Site") == "cross-site" or not _same_origin(request):
        raise HTTPException(status_code=403, detail="cross-site request")
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # The first parse decides the limits (Starlette keeps the parsed form for later).
            form = await request.form(
                max_fields=request.app.state.settings.max_form_fields, max_files=4
            )
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, csrf_token(request)):
        raise HTTPException(status_code=403, detail="csrf token missing or wrong")


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("Origin")
    if origin == "null":
        # Under Referrer-Policy: no-referrer, browsers send "Origin: null" with every form
        # POST; Fetch metadata then says whether it came from our own pages.
        return request.headers.get("Sec-Fetch-Site") == "same-origin"
    if not origin:
        return True
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    allowed = {host, urlsplit(request.app.state.settings.base_url).netloc}
    return parts.netloc in allowed


class SecurityMiddleware:
    """Pure ASGI, so streaming and background tasks keep working."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        on_error: Callable[[Request], Response] | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        # The page for an unhandled error (it gets every header below, like any other page).
        self.on_error = on_error
        # The same headers go on every response: worked out once, as raw bytes.
        fixed = [
            ("content-security-policy", CSP),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("permissions-policy", "geolocation=(), camera=(), microphone=(), interest-cohort=()"),
        ]
        if settings.is_production:
            fixed.append(("strict-transport-security", "max-age=63072000; includeSubDomains"))
        self.fixed = [(k.encode(), v.encode()) for k, v in fixed]
        # Pages may hold a form token or personal data: never store them anywhere.
        self.page_only = [(b"cache-control", b"no-store")]
        self.replaced = {k for k, _ in self.fixed} | {b"cache-control", b"vary"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        reset = request_id_var.set(request_id)
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        cookie = _read_cookie(scope, self.settings.session_cookie_name)
        state["browser_token"] = cookie or new_token()
        state["cookie_to_set"] = None if cookie else (state["browser_token"], None)
        # A browser that sent no cookie has no session: nothing to look up.
        state["new_browser"] = cookie is None
        state["request_id"] = request_id
        state["personal"] = False
        status_holder: dict[str, int] = {}
        is_page = not scope.get("path", "").startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = self._headers(message.get("headers", []), state, is_page)
                message["headers"].append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error")
            if "status" in status_holder or self.on_error is None:
                raise
            await self.on_error(Request(scope))(scope, receive, send_wrapper)
        finally:
            status = status_holder.get("status", 500)
            seconds = time.perf_counter() - started
            # Every request is logged at DEBUG; at INFO only refusals, errors and slow ones:
            # a log line per request was a tenth of a busy process's time.
            level = logging.INFO if status >= 400 or seconds >= SLOW_SECONDS else logging.DEBUG
            if is_page and log.isEnabledFor(level):
                log.log(
                    level,
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": _route_template(scope),
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )
            request_id_var.reset(reset)

    def _headers(
        self, given: Iterable[tuple[bytes, bytes]], state: dict[str, Any], is_page: bool
    ) -> list[tuple[bytes, bytes]]:
        vary = b""
        headers: list[tuple[bytes, bytes]] = []
        for key, value in given:
            lowered = key.lower()
            if lowered == b"vary":
                vary = value
            elif lowered not in self.replaced:
                headers.append((key, value))
        headers += self.fixed
        if is_page:
            headers += self.page_only
            headers.append((b"vary", vary + b", HX-Request" if vary else b"HX-Request"))
        elif vary:
            headers.append((b"vary", vary))
        pending = state.get("cookie_to_set")
        if pending is not None:
            headers.append((b"set-cookie", self._cookie(*pending).encode("latin-1")))
        return headers

    def _cookie(self, value: str, max_age: int | None) -> str:
        parts = [f"{self.settings.session_cookie_name}={value}", "HttpOnly", "Path=/"]
        parts.append("SameSite=Lax")
        if self.settings.is_production:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return "; ".join(parts)


def _read_cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            if name in jar:
                token = jar[name].value
                if 20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum():
                    return token
    return None


def _route_template(scope: Scope) -> Any:
    route = scope.get("route")
    return getattr(route, "path", None) or "(unmatched)"
