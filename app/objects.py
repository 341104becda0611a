"""One object by its id, checked with a named predicate about that object, the same way everywhere.

A route that acts on one object (a workshop, a space, a concern) takes it as a dependency
made here, so the route never runs `db.get` and a check of its own:

    RUN_WORKSHOP = Guard(Workshop, may=workshops.may_run, refused=RUN_BY_SOMEONE_ELSE)
    RunWorkshop = Annotated[Workshop, RUN_WORKSHOP.dependency("workshop_id", Facilitator)]

The answers: no such object, 404. An object this person may not use: 404 as well when its
existence is secret (the default: a concern, an application), with `refused` as the reason
the 404 page has kind words for; 403 when its existence isn't secret. The predicate takes
(identity, object), so templates can ask it about the same object and agree with the server.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Depends, HTTPException
from sqlmodel import Session

from app.deps import SessionDep
from app.routing import MAX_ID
from app.services.identity import Identity

T = TypeVar("T")


@dataclass(frozen=True)
class Guard(Generic[T]):
    model: type[T]
    may: Callable[[Identity, T], bool]
    # Whether a refused person may learn that the object exists (no: 404; yes: 403).
    secret: bool = True
    # The 404 page's reason when the object exists but is refused (secret objects only).
    refused: str | None = None

    def find(self, db: Session, object_id: int) -> T | None:
        """The object, or None (ids too large for the database can't exist)."""
        return db.get(self.model, object_id) if 0 < object_id <= MAX_ID else None

    def check(self, identity: Identity, obj: T | None) -> T:
        """The object, if this person may use it; otherwise the one answer for everyone."""
        if obj is None:
            raise HTTPException(status_code=404)
        if not self.may(identity, obj):
            if self.secret:
                raise HTTPException(status_code=404, detail=self.refused)
            raise HTTPException(status_code=403)
        return obj

    def dependency(self, param: str, who: Any) -> Any:
        """A FastAPI dependency: the object whose id is the path parameter `param`, checked
        for the person `who` resolves to (an `Annotated` policy alias such as `Facilitator`,
        so the route's declared policy is found in its dependency tree)."""

        def resolve(**values: Any) -> T:
            return self.check(values["who"], self.find(values["db"], values[param]))

        keyword = inspect.Parameter.KEYWORD_ONLY
        resolve.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [
                inspect.Parameter(param, keyword, annotation=int),
                inspect.Parameter("db", keyword, annotation=SessionDep),
                inspect.Parameter("who", keyword, annotation=who),
            ],
            return_annotation=self.model,
        )
        resolve.__name__ = f"{self.model.__name__.lower()}_by_{param}"
        return Depends(resolve)
