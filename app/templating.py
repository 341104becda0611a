"""Jinja2 with jinja2-fragments: whole pages, or one block of the same template for HTMX."""

from __future__ import annotations

import hashlib
import os
import secrets
from contextvars import ContextVar
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import pass_context
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import escape

from app import flash, permissions
from app.htmx import hx_target, is_htmx
from app.security import csrf_token
from app.services.identity import ANONYMOUS
from app.timefmt import DEFAULT_TZ, in_words, other_year, time_in_words

APP_DIR = Path(__file__).resolve().parent
templates = Jinja2Blocks(directory=str(APP_DIR / "templates"))
env = templates.env
env.trim_blocks = True
env.lstrip_blocks = True
# Checking every template file's age on every render costs more than rendering a small page;
# only development picks up edits without a restart.
env.auto_reload = os.environ.get("HEARD_ENV", "development") == "development"


@cache
def _static_hash(path: str) -> str:
    try:
        data = (APP_DIR / "static" / path).read_bytes()
    except OSError:
        return "0"
    return hashlib.sha256(data).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={_static_hash(path)}"


# The CSRF token of the page being rendered. Macros are imported without the page's context
# (and an HTMX fragment is one block, without the template's top-level imports), so the
# form macros read the token from here rather than from the context.
_csrf_for_render: ContextVar[str] = ContextVar("csrf_for_render", default="")


def current_csrf_token() -> str:
    return _csrf_for_render.get()


env.globals.update(
    static_url=static_url,
    current_csrf_token=current_csrf_token,
    **permissions.TEMPLATE_PREDICATES,
)
# Times in words, in the zone people read times in (HEARD_TIMEZONE), set per render.
_tz_for_render: ContextVar[str] = ContextVar("tz_for_render", default=DEFAULT_TZ)


@pass_context
def _when(context: Any, value: datetime | None, *, year: bool | None = None) -> str:
    """A time in words; with the year when it isn't this year (year=None), or as asked."""
    tz = _tz_for_render.get()
    if year is None:
        now = context.get("now")
        year = value is not None and isinstance(now, datetime) and other_year(value, now, tz)
    return in_words(value, tz, year=year)


def _time(value: datetime) -> str:
    return time_in_words(value, _tz_for_render.get())


env.filters["when"] = _when
env.filters["time"] = _time
# Every form macro is a global too, so a fragment (one block) can use them without imports.
_form_macros = env.get_template("macros/forms.html").module
env.globals.update(
    {name: getattr(_form_macros, name) for name in dir(_form_macros) if not name.startswith("_")}
)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    fragments: dict[str, str] | None = None,
    same_for_everyone: bool = False,
    same_within: tuple[Any, ...] | None = None,
    personal: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page; for HTMX, only the block that `fragments` maps its HX-Target to.

    A page is always a whole page first: fragments are blocks of its own template.

    same_for_everyone: the page shows nothing about who is asking, so for people who are not
    signed in it is rendered once and shared through the read cache (a whole room opening the
    home page or a workshop page at once). Only the CSRF token differs between them: the page
    is rendered with a stand-in and each copy gets its visitor's own token.

    same_within: the same for every signed-in participant (not staff) in the group this key
    names, but for the few words in `personal` (each a context value, such as the person's
    own name): a room of 300 phones opening its page at once renders it once. Each copy gets
    its own CSRF token and its own personal values, escaped as the template would have.
    """
    identity = getattr(request.state, "identity", ANONYMOUS)
    # A message about what just happened goes on the next whole page (not into a fragment,
    # and never into a page shared between visitors).
    whole_page = not (is_htmx(request) and fragments and hx_target(request) in fragments)
    if whole_page and flash.waiting(request):
        context = {"flash": flash.read(request), **(context or {})}
        response = _render(request, name, context, status_code, fragments, csrf_token(request))
        flash.forget(request, response)
        return response
    shared = request.app.state.read_cache
    group = _sharing(identity, same_for_everyone, same_within)
    if shared.enabled and group is not None:
        settings = request.app.state.settings
        key = (
            "page",
            name,
            request.scope["path"],
            request.scope.get("query_string", b""),
            hx_target(request) if is_htmx(request) else None,
            status_code,
            datetime.now(settings.tz).strftime("%Y%m%d%H%M"),
            group,
        )
        values = personal or {}
        stand_ins = {word: f"{PERSONAL_STAND_IN}{word}." for word in values}
        body = shared.get(
            key,
            lambda: (
                _render(
                    request,
                    name,
                    {**(context or {}), **stand_ins},
                    status_code,
                    fragments,
                    STAND_IN,
                ).body
            ),
        )
        body = body.replace(STAND_IN_BYTES, csrf_token(request).encode())
        for word, value in values.items():
            body = body.replace(stand_ins[word].encode(), str(escape(value)).encode())
        return HTMLResponse(body, status_code=status_code)
    return _render(request, name, context, status_code, fragments, csrf_token(request))


def _sharing(
    identity: Any, same_for_everyone: bool, same_within: tuple[Any, ...] | None
) -> tuple[Any, ...] | None:
    """Whose copy of a page this one can be: everyone not signed in, or the participants of
    a group (never staff: their pages show their own menus and timeouts)."""
    if same_for_everyone and identity.web_session is None:
        return ("everyone",)
    if same_within is not None and identity.participant is not None and identity.staff is None:
        return ("participants", *same_within)
    return None


def _clock(request: Request) -> datetime | None:
    """The app's clock (tests set their own, so "this year" is the test's year too)."""
    from app.deps import get_now

    override = request.app.dependency_overrides.get(get_now)
    value = override() if override is not None else None
    return value if isinstance(value, datetime) else None


# Stands in for the CSRF token in a page shared between visitors; random per process, so no
# text on a page can imitate it.
STAND_IN = f"csrf-stand-in-{secrets.token_hex(16)}"
STAND_IN_BYTES = STAND_IN.encode()
PERSONAL_STAND_IN = f"personal-stand-in-{secrets.token_hex(16)}-"


def _render(
    request: Request,
    name: str,
    context: dict[str, Any] | None,
    status_code: int,
    fragments: dict[str, str] | None,
    token: str,
) -> HTMLResponse:
    context = dict(context or {})
    settings = request.app.state.settings
    context.setdefault("identity", getattr(request.state, "identity", ANONYMOUS))
    context.update(
        request=request,
        settings=settings,
        csrf_token=token,
        now=context.get("now") or _clock(request) or datetime.now(settings.tz),
    )
    _csrf_for_render.set(context["csrf_token"])
    _tz_for_render.set(settings.timezone)
    block = None
    target = hx_target(request)
    if is_htmx(request) and fragments and target in fragments:
        block = fragments[target]
    if block:
        response = templates.TemplateResponse(
            request, name, context, status_code=status_code, block_name=block
        )
    else:
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
    assert isinstance(response, HTMLResponse)
    return response
