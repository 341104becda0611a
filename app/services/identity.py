"""Who is asking: server-side web sessions and one-time sign-in links."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, delete, select

from app.models import Participant, Role, SignInToken, StaffRole, StaffUser, WebSession
from app.security import new_token, token_hash

T = TypeVar("T")

# Touch last_seen_at at most this often, so reading pages doesn't write on every request.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass
class Identity:
    web_session: WebSession | SessionSeen | None = None
    staff: StaffUser | None = None
    roles: set[tuple[Role, int | None]] = field(default_factory=set)
    participant: Participant | None = None
    # When this browser's session ends if nothing else happens (shown to staff, WCAG 2.2.1).
    expires_at: datetime | None = None
    seconds_left: int = 0

    @property
    def is_staff(self) -> bool:
        return self.staff is not None

    @property
    def is_participant(self) -> bool:
        return self.participant is not None

    def has_role(self, role: Role, programme_id: int | None = None) -> bool:
        """Held everywhere, or (when a programme is given) in that programme."""
        if self.staff is None:
            return False
        return (role, None) in self.roles or (
            programme_id is not None and (role, programme_id) in self.roles
        )

    def has_any_role(self, *roles: Role) -> bool:
        """Held anywhere: everywhere or in at least one programme. Only for route-level
        policies (may this person open the page at all?); a rule about one object checks
        `has_role` with that object's programme."""
        return any(held == role for held, _ in self.roles for role in roles)

    def programmes_where(self, role: Role) -> set[int]:
        """The programmes this role is held in by name (not counting holding it everywhere)."""
        if self.staff is None:
            return set()
        return {p for held, p in self.roles if held == role and p is not None}


ANONYMOUS = Identity()


class _SignedOutTokens:
    """Browser tokens known to have no session row, so a returning visitor costs no query.

    Safe without expiry: signing in always issues a brand-new token (never one seen before),
    and a token whose session ended can never sign in again. Bounded, oldest forgotten first.
    """

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._hashes: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, hashed: str) -> bool:
        return hashed in self._hashes

    def add(self, hashed: str) -> None:
        with self._lock:
            self._hashes[hashed] = None
            if len(self._hashes) > self.size:
                self._hashes.popitem(last=False)

    def discard(self, hashed: str) -> None:
        with self._lock:
            self._hashes.pop(hashed, None)


SIGNED_OUT = _SignedOutTokens()


def known_signed_out(token: str) -> bool:
    return token_hash(token) in SIGNED_OUT


def load_identity(
    session: Session, token: str, now: datetime, staff_for: timedelta | None = None
) -> Identity:
    """Who this browser is. `staff_for`: a staff session's absolute lifetime (however
    active, it ends this long after signing in)."""
    hashed = token_hash(token)
    web_session = session.get(WebSession, hashed)
    if web_session is None:
        SIGNED_OUT.add(hashed)
        return Identity()
    if not _still_on(
        web_session.staff_id, web_session.created_at, web_session.expires_at, now, staff_for
    ):
        return Identity()
    identity = Identity(
        web_session=web_session,
        expires_at=web_session.expires_at,
        seconds_left=int((web_session.expires_at - now).total_seconds()),
    )
    if web_session.staff_id is not None:
        staff = session.get(StaffUser, web_session.staff_id)
        if staff is None or not staff.active:
            return Identity()
        identity.staff = staff
        rows = session.exec(select(StaffRole).where(StaffRole.staff_id == staff.id)).all()
        identity.roles = {(Role(r.role), r.programme_id) for r in rows}
    if web_session.participant_id is not None:
        identity.participant = session.get(Participant, web_session.participant_id)
        if identity.participant is None:
            return Identity()
    return identity


@dataclass(frozen=True)
class SessionSeen:
    """A browser's web session as read a moment ago (made from an identity snapshot): its
    values, not its row. Nothing reads more of it than these, and a row costs more to make;
    whatever changes a session loads its row."""

    id: str
    staff_id: int | None
    participant_id: int | None
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IdentitySnapshot:
    """Who a browser is, as plain values: kept a moment in the read cache and made back into
    fresh, detached rows for each request (never shared between requests)."""

    web_session: dict[str, Any]
    staff: dict[str, Any] | None
    participant: dict[str, Any] | None
    roles: frozenset[tuple[Role, int | None]]

    @classmethod
    def of(cls, identity: Identity) -> IdentitySnapshot:
        assert identity.web_session is not None
        return cls(
            web_session=_values(identity.web_session),
            staff=_values(identity.staff) if identity.staff is not None else None,
            participant=_values(identity.participant) if identity.participant else None,
            roles=frozenset(identity.roles),
        )

    def identity(self, now: datetime) -> Identity:
        values = self.web_session
        web_session = SessionSeen(
            values["id"],
            values["staff_id"],
            values["participant_id"],
            values["created_at"],
            values["last_seen_at"],
            values["expires_at"],
        )
        return Identity(
            web_session=web_session,
            staff=_detached(StaffUser, self.staff) if self.staff is not None else None,
            roles=set(self.roles),
            participant=(
                _detached(Participant, self.participant) if self.participant is not None else None
            ),
            expires_at=web_session.expires_at,
            seconds_left=int((web_session.expires_at - now).total_seconds()),
        )

    def still_on(self, now: datetime, staff_for: timedelta | None) -> bool:
        """Not ended by idling, nor (for staff) by its absolute lifetime: checked on every
        request served from the read cache, as on every one that reads the database."""
        values = self.web_session
        return _still_on(
            values["staff_id"], values["created_at"], values["expires_at"], now, staff_for
        )

    def touched(
        self, now: datetime, lifetime: timedelta, staff_for: timedelta | None = None
    ) -> IdentitySnapshot:
        values = self.web_session
        expires_at = session_expiry(
            values["staff_id"], values["created_at"], now, lifetime, staff_for
        )
        web_session = {**values, "last_seen_at": now, "expires_at": expires_at}
        participant = self.participant
        if participant is not None:
            participant = {**participant, "last_active_at": now}
        return IdentitySnapshot(web_session, self.staff, participant, self.roles)


