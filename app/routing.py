"""Every route is a `HeardRoute`: one unit of work per request, and CSRF on every write.

Why a route class rather than dependencies: FastAPI runs a generator dependency through an
exit stack and a shielded cancel scope, which cost more than rendering a whole page; a plain
wrapper around the route's handler does the same job for almost nothing. The CSRF check is
attached only to routes that change state, so reading a page pays nothing for it.

Every router is made with `router()` below, and `create_app` refuses to start with a route
of another class, so no route can miss the unit of work or the CSRF check.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match
from starlette.types import Scope

from app.cache import WRITTEN_TOPIC
from app.db import has_written
from app.events import Event
from app.security import SAFE_METHODS, csrf_protect

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def writes(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a GET route that must write (a download that records its audit entry): its unit
    of work is a writing one from the start."""
    endpoint.writes = True  # type: ignore[attr-defined]
    return endpoint


def token_is_the_key(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a POST whose only key is the secret token in its own address, so it gets no CSRF
    check: one-click unsubscribe (RFC 8058), which mail programs post from their own servers
    with no cookie and so no CSRF token. It needs none: CSRF tricks a browser into using
    rights it already holds, and here the right is the token, which a forger would have to
    know already. Only for actions that are safe for whoever holds the link (stopping
    emails). Every such route is listed in tests/test_security.py (CSRF_EXEMPT)."""
    endpoint.token_is_the_key = True  # type: ignore[attr-defined]
    return endpoint


class HeardRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        methods = {m.upper() for m in (kwargs.get("methods") or ["GET"])}
        self.writes = bool(methods - SAFE_METHODS or getattr(endpoint, "writes", False))
        exempt = bool(getattr(endpoint, "token_is_the_key", False))
        if exempt and "{token}" not in path:
            raise ValueError(f"{path}: token_is_the_key needs a {{token}} in the address")
        self.checks_csrf = bool(methods - SAFE_METHODS) and not exempt
        if self.checks_csrf:
            kwargs["dependencies"] = [Depends(csrf_protect), *(kwargs.get("dependencies") or [])]
        super().__init__(path, endpoint, **kwargs)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and _id_too_large(child.get("path_params", {})):
            return Match.NONE, {}  # the usual "Page not found", never a database error
        return match, child

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        writing = self.writes

        async def in_one_unit_of_work(request: Request) -> Response:
            request.scope.setdefault("state", {})["writes"] = writing
            try:
                response = await handler(request)
            except BaseException:
                await finish(request, succeeded=False)
                raise
            # Committed before the response leaves: a redirect never races ahead of its data.
            await finish(request, succeeded=True)
            return response

        return in_one_unit_of_work


# The largest id our tables hold: their ids are INTEGER, 32 bits on PostgreSQL (64 on
# SQLite). A larger number in an address would fail in the database (an "integer out of
# range" there, an OverflowError past 64 bits on SQLite), so it is simply not found.
MAX_ID = 2**31 - 1


def _id_too_large(params: dict[str, Any]) -> bool:
    return any(
        name.endswith("id")
        and isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and (len(value) > 10 or int(value) > MAX_ID)
        for name, value in params.items()
    )


class HeardRouter(APIRouter):
    """A router that answers "not mine" at once for an address none of its routes could
    match, by the address's first segment, before FastAPI tries each route's pattern. The
    pages a whole room opens sit behind several routers, and trying every route of each was
    a visible share of serving them. Our routers are included without a prefix, so a
    route's own path says where it answers (the role-matrix test reaches every route)."""

    _firsts: frozenset[str] | None = None
    _firsts_for = -1

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        firsts = self.first_segments()
        if firsts is not None:
            path, root = scope.get("path", ""), scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            first = path[1:].split("/", 1)[0]
            if first not in firsts:
                return Match.NONE, {}
        return super().matches(scope)

    def first_segments(self) -> frozenset[str] | None:
        """The first segments of every address this router answers (None: any, when a route
        starts with a parameter or is not one of ours)."""
        if self._firsts_for != len(self.routes):
            self._firsts = _first_segments(self.routes)
            self._firsts_for = len(self.routes)
        return self._firsts


def _first_segments(routes: list[Any]) -> frozenset[str] | None:
    found: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)
        if isinstance(inner, HeardRouter):
            theirs = inner.first_segments()
            if theirs is None:
                return None
            found |= theirs
        elif isinstance(route, HeardRoute):
            first = route.path[1:].split("/", 1)[0]
            if "{" in first:
                return None
            found.add(first)
        else:
            return None
    return frozenset(found)


def router() -> APIRouter:
    return HeardRouter(route_class=HeardRoute)


def request_db(request: Request) -> Session:
    """This request's database session, made on first use (making one takes no connection:
    the first query does)."""
    state = request.scope.setdefault("state", {})
    db: Session | None = state.get("db")
    if db is None:
        db = request.app.state.open_session(bool(state.get("writes")))
        state["db"] = db
    return db


async def finish(request: Request, *, succeeded: bool) -> None:
    """Commit everything the request did, or nothing. A session that wrote commits in a
    worker thread (a commit waits on the disk); one that only read just ends its read."""
    db: Session | None = request.scope.get("state", {}).pop("db", None)
    if db is None:
        return
    try:
        if not db.in_transaction():
            return
        wrote = request.scope["state"].get("writes") or has_written(db)
        if not succeeded:
            await run_in_threadpool(db.rollback)
        elif wrote:
            await run_in_threadpool(db.commit)
            # Everyone reading through this process sees the change at once, and through the
            # others a moment later (their caches empty when they hear of it).
            cache = request.app.state.read_cache
            cache.clear()
            broker = getattr(request.app.state, "broker", None)
            if broker is not None and cache.enabled:
                broker.publish(Event("written", WRITTEN_TOPIC, {"process": cache.process}))
        else:
            db.commit()
    finally:
        db.close()
