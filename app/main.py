"""The app factory: settings, database, middleware, routers, templates, static files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import redirects
from app.config import Settings, get_settings
from app.admission import AdmissionGate, BodyLimit
from app.db import check_server_allows, connection_budget, make_engine, session_factory
from app.log import configure_logging
from app.permissions import NeedsSignIn
from app.ratelimit import RateLimits
from app.routers import (
    contact,
    dev,
    health,
    join,
    me,
    pages,
    parent_consent,
    staff_admin,
    staff_auth,
    staff_workshops,
    workshops,
)
from app.security import SecurityMiddleware, csrf_protect
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
        task = None
        interval = app.state.settings.outbox_interval_seconds
        if interval > 0:
            task = asyncio.create_task(_outbox_loop(app, interval))
        yield
        if task:
            task.cancel()

    app = FastAPI(
        title="Heard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(csrf_protect)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.open_session = session_factory(engine)
    app.state.rate_limits = RateLimits(settings.redis_url)

    if engine.dialect.name == "sqlite":
        app.add_middleware(SqliteWriteGate, writers=settings.sqlite_writers)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, refuse=_error_page)
    app.add_middleware(
        AdmissionGate,
        limit=budget.in_flight,
        max_wait=settings.request_queue_seconds,
        max_queue=settings.request_queue_max,
        refuse=_error_page,
    )
    app.add_middleware(SecurityMiddleware, settings=settings)
    # Static files are compressed (phones, poor signal); pages are not, because they carry a
    # CSRF token beside text people typed (BREACH). A proxy in front may compress them.
    static = GZipMiddleware(StaticFiles(directory=APP_DIR / "static"), minimum_size=500)
    app.mount("/static", static, name="static")
    for module in (
        health,
        pages,
        contact,
        join,
        staff_auth,
        dev,
        me,
        parent_consent,
        staff_admin,
        workshops,
        staff_workshops,
    ):
        app.include_router(module.router)
    _error_handlers(app)
    return app


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
        response = render(request, template, status_code=exc.status_code)
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


class SqliteWriteGate:
    """On SQLite, let only a few writing requests at a time into the app.

    SQLite has one writer. A writing request takes the lock at its first query and then needs
    more worker threads (the route, then the commit). With 50 people pressing "Sign up" at
    once, every worker thread could end up waiting for the lock while the request holding
    it waits for a thread: a stall until the busy timeout. Waiting here costs no thread.
    """

    def __init__(self, app: ASGIApp, writers: int) -> None:
        self.app = app
        self.gate = asyncio.Semaphore(max(writers, 1))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in {"GET", "HEAD", "OPTIONS"}:
            await self.app(scope, receive, send)
            return
        async with self.gate:
            await self.app(scope, receive, send)


class CatchAllMiddleware:
    """Inside the security middleware, so even the 500 page gets every security header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled error")
            if started:
                raise
            response = render(Request(scope), "errors/500.html", status_code=500)
            await response(scope, receive, send)


async def _outbox_loop(app: FastAPI, every: float) -> None:
    """`make run` sends mail in the background; production runs `heard jobs run` on a timer."""
    from app.db import utcnow
    from app.services import outbox

    while True:
        try:
            await outbox.send_due(app.state.open_session, app.state.settings, utcnow())
        except Exception:
            log.exception("outbox loop failed")
        await asyncio.sleep(every)


def build() -> Any:
    """Entry point for `uvicorn --factory app.main:build`."""
    configure_logging()
    return create_app()
