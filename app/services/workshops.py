"""Workshops: what's on, places left, staff setting them up, and who may run which."""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import object_session
from sqlmodel import Session, and_, col, or_, select

from app import events, permissions
from app.config import Settings
from app.forms import FormModel, FormState
from app.models import (
    Programme,
    Role,
    SignUp,
    SignUpStatus,
    StaffRole,
    StaffUser,
    Workshop,
    WorkshopAttendance,
    WorkshopFacilitator,
    WorkshopMode,
    WorkshopStatus,
)
from app.models.workshops import (
    ACTIVE_SIGN_UP,
    AUDIENCE_AGE_BANDS,
    AUDIENCE_AGE_RANGES,
    AUDIENCES,
    WorkshopSeen,
)
from app.services import audit, join_codes
from app.services.identity import Identity
from app.workflows import Move, Workflow, WrongState

# --- what people see -------------------------------------------------------------------


@dataclass
class Availability:
    """Where sign-up stands, in words for the list and the workshop page."""

    state: Literal["open", "full", "not_open_yet", "closed", "past", "cancelled", "draft"]
    places_left: int
    words: str

    @property
    def can_sign_up(self) -> bool:
        return self.state in {"open", "full"}


def confirmed_count(session: Session, workshop_id: int, *, reserved: bool = False) -> int:
    """Confirmed places of one kind: public (the default) or reserved places given by staff.

    Counted apart, so a reserved place never uses up a public one.
    """
    return int(
        session.exec(
            select(func.count())
            .select_from(SignUp)
            .where(
                SignUp.workshop_id == workshop_id,
                SignUp.status == SignUpStatus.CONFIRMED,
                col(SignUp.reserved).is_(reserved),
            )
        ).one()
    )


def places_in_words(left: int) -> str:
    if left <= 0:
        return "Full – join the waiting list"
    return "1 place left" if left == 1 else f"{left} places left"


def availability(
    workshop: Workshop, confirmed: int, now: datetime, tz: str = "Europe/London"
) -> Availability:
    from app.timefmt import in_words

    left = max(workshop.bookable_places - confirmed, 0)
    if workshop.status == WorkshopStatus.CANCELLED:
        return Availability("cancelled", left, "This workshop has been cancelled")
    if workshop.status == WorkshopStatus.DRAFT:
        return Availability("draft", left, "Not published yet")
    if workshop.starts_at <= now:
        return Availability("past", left, "This workshop has started or finished")
    if workshop.sign_up_opens_at and now < workshop.sign_up_opens_at:
        return Availability(
            "not_open_yet", left, f"Sign-up opens {in_words(workshop.sign_up_opens_at, tz)}"
        )
    if workshop.sign_up_closes_at and now >= workshop.sign_up_closes_at:
        return Availability("closed", left, "Sign-up has closed")
    return Availability("open" if left > 0 else "full", left, places_in_words(left))


@dataclass
class WorkshopCard:
    workshop: Workshop
    availability: Availability


def upcoming(
    session: Session, now: datetime, *, audience: str | None = None, limit: int = 100
) -> list[WorkshopCard]:
    """Published workshops that haven't finished, soonest first, with places left."""
    query = select(Workshop).where(
        Workshop.status == WorkshopStatus.PUBLISHED, col(Workshop.ends_at) > now
    )
    if audience in AUDIENCES:
        query = query.where(Workshop.audience == audience)
    workshops = list(session.exec(query.order_by(col(Workshop.starts_at)).limit(limit)).all())
    counts = _confirmed_counts(session, [w.id for w in workshops if w.id is not None])
    return [WorkshopCard(w, availability(w, counts.get(w.id or 0, 0), now)) for w in workshops]


def for_age(
    session: Session, now: datetime, age_band: str, *, limit: int = 5
) -> list[WorkshopCard]:
    """Upcoming workshops someone of this age may sign up for themselves."""
    fits = [a for a, bands in AUDIENCE_AGE_BANDS.items() if age_band in bands]
    cards = upcoming(session, now, limit=100)
    return [c for c in cards if c.workshop.audience in fits and c.availability.can_sign_up][:limit]


