"""Dependencies as Annotated aliases: the database session, the clock, who is asking."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.routing import APIRoute
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.cache import ReadCache
from app.config import Settings
from app.db import utcnow
from app.permissions import (
    ADMIN,
    ANY_STAFF,
    DEVELOPMENT_ONLY,
    FACILITATOR,
    MANAGE_STAFF,
    PARTICIPANT,
    PUBLIC,
    NeedsSignIn,
    Policy,
)
from app.routing import request_db
from app.security import browser_token, replace_browser_token, token_hash
from app.services import identity as identity_service
from app.services.identity import ANONYMOUS, Identity, IdentitySnapshot

# Dependencies that do no I/O are `async def`: FastAPI runs a plain `def` dependency in a
# worker thread, and each of those hops costs more than the work itself. Only the route
# (and loading who is signed in, when a cookie names a session) runs in a thread.


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_now() -> datetime:
    """The clock. Tests override this to travel in time."""
    return utcnow()


async def get_session(request: Request) -> Session:
    """This request's unit of work (committed or rolled back by `HeardRoute`)."""
    return request_db(request)


async def get_form_data(request: Request) -> FormData:
    """The posted form (already parsed once by the CSRF check: Starlette caches it)."""
    return await request.form()


@dataclass(frozen=True)
class Page:
    """What a busy page needs, in one dependency: the clock, settings, the read cache and
    (made on first use) the unit of work. Each FastAPI dependency costs about as much as
    rendering a small page, so the pages a whole room opens at once take this one alone
    besides their policy."""

    request: Request
    now: datetime
    settings: Settings
    cache: ReadCache

    @property
    def db(self) -> Session:
        return request_db(self.request)

    @property
    def identity(self) -> Identity:
        """Who is asking (worked out by the route's policy, which every route declares)."""
        known = self.request.scope.get("state", {}).get("identity")
        return known if isinstance(known, Identity) else ANONYMOUS


async def get_page(request: Request) -> Page:
    return Page(
        request,
        await request_now(request),
        request.app.state.settings,
        request.app.state.read_cache,
    )


