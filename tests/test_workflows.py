"""The workflow part: declared moves, who may make them, reasons, four eyes, and the record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pytest
from sqlmodel import select

from app.models import AuditEntry, Role
from app.services.identity import Identity
from app.workflows import (
    FourEyes,
    Move,
    NotAllowed,
    ReasonNeeded,
    Workflow,
    WrongState,
    can_do,
)
from tests.factories import make_staff


class Status(StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    APPROVED = "approved"


@dataclass
class Quote:
    id: int
    status: Status
    author_id: int | None = None


def staff_only(identity: Identity, _: object) -> bool:
    return identity.staff is not None


QUOTES = Workflow(
    "quote",
    states=("draft", "proposed", "approved"),
    actions={
        "propose": Move(("draft",), "proposed", may=staff_only),
        "approve": Move(("proposed",), "approved", may=staff_only, four_eyes=True),
        "reject": Move(("proposed",), "draft", may=staff_only, reason=True),
    },
    author_of=lambda quote: quote.author_id,
)


class _Db:
    """Enough of a session for moves on plain objects; the audit entry goes to the real one."""

    def __init__(self, session):  # type: ignore[no-untyped-def]
        self.session = session

    def add(self, obj: object) -> None:
        if not isinstance(obj, Quote):
            self.session.add(obj)

    def flush(self) -> None:
        self.session.flush()


def who(session, role=Role.ADMIN, email="a@heard.example.org"):  # type: ignore[no-untyped-def]
    member = make_staff(session, role, email=email)
    return Identity(staff=member, roles={(role, None)})


def test_moves_follow_the_declared_states_and_are_recorded(session) -> None:
    writer, approver = who(session), who(session, email="b@heard.example.org")
    quote = Quote(id=7, status=Status.DRAFT, author_id=writer.staff.id)
    db = _Db(session)
    assert QUOTES.actions_for(writer, quote) == ["propose"]
    assert QUOTES.move(db, writer, quote, "propose") == "draft"  # type: ignore[arg-type]
    assert quote.status is Status.PROPOSED
    with pytest.raises(WrongState):
        QUOTES.move(db, writer, quote, "propose")  # type: ignore[arg-type]
    with pytest.raises(FourEyes):
        QUOTES.move(db, writer, quote, "approve")  # type: ignore[arg-type]
    with pytest.raises(FourEyes):
        QUOTES.move(db, approver, quote, "approve", proposed_by=approver.staff.id)  # type: ignore[arg-type]
    with pytest.raises(ReasonNeeded):
        QUOTES.move(db, approver, quote, "reject", reason="  ")  # type: ignore[arg-type]
    QUOTES.move(db, approver, quote, "approve")  # type: ignore[arg-type]
    assert quote.status is Status.APPROVED
    entries = session.exec(select(AuditEntry).where(AuditEntry.record_type == "quote")).all()
    assert [(e.action, e.detail["from"], e.detail["to"], e.actor_id) for e in entries] == [
        ("quote.propose", "draft", "proposed", writer.staff.id),
        ("quote.approve", "proposed", "approved", approver.staff.id),
    ]


def test_nobody_outside_the_policy_moves_anything_and_buttons_agree(session) -> None:
    quote = Quote(id=8, status=Status.PROPOSED)
    participant = Identity()
    assert not can_do(QUOTES, participant, quote, "reject")
    with pytest.raises(NotAllowed):
        QUOTES.move(_Db(session), participant, quote, "reject", reason="no")  # type: ignore[arg-type]
    with pytest.raises(NotAllowed):
        QUOTES.move(_Db(session), who(session), quote, "fly")  # type: ignore[arg-type]
    assert quote.status is Status.PROPOSED


def test_a_reason_is_kept_with_the_move(session) -> None:
    quote = Quote(id=9, status=Status.PROPOSED)
    QUOTES.move(_Db(session), who(session), quote, "reject", reason="It names a school")  # type: ignore[arg-type]
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "quote.reject")).one()
    assert entry.detail["reason"] == "It names a school" and quote.status is Status.DRAFT


def test_a_workflow_with_an_unknown_state_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="unknown states"):
        Workflow("bad", states=("a",), actions={"go": Move(("a",), "b", may=staff_only)})