def _confirmed_counts(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.exec(
        select(SignUp.workshop_id, func.count())
        .where(
            col(SignUp.workshop_id).in_(ids),
            SignUp.status == SignUpStatus.CONFIRMED,
            col(SignUp.reserved).is_(False),
        )
        .group_by(col(SignUp.workshop_id))
    ).all()
    return {workshop_id: int(count) for workshop_id, count in rows}


def public_by_slug(session: Session, slug: str) -> Workshop | None:
    """A workshop anyone may see: published or cancelled (so old links explain), never draft."""
    workshop = session.exec(select(Workshop).where(Workshop.slug == slug[:80])).first()
    if workshop is None or workshop.status == WorkshopStatus.DRAFT:
        return None
    return workshop


@dataclass(frozen=True)
class PublicPage:
    """What a workshop's public page shows, read once for everyone opening it together."""

    workshop: Workshop
    confirmed: int
    facilitators: list[StaffUser]


def public_page(session: Session, slug: str) -> PublicPage | None:
    workshop = public_by_slug(session, slug)
    if workshop is None or workshop.id is None:
        return None
    return PublicPage(
        workshop, confirmed_count(session, workshop.id), facilitators(session, workshop.id)
    )


def facilitators(session: Session, workshop_id: int) -> list[StaffUser]:
    return list(
        session.exec(
            select(StaffUser)
            .join(WorkshopFacilitator, col(WorkshopFacilitator.staff_id) == col(StaffUser.id))
            .where(WorkshopFacilitator.workshop_id == workshop_id)
            .order_by(col(StaffUser.display_name))
        ).all()
    )


# --- who may run a workshop ------------------------------------------------------------

# The 404 page's words when a workshop exists but this member of staff doesn't run it.
RUN_BY_SOMEONE_ELSE = "workshop_run_by_someone_else"


def can_run(identity: Identity, workshop: Workshop, staff_ids: set[int]) -> bool:
    """Admins run every workshop; a facilitator runs the workshops they are assigned to."""
    return permissions.can_run_workshop(identity, workshop.programme_id, staff_ids)


def may_run(identity: Identity, workshop: Workshop) -> bool:
    """`can_run` as a predicate on the workshop alone (for the object dependency of the staff
    pages and for the workflow's moves): who is assigned is read through the workshop's own
    database session, and only when the answer depends on it (never for admins)."""
    if identity.staff is None or identity.has_role(Role.ADMIN, workshop.programme_id):
        return can_run(identity, workshop, set())
    db = object_session(workshop)
    if not isinstance(db, Session) or workshop.id is None:
        return False  # deny by default: a workshop that isn't stored has nobody assigned
    return can_run(identity, workshop, facilitator_ids(db, workshop.id))


# The workshop's life: a draft only staff see, published for everyone, or cancelled (for
# good: a cancelled workshop can't be changed or published again). Creating one chooses
# draft or published; a later change of status is one of these moves, by its own staff.
# Cancelling is `signups.cancel_workshop`, which makes the move and tells everyone.
WORKSHOP = Workflow(
    "workshop",
    states=tuple(status.value for status in WorkshopStatus),
    actions={
        "publish": Move(("draft",), "published", may=may_run),
        "unpublish": Move(("published",), "draft", may=may_run),
        "cancel": Move(("draft", "published"), "cancelled", may=may_run),
    },
)


def facilitator_ids(session: Session, workshop_id: int) -> set[int]:
    return set(
        session.exec(
            select(WorkshopFacilitator.staff_id).where(
                WorkshopFacilitator.workshop_id == workshop_id
            )
        ).all()
    )


def for_staff(session: Session, identity: Identity) -> list[Workshop]:
    """Exactly the workshops `can_run` lets this person run: every one for admins everywhere;
    a programme's admin, that programme's; and the ones they are assigned to as a
    facilitator (of every programme, or of the workshop's own)."""
    query = select(Workshop).order_by(col(Workshop.starts_at).desc())
    if identity.has_role(Role.ADMIN):
        return list(session.exec(query).all())
    if identity.staff is None:
        return []
    assigned: ColumnElement[bool] = col(Workshop.id).in_(
        select(WorkshopFacilitator.workshop_id).where(
            WorkshopFacilitator.staff_id == identity.staff.id
        )
    )
    if not identity.has_role(Role.FACILITATOR):
        facilitator_of = identity.programmes_where(Role.FACILITATOR)
        assigned = and_(assigned, col(Workshop.programme_id).in_(facilitator_of))
    admin_of = col(Workshop.programme_id).in_(identity.programmes_where(Role.ADMIN))
    return list(session.exec(query.where(or_(assigned, admin_of))).all())


@dataclass
class StaffCard:
    """One workshop on the staff list: places, the waiting list, access needs, what's new."""

    workshop: Workshop
    confirmed: int = 0
    waiting: int = 0
    access_needs: int = 0
    joined_with_code: int = 0
    new: int = 0
    seen_at: datetime | None = None


def staff_cards(session: Session, identity: Identity) -> list[StaffCard]:
    """The workshops this person runs, with their numbers, in a few queries for all of them."""
    cards = {w.id: StaffCard(w) for w in for_staff(session, identity) if w.id is not None}
    if not cards:
        return []
    ids = list(cards)
    staff_id = identity.staff.id if identity.staff else None
    seen = dict(
        session.exec(
            select(WorkshopSeen.workshop_id, WorkshopSeen.seen_at).where(
                col(WorkshopSeen.workshop_id).in_(ids), WorkshopSeen.staff_id == staff_id
            )
        ).all()
    )
    rows = session.exec(
        select(SignUp.workshop_id, SignUp.status, SignUp.access_needs, SignUp.created_at).where(
            col(SignUp.workshop_id).in_(ids), col(SignUp.status).in_(list(ACTIVE_SIGN_UP))
        )
    ).all()
    for workshop_id, status, access_needs, created_at in rows:
        card = cards[workshop_id]
        card.seen_at = seen.get(workshop_id)
        if status == SignUpStatus.CONFIRMED:
            card.confirmed += 1
        else:
            card.waiting += 1
        if access_needs:
            card.access_needs += 1
        if card.seen_at is None or created_at > card.seen_at:
            card.new += 1
    for workshop_id, count in session.exec(
        select(WorkshopAttendance.workshop_id, func.count())
        .where(
            col(WorkshopAttendance.workshop_id).in_(ids),
            col(WorkshopAttendance.sign_up_id).is_(None),
        )
        .group_by(col(WorkshopAttendance.workshop_id))
    ).all():
        cards[workshop_id].joined_with_code = int(count)
    for workshop_id, card in cards.items():
        card.seen_at = seen.get(workshop_id)
    return list(cards.values())


def mark_seen(session: Session, workshop_id: int, staff_id: int, now: datetime) -> None:
    """This member of staff has looked at the workshop now."""
    row = session.exec(
        select(WorkshopSeen).where(
            WorkshopSeen.workshop_id == workshop_id, WorkshopSeen.staff_id == staff_id
        )
    ).first()
    row = row or WorkshopSeen(workshop_id=workshop_id, staff_id=staff_id)
    row.seen_at = now
    session.add(row)
    session.flush()


def possible_facilitators(session: Session) -> list[StaffUser]:
    return list(
        session.exec(
            select(StaffUser)
            .where(
                col(StaffUser.active).is_(True),
                col(StaffUser.id).in_(
                    select(StaffRole.staff_id).where(
                        col(StaffRole.role).in_([Role.FACILITATOR, Role.ADMIN])
                    )
                ),
            )
            .order_by(col(StaffUser.display_name))
        ).all()
    )


def programmes(session: Session) -> list[Programme]:
    return list(session.exec(select(Programme).order_by(col(Programme.title))).all())


def programmes_for(session: Session, identity: Identity) -> list[Programme]:
    """The programmes this person may put a workshop in (everyone's, for a role everywhere)."""
    return [p for p in programmes(session) if permissions.can_facilitate(identity, p.id)]


def check_programme(state: FormState[WorkshopForm], choices: list[Programme]) -> None:
    """Deny by default: the chosen programme must be one of this person's `choices`."""
    chosen = state.values.get("programme_id") or ""
    if chosen and chosen not in {str(p.id) for p in choices}:
        state.add_error("programme_id", "Choose one of the programmes you run")


# --- staff set workshops up ------------------------------------------------------------

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


def parse_local(value: str, tz: ZoneInfo) -> datetime:
    """A `datetime-local` value ("2026-12-05T16:30"), read as UK time."""
    value = value.strip().replace(" ", "T")[:16]
    return datetime.strptime(value, LOCAL_FORMAT).replace(tzinfo=tz)


def to_local_value(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime(LOCAL_FORMAT) if value else ""


_DATE_MESSAGE = "Enter a date and time like 5 December 2026 at 4:30pm"


def _local_field(value: str) -> str:
    try:
        datetime.strptime(value.strip().replace(" ", "T")[:16], LOCAL_FORMAT)
    except ValueError:
        raise ValueError(_DATE_MESSAGE) from None
    return value


class WorkshopForm(FormModel):
    programme_id: int
    title: str = Field(max_length=200)
    description: str = Field(max_length=5000)
    audience: Literal["children", "young_people", "young_adults", "parents"]
    mode: Literal["in_person", "online", "both"]
    place: str | None = Field(default=None, max_length=300)
    access_info: str | None = Field(default=None, max_length=2000)
    online_link: str | None = Field(default=None, max_length=500)
    starts_at: str
    ends_at: str
    capacity: int = Field(ge=1, le=5000)
    reserved_places: int = Field(default=0, ge=0, le=5000)
    sign_up_opens_at: str | None = None
    sign_up_closes_at: str | None = None
    pays_travel: list[str] = []
    today_plan: str | None = Field(default=None, max_length=2000)
    toilets: str | None = Field(default=None, max_length=300)
    quiet_space: str | None = Field(default=None, max_length=300)
    facilitators: list[str] = []
    status: Literal["draft", "published"] = "draft"
    # Ticked to keep a capacity below the places already taken (see `cross_check`).
    capacity_confirmed: list[str] = []

    multi = ("facilitators", "pays_travel", "capacity_confirmed")
    messages = {
        "programme_id": {
            "missing": "Choose which programme the workshop is part of",
            "invalid": "Choose one of the programmes you run",
        },
        "title": {
            "missing": "Enter a title",
            "too_long": "The title must be 200 characters or fewer",
        },
        "description": {
            "missing": "Enter a description in plain English",
            "too_long": "The description must be 5,000 characters or fewer",
        },
        "audience": {"missing": "Choose who the workshop is for"},
        "mode": {"missing": "Choose in person, online or both"},
        "place": {"too_long": "The place must be 300 characters or fewer"},
        "access_info": {"too_long": "Access information must be 2,000 characters or fewer"},
        "online_link": {"too_long": "The joining link must be 500 characters or fewer"},
        "starts_at": {"missing": "Enter when the workshop starts"},
        "ends_at": {"missing": "Enter when the workshop ends"},
        "capacity": {
            "missing": "Enter how many people can come",
            "invalid": "Capacity must be a whole number from 1 to 5,000",
        },
        "reserved_places": {"invalid": "Reserved places must be a whole number, 0 or more"},
        "today_plan": {"too_long": "What happens today must be 2,000 characters or fewer"},
        "toilets": {"too_long": "Where the toilets are must be 300 characters or fewer"},
        "quiet_space": {"too_long": "Where the quiet space is must be 300 characters or fewer"},
        "status": {"invalid": "Choose draft or published"},
    }

    _dates = field_validator("starts_at", "ends_at", "sign_up_opens_at", "sign_up_closes_at")(
        classmethod(lambda cls, v: _local_field(v) if v is not None else v)
    )

    @field_validator("online_link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https://[^\s<>\"']+$", value):
            raise ValueError("Enter a joining link that starts with https://")
        return value


def cross_check(
    state: FormState[WorkshopForm],
    *,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
    workshop: Workshop | None = None,
    taken: int = 0,
) -> bool:
    """Checks between fields, reported beside the field to fix, all at once: read from what
    was typed, so they show in the same round as every other problem.

    Refuses a start in the past (for a new workshop, or a changed start), and warns when
    the capacity falls below the `taken` places of a workshop being changed, unless the
    person ticked the box to confirm. Returns whether that warning is showing.
    """
    values = state.values

    def text(name: str) -> str:
        value = values.get(name)
        return value.strip() if isinstance(value, str) else ""

    mode = text("mode")
    if mode in {"in_person", "both"} and not text("place"):
        state.add_error("place", "Enter where the workshop is")
    if mode in {"online", "both"} and not text("online_link"):
        state.add_error("online_link", "Enter the joining link for the online workshop")
    capacity, reserved = _whole(text("capacity")), _whole(text("reserved_places") or "0")
    if capacity is not None and reserved is not None and reserved > capacity:
        state.add_error("reserved_places", "Reserved places can't be more than the capacity")
    starts, ends = _local_or_none(text("starts_at")), _local_or_none(text("ends_at"))
    if starts and ends and ends <= starts:
        state.add_error("ends_at", "The end must be after the start")
    opens, closes = (
        _local_or_none(text("sign_up_opens_at")),
        _local_or_none(text("sign_up_closes_at")),
    )
    if opens and closes and closes <= opens:
        state.add_error("sign_up_closes_at", "Sign-up must close after it opens")
    if starts and now is not None and tz is not None:
        moved = workshop is None or _norm(text("starts_at")) != to_local_value(
            workshop.starts_at, tz
        )
        if moved and starts.replace(tzinfo=tz) <= now:
            state.add_error(
                "starts_at", "The start must be in the future. Check the date and the time"
            )
    warning = workshop is not None and capacity is not None and taken > capacity
    if warning and "yes" not in (values.get("capacity_confirmed") or []):
        state.add_error(
            "capacity",
            f"{taken} people already have a place, which is more than {capacity}. They all "
            "keep their places, but nobody new gets one until there is room. To save it "
            "anyway, tick the box to confirm",
        )
    return warning


def _whole(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _local_or_none(value: str) -> datetime | None:
    try:
        return datetime.strptime(_norm(value), LOCAL_FORMAT) if value else None
    except ValueError:
        return None


def _norm(value: str) -> str:
    return value.strip().replace(" ", "T")[:16]


def slugify(title: str) -> str:
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60].strip("-")
    return text or "workshop"


def unique_slug(session: Session, title: str, own_id: int | None = None) -> str:
    base = slugify(title)
    slug = base
    while True:
        found = session.exec(select(Workshop.id).where(Workshop.slug == slug)).first()
        if found is None or found == own_id:
            return slug
        slug = f"{base}-{secrets.token_hex(2)}"


def unique_code(session: Session) -> str:
    while True:
        code = join_codes.new_code()
        if session.exec(select(Workshop.id).where(Workshop.join_code == code)).first() is None:
            return code


def apply_form(
    session: Session,
    settings: Settings,
    form: WorkshopForm,
    *,
    workshop: Workshop | None,
    actor: Identity,
    now: datetime,
) -> Workshop:
    """Create a workshop, or change one, from the staff form (its programme already checked
    against the person's own by `check_programme`)."""
    if not permissions.can_facilitate(actor, form.programme_id):
        raise PermissionError("a workshop goes only into a programme its creator runs")
    tz = settings.tz
    creating = workshop is None
    if workshop is None:
        workshop = Workshop(
            programme_id=form.programme_id,
            slug=unique_slug(session, form.title),
            join_code=unique_code(session),
            created_at=now,
            title="",
            description="",
            audience=form.audience,
            age_range="",
            mode=WorkshopMode(form.mode),
            starts_at=now,
            ends_at=now,
        )
    if workshop.status == WorkshopStatus.CANCELLED:
        raise ValueError("cancelled workshops can't be changed")
    if creating:
        workshop.status = WorkshopStatus(form.status)
    elif form.status != WORKSHOP.state_of(workshop):
        # Publishing or taking back to draft is a move of the workshop's workflow (checked
        # against who runs it now, before any field changes; recorded in the audit log).
        action = WORKSHOP.action_towards(workshop, form.status)
        if action is None:
            raise WrongState
        WORKSHOP.move(session, actor, workshop, action)
    workshop.programme_id = form.programme_id
    workshop.title = form.title
    workshop.description = form.description
    workshop.audience = form.audience
    workshop.age_range = AUDIENCE_AGE_RANGES[form.audience]
    workshop.mode = WorkshopMode(form.mode)
    workshop.place = form.place if workshop.is_in_person else None
    workshop.access_info = form.access_info if workshop.is_in_person else None
    workshop.online_link = form.online_link if workshop.is_online else None
    workshop.starts_at = parse_local(form.starts_at, tz)
    workshop.ends_at = parse_local(form.ends_at, tz)
    workshop.capacity = form.capacity
    workshop.reserved_places = form.reserved_places
    workshop.sign_up_opens_at = (
        parse_local(form.sign_up_opens_at, tz) if form.sign_up_opens_at else None
    )
    workshop.sign_up_closes_at = (
        parse_local(form.sign_up_closes_at, tz) if form.sign_up_closes_at else None
    )
    workshop.pays_travel = "yes" in form.pays_travel
    workshop.today_plan = form.today_plan or None
    workshop.toilets = form.toilets if workshop.is_in_person else None
    workshop.quiet_space = form.quiet_space if workshop.is_in_person else None
    session.add(workshop)
    session.flush()
    assert workshop.id is not None
    _set_facilitators(session, workshop.id, form.facilitators, actor, creating)
    audit.record(
        session,
        actor,
        "workshop.created" if creating else "workshop.changed",
        record_type="workshop",
        record_id=workshop.id,
        status=workshop.status.value,
    )
    if not creating:
        # Rooms open on phones move their "starts soon" to the new time.
        events.record(
            session,
            "workshop.changed",
            workshop_id=workshop.id,
            starts_at=workshop.starts_at,
            ends_at=workshop.ends_at,
            status=workshop.status.value,
        )
    return workshop


# --- what changed, for the people coming ---------------------------------------------------


@dataclass(frozen=True)
class Arrangements:
    """When and where: what people coming are told again when it changes."""

    starts_at: datetime
    ends_at: datetime
    mode: WorkshopMode
    place: str | None
    online_link: str | None


def arrangements(workshop: Workshop) -> Arrangements:
    return Arrangements(
        workshop.starts_at,
        workshop.ends_at,
        WorkshopMode(workshop.mode),
        workshop.place,
        workshop.online_link,
    )


def places_taken(session: Session, workshop_id: int) -> int:
    """Every confirmed place, public or reserved (what a capacity must not fall below)."""
    return confirmed_count(session, workshop_id) + confirmed_count(
        session, workshop_id, reserved=True
    )


# --- starting ----------------------------------------------------------------------------


class CannotStartError(ValueError):
    """Only a published workshop that has not finished can be started."""


def start_now(session: Session, workshop: Workshop, actor: Identity, now: datetime) -> bool:
    """A facilitator starts the workshop now (before its time, say); every room follows.

    Pressing it twice, or after the start time, changes nothing (False).
    """
    # Under the workshop's row lock, read afresh: two facilitators pressing at once start it
    # once (one audit entry, one event).
    session.exec(
        select(Workshop)
        .where(Workshop.id == workshop.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if workshop.status != WorkshopStatus.PUBLISHED or now >= workshop.ends_at:
        raise CannotStartError(workshop.status.value)
    if workshop.started_at is not None or now >= workshop.starts_at:
        return False
    workshop.started_at = now
    session.add(workshop)
    session.flush()
    audit.record(session, actor, "workshop.started", record_type="workshop", record_id=workshop.id)
    events.record(session, "workshop.started", workshop_id=workshop.id, started_at=now)
    return True


def _set_facilitators(
    session: Session, workshop_id: int, chosen: list[str], actor: Identity, creating: bool
) -> None:
    allowed = {s.id for s in possible_facilitators(session)}
    wanted = {int(v) for v in chosen if v.isdigit() and int(v) in allowed}
    if creating and actor.staff is not None and not actor.has_role(Role.ADMIN):
        wanted.add(actor.staff.id or 0)  # a facilitator who creates a workshop runs it
    current = {
        f.staff_id: f
        for f in session.exec(
            select(WorkshopFacilitator).where(WorkshopFacilitator.workshop_id == workshop_id)
        )
    }
    for staff_id, row in current.items():
        if staff_id not in wanted:
            session.delete(row)
    for staff_id in wanted - set(current):
        session.add(WorkshopFacilitator(workshop_id=workshop_id, staff_id=staff_id))
    session.flush()


def form_values(workshop: Workshop, settings: Settings, staff_ids: set[int]) -> dict[str, object]:
    tz = settings.tz
    return {
        "programme_id": str(workshop.programme_id),
        "title": workshop.title,
        "description": workshop.description,
        "audience": workshop.audience,
        "mode": workshop.mode.value,
        "place": workshop.place or "",
        "access_info": workshop.access_info or "",
        "online_link": workshop.online_link or "",
        "starts_at": to_local_value(workshop.starts_at, tz),
        "ends_at": to_local_value(workshop.ends_at, tz),
        "capacity": str(workshop.capacity),
        "reserved_places": str(workshop.reserved_places),
        "sign_up_opens_at": to_local_value(workshop.sign_up_opens_at, tz),
        "sign_up_closes_at": to_local_value(workshop.sign_up_closes_at, tz),
        "pays_travel": ["yes"] if workshop.pays_travel else [],
        "today_plan": workshop.today_plan or "",
        "toilets": workshop.toilets or "",
        "quiet_space": workshop.quiet_space or "",
        "facilitators": [str(i) for i in sorted(staff_ids)],
        "status": workshop.status.value if workshop.status != WorkshopStatus.CANCELLED else "",
    }


# --- join codes ------------------------------------------------------------------------


def code_window(settings: Settings, workshop: Workshop) -> tuple[datetime, datetime]:
    """A code works from shortly before the start until a while after the end."""
    return (
        workshop.starts_at - timedelta(minutes=settings.join_code_opens_minutes_before),
        workshop.ends_at + timedelta(minutes=settings.join_code_closes_minutes_after),
    )


def code_works_now(settings: Settings, workshop: Workshop, now: datetime) -> bool:
    opens, closes = code_window(settings, workshop)
    return workshop.status == WorkshopStatus.PUBLISHED and opens <= now < closes


def code_not_now(session: Session, settings: Settings, code: str, now: datetime) -> str | None:
    """For a real code used on another day: when it works ("This code works on Sunday 13
    December from 4pm"), or that it has stopped. None for anything else."""
    from app.timefmt import date_in_words, other_year, time_in_words

    code = join_codes.normalise_code(code)
    if len(code) != join_codes.CODE_LENGTH:
        return None
    workshop = session.exec(select(Workshop).where(Workshop.join_code == code)).first()
    if workshop is None or workshop.status != WorkshopStatus.PUBLISHED:
        return None
    opens, closes = code_window(settings, workshop)
    tz = settings.timezone
    if now < opens:
        day = date_in_words(opens, tz, year=other_year(opens, now, tz))
        return f"This code works on {day} from {time_in_words(opens, tz)}. Come back then."
    if now >= closes:
        return "This code has stopped working because its workshop has finished."
    return None


def by_code(session: Session, settings: Settings, code: str, now: datetime) -> Workshop | None:
    """The workshop this code lets people into right now; None for anything else."""
    code = join_codes.normalise_code(code)
    if len(code) != join_codes.CODE_LENGTH:
        return None
    workshop = session.exec(select(Workshop).where(Workshop.join_code == code)).first()
    if workshop is None or not code_works_now(settings, workshop, now):
        return None
    return workshop


def rotate_code(session: Session, workshop: Workshop, actor: Identity) -> str:
    """A new code at once; the old one stops working (e.g. it was shared somewhere public)."""
    workshop.join_code = unique_code(session)
    session.add(workshop)
    session.flush()
    audit.record(
        session, actor, "workshop.code_rotated", record_type="workshop", record_id=workshop.id
    )
    return workshop.join_code


def join_url(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/join?code={code}"


def qr_svg(data: str) -> bytes:
    """An SVG QR code with no inline style (the Content-Security-Policy forbids it)."""
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(data, error="m").save(
        buffer, kind="svg", scale=8, border=2, xmldecl=False, svgns=True, title="QR code"
    )
    return buffer.getvalue()
