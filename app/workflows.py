"""Workflows: declared states, the moves between them, who may make each, and a record of it.

A feature declares its workflow once (states, and for each action: from which states, to
which, and the policy that may make it), then moves objects only through `move`. Every move
is written to the audit log in the same unit of work; a move can require a reason, and can
require four eyes (whoever approves must be neither the author nor whoever proposed it).
Templates ask `can_do(workflow, identity, obj, action)` so the button and the server agree.

    WORKSHOP = Workflow(
        "workshop",
        states=("draft", "published", "cancelled"),
        actions={
            "publish": Move(("draft",), "published", may=can_run),
            "cancel": Move(("draft", "published"), "cancelled", may=can_run, reason=True),
        },
    )
    WORKSHOP.move(db, who, workshop, "cancel", reason="The venue flooded")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlmodel import Session

from app.services import audit
from app.services.identity import Identity

Predicate = Callable[[Identity, Any], bool]


class WorkflowError(Exception):
    """A move that can't be made; `message` is kind enough to show."""

    message = "That can't be done now."


class NotAllowed(WorkflowError):
    message = "You can't do that."


class WrongState(WorkflowError):
    message = "That has already changed. Reload the page to see where it stands."


class ReasonNeeded(WorkflowError):
    message = "Say why, so the record shows it."


class FourEyes(WorkflowError):
    message = "Someone else must approve this: you wrote it or asked for it."


@dataclass(frozen=True)
class Move:
    sources: tuple[str, ...]
    target: str
    may: Predicate
    reason: bool = False
    four_eyes: bool = False


def _nobody(_: Any) -> int | None:
    return None


@dataclass(frozen=True)
class Workflow:
    name: str
    states: tuple[str, ...]
    actions: dict[str, Move]
    column: str = "status"
    # For four eyes: who wrote the object (a staff id), if anyone.
    author_of: Callable[[Any], int | None] = _nobody

    def __post_init__(self) -> None:
        for action, move in self.actions.items():
            unknown = {*move.sources, move.target} - set(self.states)
            if unknown:
                raise ValueError(f"{self.name}.{action}: unknown states {sorted(unknown)}")

    def state_of(self, obj: Any) -> str:
        value = getattr(obj, self.column)
        return str(value.value if isinstance(value, Enum) else value)

    def can_do(self, identity: Identity, obj: Any, action: str) -> bool:
        move = self.actions.get(action)
        return (
            move is not None
            and self.state_of(obj) in move.sources
            and bool(move.may(identity, obj))
        )

    def actions_for(self, identity: Identity, obj: Any) -> list[str]:
        return [action for action in self.actions if self.can_do(identity, obj, action)]

    def action_towards(self, obj: Any, target: str) -> str | None:
        """The action that takes `obj` from where it is to `target` (for a form that offers
        the state as a choice); None when no declared move does."""
        here = self.state_of(obj)
        for action, move in self.actions.items():
            if move.target == target and here in move.sources:
                return action
        return None

    def move(
        self,
        db: Session,
        identity: Identity,
        obj: Any,
        action: str,
        *,
        reason: str | None = None,
        proposed_by: int | None = None,
        **detail: Any,
    ) -> str:
        """Make the move (the caller's unit of work commits it with its audit entry).

        `detail` adds ids and counts to the audit entry (never text about people).

        Returns the state it left. Callers that race (two moderators on one post) should
        lock the row first (`with_for_update`) so the second sees the new state.
        """
        move = self.actions.get(action)
        if move is None or not move.may(identity, obj):
            raise NotAllowed
        before = self.state_of(obj)
        if before not in move.sources:
            raise WrongState
        reason = (reason or "").strip() or None
        if move.reason and reason is None:
            raise ReasonNeeded
        if move.four_eyes:
            me = identity.staff.id if identity.staff is not None else None
            if me is None or me in {self.author_of(obj), proposed_by}:
                raise FourEyes
        current = getattr(obj, self.column)
        target: Any = type(current)(move.target) if isinstance(current, Enum) else move.target
        setattr(obj, self.column, target)
        db.add(obj)
        detail.update({"from": before, "to": move.target})
        if reason is not None:
            detail["reason"] = reason[:500]
        audit.record(
            db,
            identity,
            f"{self.name}.{action}",
            record_type=self.name,
            record_id=getattr(obj, "id", None),
            **detail,
        )
        db.flush()
        return before


def can_do(workflow: Workflow, identity: Identity, obj: Any, action: str) -> bool:
    """For templates: show the button only when the server would let it happen."""
    return workflow.can_do(identity, obj, action)
