"""A workshop's room: joining on the day with a code, no email and no password.

Two ways in. A join code makes a new person for today (a code is shared out loud, so it
never hands over anyone's identity). Someone who signed up joins from the link in their
email instead (`enter_with_sign_up`): that link is the proof that the sign-up is theirs.
A sign-up's reference is not proof of anything: staff see it, and it is in exports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from app import events
from app.config import Settings
from app.forms import FormModel
from app.models import (
    AgeBand,
    ConsentPurpose,
    ConsentState,
    Participant,
    SignUp,
    SignUpStatus,
    Workshop,
    WorkshopAttendance,
    WorkshopStatus,
)
from app.services import consent, participants, signups
from app.services import workshops as workshop_service
from app.services.identity import Identity

HOUSE_RULES = (
    "Be kind. Listen when other people talk.",
    "Only share what you want to share. You can stop at any time.",
    "Don't share anyone's name, school or address, or your own.",
    "If something worries you, tell a facilitator. You can leave at any time.",
)
JOIN_WORDING = (
    "I have read the house rules and what happens to what I say, and I want to take part. "
    "I know I can stop at any time."
)
JOIN_VERSION = "workshop-room-1"


class JoinForm(FormModel):
    display_name: str = Field(max_length=60)
    agree: list[str] = []
    multi = ("agree",)
    messages = {
        "display_name": {
            "missing": "Enter a name other people in the workshop will see",
            "too_long": "Your name must be 60 characters or fewer",
        },
    }

    @field_validator("display_name")
    @classmethod
    def _visible(cls, value: str) -> str:
        if not any(ch.isalnum() for ch in value):
            raise ValueError("Enter a name with at least one letter or number")
        return value

    @field_validator("agree")
    @classmethod
    def _agreed(cls, value: list[str]) -> list[str]:
        if "yes" not in value:
            raise ValueError("Tick the box to say you agree to the house rules")
        return value


def enter(
    session: Session,
    workshop: Workshop,
    form: JoinForm,
    now: datetime,
    current: Participant | None,
) -> Participant:
    """Let someone in with a join code; returns who they are now (a new participant, usually)."""
    assert workshop.id is not None
    participant: Participant | None = None
    if (
        current is not None
        and in_room(session, workshop.id, current.id)
        and current.display_name.casefold()
        == participants.clean_display_name(form.display_name).casefold()
    ):
        # The same person coming back in. Anyone else on a shared or borrowed phone gets
        # a new identity of their own, never the last person's.
        participant = current
    if participant is None:
        participant = participants.create(session, display_name=form.display_name, now=now)
    participant.display_name = participants.clean_display_name(form.display_name)
    participant.last_active_at = now
    session.add(participant)
    session.flush()
    consent.give(
        session,
        participant,
        ConsentPurpose.TAKE_PART,
        wording=JOIN_WORDING,
        version=JOIN_VERSION,
        now=now,
    )
    _attend(session, workshop, participant, now, sign_up=None)
    return participant


# --- joining with a sign-up, from the link in the email ---------------------------------


def entry_problem(
    session: Session, settings: Settings, participant: Participant, sign_up: SignUp | None = None
) -> Literal["take_part", "parent"] | None:
    """Why this person can't come into the room now, or None if they can.

    "take_part": they have not said yes to taking part (or said stop). "parent": their age
    needs a parent or carer to say yes, and they have not. The sign-up's own age answer counts
    as well as the person's, so a person record made some other way can't skip the parent.
    """
    assert participant.id is not None
    if not consent.has_consent(session, participant.id, ConsentPurpose.TAKE_PART):
        return "take_part"
    if not consent.may_take_part(session, settings, participant):
        return "parent"
    sign_up_needs_parent = sign_up is not None and consent.needs_parent_consent(
        settings, AgeBand(sign_up.age_band)
    )
    if sign_up_needs_parent and (
        consent.parent_consent_status(session, participant.id) != ConsentState.GIVEN
    ):
        return "parent"
    return None


def may_enter(
    session: Session, settings: Settings, participant: Participant, sign_up: SignUp | None = None
) -> bool:
    return entry_problem(session, settings, participant, sign_up) is None


def join_open(settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime) -> bool:
    """A confirmed place, in the same window as the workshop's join code."""
    return sign_up.status == SignUpStatus.CONFIRMED and workshop_service.code_works_now(
        settings, workshop, now
    )