FormDataDep = Annotated[FormData, Depends(get_form_data)]
PageDep = Annotated[Page, Depends(get_page)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
NowDep = Annotated[datetime, Depends(get_now)]
SessionDep = Annotated[Session, Depends(get_session)]


def session_lifetime(settings: Settings, identity: Identity) -> timedelta:
    if identity.staff is not None:
        return timedelta(minutes=settings.staff_idle_minutes)
    return timedelta(days=settings.participant_device_days)


def staff_session_limit(settings: Settings) -> timedelta:
    """However active, a staff session ends this long after signing in."""
    return timedelta(hours=settings.staff_session_hours)


async def request_now(request: Request) -> datetime:
    """The clock without a dependency of its own (tests still travel in time through
    `dependency_overrides[get_now]`)."""
    override = request.app.dependency_overrides.get(get_now)
    if override is None:
        return utcnow()
    value = override()
    if inspect.isawaitable(value):
        value = await value
    assert isinstance(value, datetime)
    return value


async def get_identity(request: Request) -> Identity:
    """Who is asking, worked out once per request. A browser without a session costs no query
    and no thread; a signed-in browser seen a moment ago comes from the read cache (see
    app/cache.py). Each FastAPI dependency costs about as much as rendering a small page, so
    this one has none of its own."""
    known = request.scope.get("state", {}).get("identity")
    if isinstance(known, Identity):
        return known
    now = await request_now(request)
    token = browser_token(request)
    if request.state.new_browser or identity_service.known_signed_out(token):
        identity = Identity()
    else:
        key = ("identity", token_hash(token))
        snapshot = request.app.state.read_cache.peek(key)
        if (
            isinstance(snapshot, IdentitySnapshot)
            and snapshot.still_on(now, staff_session_limit(request.app.state.settings))
            and not identity_service.needs_touch(snapshot.web_session["last_seen_at"], now)
        ):
            identity = snapshot.identity(now)
        else:
            # Loaded once however many of this browser's requests arrive together.
            loaded = await request.app.state.read_cache.once(
                ("identity-load", key[1]),
                lambda: run_in_threadpool(_load_identity, request, token, now),
            )
            identity = loaded.identity(now) if loaded is not None else Identity()
    request.state.identity = identity
    return identity


def _background(request: Request) -> bool:
    """A page asking for news by itself (a live part polling): not the person being active, so
    it must not keep an idle staff session alive."""
    return request.headers.get("HX-Request") == "true" and request.headers.get(
        "HX-Trigger", ""
    ).endswith("-live")


def _load_identity(request: Request, token: str, now: datetime) -> IdentitySnapshot | None:
    """Loaded in a short read of its own (so pages that need no database open none), then
    touched in a short write of its own (so reading a page never holds a write lock). None:
    not signed in. Each request makes its own rows from what this returns."""
    cache = request.app.state.read_cache
    generation = cache.generation
    settings: Settings = request.app.state.settings
    staff_for = staff_session_limit(settings)
    with request.app.state.open_session(False) as reader:
        identity = identity_service.load_identity(reader, token, now, staff_for)
        reader.commit()
    web_session = identity.web_session
    if web_session is None:
        return None
    snapshot = IdentitySnapshot.of(identity)
    if identity_service.needs_touch(web_session.last_seen_at, now) and not _background(request):
        lifetime = session_lifetime(settings, identity)
        with request.app.state.open_session(True) as writer:
            identity_service.touch(writer, web_session.id, now, lifetime, staff_for)
            writer.commit()
        snapshot = snapshot.touched(now, lifetime, staff_for)
    cache.put(("identity", token_hash(token)), snapshot, generation, personal=True)
    return snapshot


CurrentIdentity = Annotated[Identity, Depends(get_identity)]


def allow(policy: Policy) -> Any:
    """Declare a route's policy: `dependencies=[allow(ADMIN)]` or as a parameter's Depends."""

    async def check(request: Request) -> Identity:
        identity = await get_identity(request)
        if policy is DEVELOPMENT_ONLY and request.app.state.settings.env != "development":
            raise HTTPException(status_code=404)
        if policy.check(identity):
            return identity
        if identity.staff is None and identity.participant is None and policy.who:
            raise NeedsSignIn(policy.who)
        raise HTTPException(status_code=403)

    check.policy = policy  # type: ignore[attr-defined]
    return Depends(check)


def page_for(policy: Policy) -> Any:
    """`PageDep` and a policy in one dependency, for the busiest signed-in pages: FastAPI's
    work for each dependency costs about as much as rendering a small page."""
    allowed = allow(policy).dependency

    async def page(request: Request) -> Page:
        await allowed(request)
        return await get_page(request)

    page.policy = policy  # type: ignore[attr-defined]
    return Depends(page)


def public_without_identity() -> Any:
    """PUBLIC, for routes that must not look anyone up (health checks answer during any
    burst without the database)."""

    async def check() -> None:
        return None

    check.policy = PUBLIC  # type: ignore[attr-defined]
    return Depends(check)


def policy_of(route: APIRoute) -> Policy | None:
    """The policy a route declared (found anywhere in its dependency tree)."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        policy = getattr(dependant.call, "policy", None)
        if isinstance(policy, Policy):
            return policy
        pending.extend(dependant.dependencies)
    return None


# Each route takes one of these (or `dependencies=[allow(POLICY)]`): its declared policy.
Anyone = Annotated[Identity, allow(PUBLIC)]
SignedInParticipant = Annotated[Identity, allow(PARTICIPANT)]
# A signed-in participant's page: the clock, settings, cache and who they are, in one.
ParticipantPage = Annotated[Page, page_for(PARTICIPANT)]
AnyStaff = Annotated[Identity, allow(ANY_STAFF)]
Admin = Annotated[Identity, allow(ADMIN)]
Facilitator = Annotated[Identity, allow(FACILITATOR)]
StaffManager = Annotated[Identity, allow(MANAGE_STAFF)]
DevelopmentOnly = Annotated[Identity, allow(DEVELOPMENT_ONLY)]
NoLookup = Annotated[None, public_without_identity()]


def sign_in_browser(
    request: Request,
    session: Session,
    now: datetime,
    *,
    staff: Any = None,
    participant: Any = None,
) -> None:
    """Start a signed-in session for this browser under a brand-new cookie value.

    Staff cookies last for the browser session and time out when idle; a participant's is a
    long-lived device cookie ("Sign out on this phone" ends it).
    """
    settings: Settings = request.app.state.settings
    old = browser_token(request)
    lifetime = session_lifetime(settings, Identity(staff=staff, participant=participant))
    max_age = None if staff is not None else int(lifetime.total_seconds())
    new = replace_browser_token(request, max_age=max_age)
    identity_service.start_session(
        session, new, now, lifetime, staff=staff, participant=participant, old_token=old
    )


def sign_out_browser(request: Request, session: Session) -> None:
    """End this browser's session and give it a fresh, signed-out cookie."""
    identity_service.end_session(session, browser_token(request))
    replace_browser_token(request, max_age=None)
