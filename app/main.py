"""The app factory: settings, database, middleware, routers, templates, static files."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from app import redirects
from app.admission import AdmissionGate, BodyLimit
from app.cache import WRITTEN_TOPIC, ReadCache
from app.config import Settings, get_settings
from app.db import check_server_allows, connection_budget, make_engine, session_factory
from app.log import configure_logging
from app.permissions import NeedsSignIn
from app.ratelimit import RateLimits
from app.routers import (
    calls,
    contact,
    dev,
    discussion,
    health,
    join,
    live,
    me,
    pages,
    parent_consent,
    programme_updates,
    rounds,
    staff_admin,
    staff_auth,
    staff_calls,
    staff_programmes,
    staff_rounds,
    staff_workshops,
    workshops,
)
from app.routing import HeardRoute, HeardRouter
from app.security import SecurityMiddleware
from app.services import outbox
from app.templating import APP_DIR, render

log = logging.getLogger("heard")

ERROR_PAGES = {
    400: "errors/400.html",
    403: "errors/403.html",
    404: "errors/404.html",
    405: "errors/404.html",
    413: "errors/413.html",
    429: "errors/429.html",
    503: "errors/503.html",
}


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    settings = settings or get_settings()
    budget = connection_budget(settings)
    engine = engine or make_engine(settings.database_url, pool_size=budget.pool_size)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(check_server_allows, app.state.engine, app.state.settings)
        # Enough threads for every request let in, plus a few for live streams' checks.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, budget.in_flight + 8)
        # Live updates: in this process, or shared through Redis (HEARD_REDIS_URL).
        from app import events

        broker = await events.start_broker(app)
        # Another process's write empties this process's read cache too (app/cache.py).
        broker.listen(WRITTEN_TOPIC, lambda happened: _written_elsewhere(app, happened))
        yield
        await events.stop_broker(app)

    app = FastAPI(
        title="Heard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        # No tracing, metrics or log export (privacy by default), and no per-request check
        # for them: that check was a seventh of a busy process's time.
        telemetry={
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        },
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.open_session = session_factory(engine)
    app.state.rate_limits = RateLimits(settings.redis_url)
    outbox.limit_per_recipient(settings.mail_rate_per_recipient)  # emails to one mailbox
    # Without a way to tell other web processes of a write (Redis), nothing is kept longer
    # than the few seconds within which another process's change must show.
    everyone_hears = settings.web_workers <= 1 or bool(settings.redis_url)
    app.state.read_cache = ReadCache(
        settings.read_cache_seconds,
        personal_seconds=(
            settings.read_cache_personal_seconds if everyone_hears else settings.read_cache_seconds
        ),
    )

    # Added innermost first: Security (with the 500 page) > BodyLimit > writers' gate (SQLite)
    # > AdmissionGate > the routes.
    app.add_middleware(
        AdmissionGate,
        limit=budget.in_flight,
        max_wait=settings.request_queue_seconds,
        max_queue=settings.request_queue_max,
        refuse=_error_page,
    )
    if engine.dialect.name == "sqlite":
        app.add_middleware(
            AdmissionGate,
            limit=settings.sqlite_writers,
            max_wait=settings.request_queue_seconds * 2,
            max_queue=settings.request_queue_max,
            refuse=_error_page,
            writes_only=True,
        )
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        refuse=_error_page,
        # A form with a picture: the picture, and room for the rest of the form.
        larger=[(PICTURE_FORMS, settings.picture_max_bytes + settings.max_body_bytes)],
    )
    app.add_middleware(SecurityMiddleware, settings=settings, on_error=_server_error_page)
    # Static files are compressed (phones, poor signal); pages are not, because they carry a
    # CSRF token beside text people typed (BREACH). A proxy in front may compress them.
    static = GZipMiddleware(StaticFiles(directory=APP_DIR / "static"), minimum_size=500)
    app.mount("/static", static, name="static")
    # Matched in this order, one route at a time: what a whole room opens at once comes
    # first (no two routers share a path, so the order changes nothing else).
    for module in (
        health,
        workshops,
        pages,
        join,
        live,
        discussion,
        calls,
        me,
        parent_consent,
        contact,
        staff_auth,
        dev,
        staff_admin,
        staff_workshops,
        staff_calls,
        programme_updates,
        staff_programmes,
        rounds,
        staff_rounds,
    ):
        app.include_router(module.router)
    _every_route_is_a_heard_route(app)
    _error_handlers(app)
    return app


# The forms that take a picture (staff opening a thread with one).
PICTURE_FORMS = re.compile(r"/staff/spaces/[0-9]{1,10}/threads")


def _written_elsewhere(app: FastAPI, happened: Any) -> None:
    if happened.data.get("process") != app.state.read_cache.process:
        app.state.read_cache.clear()


def _every_route_is_a_heard_route(app: FastAPI) -> None:
    """A route of another class would skip the unit of work and the CSRF check; a router of
    another class would not step aside (app/routing.py). FastAPI keeps included routers
    whole, so their routes are walked through FastAPI's own route contexts."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and not isinstance(route, HeardRoute):
            raise TypeError(f"{context.path} must be made by app.routing.router()")
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None and not isinstance(inner, HeardRouter):
            raise TypeError("every router must be made by app.routing.router()")


def _server_error_page(request: Request) -> Response:
    return render(request, "errors/500.html", status_code=500)


def _error_page(request: Request, status: int) -> Response:
    """An error page that needs no database (the middleware's refusals: 413, 503)."""
    return render(request, ERROR_PAGES.get(status, "errors/400.html"), status_code=status)


def _error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path in {"/healthz", "/readyz"}:
            return JSONResponse({"status": "error"}, status_code=exc.status_code)
        template = ERROR_PAGES.get(exc.status_code, "errors/400.html")
        headers = {"Retry-After": "60"} if exc.status_code == 429 else None
        if exc.status_code == 404:
            await _who_is_lost(request)
        # A route may say why (e.g. "workshop_run_by_someone_else"): the page has words for it.
        reason = exc.detail if isinstance(exc.detail, str) else None
        response = render(request, template, {"reason": reason}, status_code=exc.status_code)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        # Wrong types in a URL or query (e.g. /dev/mail/abc): a kind "not found", never a 500.
        return render(request, "errors/404.html", status_code=404)

    @app.exception_handler(NeedsSignIn)
    async def needs_sign_in(request: Request, exc: NeedsSignIn) -> Response:
        where, home = ("/staff/sign-in", "/staff") if exc.who == "staff" else ("/me/sign-in", "/me")
        # Come back here after signing in (a scanned check-in QR code, say). Only a GET can
        # be opened again; a form posted while signed out is simply lost.
        back = redirects.here(request) if request.method == "GET" else None
        return RedirectResponse(
            redirects.with_next(where, None if back == home else back), status_code=303
        )


async def _who_is_lost(request: Request) -> None:
    """A page not found keeps the signed-in menu (staff, My stuff): no route ran to find out
    who is asking, so find out here. Never lets the error page itself fail."""
    from app.deps import get_identity

    if "identity" in request.scope.get("state", {}):
        return
    with contextlib.suppress(Exception):
        await get_identity(request)


def build() -> Any:
    """Entry point for `uvicorn --factory app.main:build`."""
    configure_logging()
    return create_app()