@dataclass
class SignUpEntry:
    result: Literal["in", "closed", "waiting_for_parent"]
    participant: Participant | None = None


def enter_with_sign_up(
    session: Session, settings: Settings, workshop: Workshop, sign_up: SignUp, now: datetime
) -> SignUpEntry:
    """Let the person who signed up into the room, and mark them as here.

    Only from the sign-up's own link (the caller found it by its manage token). "closed":
    no confirmed place, or not within the join code's window; "waiting_for_parent": their
    parent or carer has not said yes.
    """
    participant = session.get(Participant, sign_up.participant_id)
    if participant is None or not join_open(settings, workshop, sign_up, now):
        return SignUpEntry("closed")
    problem = entry_problem(session, settings, participant, sign_up)
    if problem == "parent":
        return SignUpEntry("waiting_for_parent", participant)
    if problem is not None:
        return SignUpEntry("closed")
    participant.last_active_at = now
    session.add(participant)
    if sign_up.checked_in_at is None:
        sign_up.checked_in_at = now
        session.add(sign_up)
        events.record(
            session, "attendee.checked_in", workshop_id=workshop.id, sign_up_id=sign_up.id
        )
    session.flush()
    _attend(session, workshop, participant, now, sign_up=sign_up)
    return SignUpEntry("in", participant)


@dataclass
class RoomEntry:
    """Someone's way into a workshop's room: the room, their sign-up (None: they came with a
    code) and why they can't come in now (None: they can)."""

    workshop: Workshop
    sign_up: SignUp | None
    problem: Literal["take_part", "parent"] | None


def room_for(
    session: Session, settings: Settings, slug: str, participant: Participant
) -> RoomEntry | None:
    """The room this participant is in, by its workshop's address; None for any other.

    One rule for the room page and its live stream, so both let in exactly the same people.
    """
    workshop = workshop_service.public_by_slug(session, slug)
    if workshop is None or workshop.id is None or not in_room(session, workshop.id, participant.id):
        return None
    assert participant.id is not None
    sign_up = sign_up_in_room(session, workshop.id, participant.id)
    return RoomEntry(workshop, sign_up, entry_problem(session, settings, participant, sign_up))


def sign_up_in_room(session: Session, workshop_id: int, participant_id: int) -> SignUp | None:
    """The sign-up this person came into the room with (None: they came with a code)."""
    sign_up_id = session.exec(
        select(WorkshopAttendance.sign_up_id).where(
            WorkshopAttendance.workshop_id == workshop_id,
            WorkshopAttendance.participant_id == participant_id,
        )
    ).first()
    return session.get(SignUp, sign_up_id) if sign_up_id else None


def _attend(
    session: Session,
    workshop: Workshop,
    participant: Participant,
    now: datetime,
    *,
    sign_up: SignUp | None,
) -> None:
    assert workshop.id is not None and participant.id is not None
    if not in_room(session, workshop.id, participant.id):
        session.add(
            WorkshopAttendance(
                workshop_id=workshop.id,
                participant_id=participant.id,
                sign_up_id=sign_up.id if sign_up else None,
                joined_at=now,
            )
        )
        session.flush()
        events.record(
            session,
            "participant.joined",
            workshop_id=workshop.id,
            participant_id=participant.id,
            with_code=sign_up is None,
        )


def in_room(session: Session, workshop_id: int, participant_id: int | None) -> bool:
    if participant_id is None:
        return False
    return (
        session.exec(
            select(WorkshopAttendance.id).where(
                WorkshopAttendance.workshop_id == workshop_id,
                WorkshopAttendance.participant_id == participant_id,
            )
        ).first()
        is not None
    )


# --- where the room is up to -----------------------------------------------------------

RoomState = Literal["soon", "started", "finished", "cancelled"]
ROOM_NEWS: dict[str, str] = {
    "soon": "",
    "started": "The workshop has started",
    "finished": "The workshop has finished",
    "cancelled": "This workshop has been cancelled",
}