def _values(row: Any) -> dict[str, Any]:
    return {
        attr.key: copy.deepcopy(getattr(row, attr.key))
        for attr in sa_inspect(type(row)).column_attrs
    }


_MANAGERS: dict[type[Any], Any] = {}


def _detached(model: type[T], values: dict[str, Any]) -> T:
    """A detached row made straight from its column values, as if just loaded and closed.

    Not through the model's constructor: validating and setting each field one by one through
    the ORM's instrumentation cost more than the rest of reading who is asking. Only
    containers (a JSON column) are copied: the other values can't be changed in place."""
    manager = _MANAGERS.get(model)
    if manager is None:
        manager = _MANAGERS[model] = sa_inspect(model).class_manager
    row: Any = manager.new_instance()
    state = row.__dict__
    for key, value in values.items():
        state[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    if getattr(model, "__pydantic_post_init__", None):
        row.model_post_init(None)
    else:
        object.__setattr__(row, "__pydantic_private__", None)
    make_transient_to_detached(row)
    detached: T = row
    return detached


def _still_on(
    staff_id: int | None,
    created_at: datetime,
    expires_at: datetime,
    now: datetime,
    staff_for: timedelta | None,
) -> bool:
    if expires_at <= now:
        return False
    return staff_id is None or staff_for is None or created_at + staff_for > now


def session_expiry(
    staff_id: int | None,
    created_at: datetime,
    now: datetime,
    lifetime: timedelta,
    staff_for: timedelta | None,
) -> datetime:
    """When a session touched now ends: idle `lifetime` from now, and for staff never after
    its absolute end (so the timeout warning counts down to whichever comes first)."""
    ends = now + lifetime
    if staff_id is not None and staff_for is not None:
        ends = min(ends, created_at + staff_for)
    return ends


def needs_touch(last_seen_at: datetime, now: datetime) -> bool:
    return now - last_seen_at >= TOUCH_EVERY


def touch(
    session: Session,
    session_id: str,
    now: datetime,
    lifetime: timedelta,
    staff_for: timedelta | None = None,
) -> datetime | None:
    """Keep a session going: returns when it now ends (None: there is no such session)."""
    web_session = session.get(WebSession, session_id)
    if web_session is None:
        return None
    web_session.last_seen_at = now
    web_session.expires_at = session_expiry(
        web_session.staff_id, web_session.created_at, now, lifetime, staff_for
    )
    session.add(web_session)
    if web_session.participant_id is not None:
        # Activity keeps a participant's data from the inactivity retention rule.
        participant = session.get(Participant, web_session.participant_id)
        if participant is not None:
            participant.last_active_at = now
            session.add(participant)
    return web_session.expires_at


def start_session(
    session: Session,
    token: str,
    now: datetime,
    lifetime: timedelta,
    *,
    staff: StaffUser | None = None,
    participant: Participant | None = None,
    old_token: str | None = None,
) -> WebSession:
    """A new session row for a new browser token; the old token's session (if any) ends."""
    if old_token:
        session.exec(delete(WebSession).where(col(WebSession.id) == token_hash(old_token)))
    SIGNED_OUT.discard(token_hash(token))
    web_session = WebSession(
        id=token_hash(token),
        staff_id=staff.id if staff else None,
        participant_id=participant.id if participant else None,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(web_session)
    session.flush()
    return web_session


def end_session(session: Session, token: str) -> None:
    session.exec(delete(WebSession).where(col(WebSession.id) == token_hash(token)))


def end_all_sessions(
    session: Session, *, staff_id: int | None = None, participant_id: int | None = None
) -> int:
    query = delete(WebSession)
    if staff_id is not None:
        query = query.where(col(WebSession.staff_id) == staff_id)
    elif participant_id is not None:
        query = query.where(col(WebSession.participant_id) == participant_id)
    else:
        raise ValueError("say whose sessions to end")
    result = session.exec(query)
    return int(result.rowcount or 0)


def issue_link_token(
    session: Session,
    now: datetime,
    lifetime: timedelta,
    purpose: str,
    *,
    staff: StaffUser | None = None,
    participant: Participant | None = None,
) -> str:
    """A one-time token (256 random bits); only its hash is stored."""
    token = new_token()
    session.add(
        SignInToken(
            token_hash=token_hash(token),
            purpose=purpose,
            staff_id=staff.id if staff else None,
            participant_id=participant.id if participant else None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


def peek_link_token(
    session: Session, token: str, purpose: str, now: datetime
) -> SignInToken | None:
    """A link that would still work, without using it (for pages a GET shows)."""
    row = session.exec(
        select(SignInToken).where(SignInToken.token_hash == token_hash(token))
    ).first()
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def redeem_link_token(
    session: Session, token: str, purpose: str, now: datetime
) -> SignInToken | None:
    """Use a link once. Expired, used, unknown and wrong-purpose tokens all give None."""
    row = session.exec(
        select(SignInToken).where(SignInToken.token_hash == token_hash(token)).with_for_update()
    ).first()
    if row is None or row.purpose != purpose or row.used_at is not None or row.expires_at <= now:
        return None
    row.used_at = now
    session.add(row)
    session.flush()
    return row