def room_state(workshop: Workshop, now: datetime) -> RoomState:
    """Starts soon, has started (at its time, or when a facilitator pressed Start), has
    finished, or was cancelled."""
    if workshop.status == WorkshopStatus.CANCELLED:
        return "cancelled"
    if now >= workshop.ends_at:
        return "finished"
    if workshop.started_at is not None or now >= workshop.starts_at:
        return "started"
    return "soon"


def next_change(workshop: Workshop, now: datetime) -> datetime | None:
    """When the room's state changes by itself next (its start, then its end), if ever."""
    state = room_state(workshop, now)
    if state == "soon":
        return workshop.starts_at
    if state == "started":
        return workshop.ends_at
    return None


# --- who is here, for staff ------------------------------------------------------------


@dataclass(frozen=True)
class CodeJoiner:
    """Someone who came into the room with the join code (they have no sign-up)."""

    participant_id: int
    display_name: str
    joined_at: datetime


@dataclass
class Attendance:
    """The staff attendee list: sign-ups, people who came with the code, and who is here."""

    sign_ups: list[SignUp]
    waiting_for_parent: set[int]
    joined_with_code: list[CodeJoiner]

    @property
    def here(self) -> int:
        """Checked in with a place, or in the room with the code."""
        checked_in = sum(
            1
            for row in self.sign_ups
            if row.status == SignUpStatus.CONFIRMED and row.checked_in_at is not None
        )
        return checked_in + len(self.joined_with_code)

    @property
    def expected(self) -> int:
        """Everyone with a place, and everyone who came with the code."""
        confirmed = sum(1 for row in self.sign_ups if row.status == SignUpStatus.CONFIRMED)
        return confirmed + len(self.joined_with_code)

    @property
    def words(self) -> str:
        if self.expected == 0:
            return "Nobody is here yet"
        return f"{self.here} of {self.expected} here"

    @property
    def version(self) -> str:
        """Changes whenever what the list shows changes (a live stream compares it)."""
        waiting = self.waiting_for_parent
        parts = [
            f"{row.id}:{row.status}:{row.checked_in_at is not None}:{row.id in waiting}"
            for row in self.sign_ups
        ]
        parts += [
            f"c{joiner.participant_id}:{joiner.display_name}" for joiner in self.joined_with_code
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def attendance(session: Session, settings: Settings, workshop_id: int) -> Attendance:
    rows = signups.attendees(session, workshop_id)
    joiners = session.exec(
        select(Participant.id, Participant.display_name, WorkshopAttendance.joined_at)
        .join(Participant, col(Participant.id) == col(WorkshopAttendance.participant_id))
        .where(
            WorkshopAttendance.workshop_id == workshop_id,
            col(WorkshopAttendance.sign_up_id).is_(None),
        )
        .order_by(col(WorkshopAttendance.joined_at), col(WorkshopAttendance.id))
    ).all()
    return Attendance(
        sign_ups=rows,
        waiting_for_parent=signups.waiting_for_parent(session, settings, rows),
        joined_with_code=[CodeJoiner(pid or 0, name, at) for pid, name, at in joiners],
    )


class CheckInClosedError(ValueError):
    """Check-in works only on the day, while the join code works."""


def mark_here(
    session: Session,
    settings: Settings,
    sign_up: SignUp,
    here: bool,
    now: datetime,
    actor: Identity,
) -> SignUp:
    """Staff check someone in (or undo it); the attendee list of every facilitator follows.

    Only on the day, in the join code's window: a code scanned days before (or for a
    workshop that has finished) checks nobody in. Undoing is always allowed.
    """
    workshop = session.get(Workshop, sign_up.workshop_id)
    if here and (workshop is None or not workshop_service.code_works_now(settings, workshop, now)):
        raise CheckInClosedError(sign_up.workshop_id)
    signups.check_in(session, sign_up, here, now, actor)
    events.record(
        session,
        "attendee.checked_in" if here else "attendee.check_in_undone",
        workshop_id=sign_up.workshop_id,
        sign_up_id=sign_up.id,
    )
    return sign_up


def check_in_words(settings: Settings, workshop: Workshop, now: datetime) -> str | None:
    """Why staff can't check people in now (None: they can), with when they can."""
    from app.timefmt import in_words_from, time_in_words

    if workshop_service.code_works_now(settings, workshop, now):
        return None
    opens, closes = workshop_service.code_window(settings, workshop)
    tz = settings.timezone
    if workshop.status != WorkshopStatus.PUBLISHED:
        return "You can check people in only when the workshop is published."
    if now < opens:
        return (
            f"You can check people in on the day: from {in_words_from(opens, now, tz)} "
            f"until {time_in_words(closes, tz)}."
        )
    return "This workshop has finished, so check-in has closed."


# --- the attendee list: search, filters, sort --------------------------------------------

SHOW: dict[str, str] = {
    "all": "Everyone",
    "here": "Here",
    "not_here": "Not here yet",
    "waiting": "On the waiting list",
    "needs_parent": "Needs a parent's yes",
    "code": "Joined with the code",
}
SORT: dict[str, str] = {
    "name": "Name",
    "signed_up": "When they signed up",
    "status": "Place, then waiting list",
}


@dataclass(frozen=True)
class AttendeeView:
    """What the attendee list shows, from the page's address (?q=&show=&sort=)."""

    q: str = ""
    show: str = "all"
    sort: str = "status"

    @classmethod
    def from_query(cls, query: Any) -> AttendeeView:
        q = str(query.get("q") or "").strip()[:60]
        show = str(query.get("show") or "all")
        sort = str(query.get("sort") or "status")
        return cls(q, show if show in SHOW else "all", sort if sort in SORT else "status")

    @property
    def query_string(self) -> str:
        from urllib.parse import urlencode

        return urlencode(
            {k: v for k, v in (("q", self.q), ("show", self.show), ("sort", self.sort)) if v}
        )

    @property
    def filtered(self) -> bool:
        return bool(self.q) or self.show != "all"

    def sign_ups(self, attendance: Attendance) -> list[SignUp]:
        if self.show == "code":
            return []
        rows = [row for row in attendance.sign_ups if self._shows(row, attendance)]
        if self.sort == "name":
            return sorted(rows, key=lambda r: (r.display_name.casefold(), r.id or 0))
        if self.sort == "signed_up":
            return sorted(rows, key=lambda r: (r.created_at, r.id or 0))
        return rows  # attendees() order: places, then the waiting list in its order

    def joiners(self, attendance: Attendance) -> list[CodeJoiner]:
        if self.show not in {"all", "here", "code"}:
            return []
        found = [j for j in attendance.joined_with_code if self._matches(j.display_name, "")]
        if self.sort == "name":
            return sorted(found, key=lambda j: j.display_name.casefold())
        return found

    def _matches(self, name: str, reference: str) -> bool:
        q = self.q.casefold()
        return not q or q in name.casefold() or q in reference.casefold()

    def _shows(self, row: SignUp, attendance: Attendance) -> bool:
        if not self._matches(row.display_name, row.reference):
            return False
        confirmed = row.status == SignUpStatus.CONFIRMED
        return {
            "all": True,
            "here": confirmed and row.checked_in_at is not None,
            "not_here": confirmed and row.checked_in_at is None,
            "waiting": row.status == SignUpStatus.WAITING,
            "needs_parent": row.id in attendance.waiting_for_parent,
        }.get(self.show, True)


def first_name(name: str) -> str:
    """A member of staff's first name, as the room shows who is running it."""
    return (name.split() or [name])[0]


def back_to_workshop(
    session: Session, settings: Settings, participant_id: int, now: datetime
) -> tuple[str, str] | None:
    """ "Back to your workshop" for someone in one: (its title, where to go), or None.

    The room they are in, while it is on; else their soonest place (or place on the waiting
    list) at a workshop still to come. Plain values, so the home page may keep them a moment.
    """
    rooms = session.exec(
        select(Workshop)
        .join(WorkshopAttendance, col(WorkshopAttendance.workshop_id) == col(Workshop.id))
        .where(
            WorkshopAttendance.participant_id == participant_id,
            Workshop.status == WorkshopStatus.PUBLISHED,
        )
        .order_by(col(Workshop.starts_at))
    ).all()
    for workshop in rooms:
        if workshop_service.code_window(settings, workshop)[1] > now:
            return workshop.title, f"/workshops/{workshop.slug}/room"
    for sign_up, workshop in signups.workshops_of(session, participant_id):
        if workshop.ends_at > now and workshop.status == WorkshopStatus.PUBLISHED:
            return workshop.title, f"/sign-ups/{signups.manage_token(settings, sign_up)}"
    return None
