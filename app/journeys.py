"""Journeys: step-by-step forms with a server-side draft, check your answers, and a
repeat-submit token. Written once; calls and applications to a round use it (and their pages
are written once too, in app/journey_pages.py).

- Steps are declared once: a name (its address), a form (the field spec, app/forms.py) and
  an optional validator for rules beyond the fields (a required answer, a choice that must be
  one of the options, a rule across steps).
- Answers are validated one step at a time, and only validated values reach the draft
  (`save` is given a FormState that passed). A draft holds `{step: {field: value}}`, so
  steps never share field names by accident.
- A draft belongs to a signed-in participant, or else to this browser (a keyed hash of its
  cookie). Saving works whatever the time: a window closing never throws a draft away.
- "Save and come back later": `issue_resume_link` stores only the hash of a 256-bit random
  token (app/security.py), which expires, and works once: using it moves the draft to the
  browser that opened it.
- The repeat-submit token: each draft carries one. The record a journey makes stores (a hash
  of) it under a unique constraint, and `submit_once` returns the existing record instead of
  making a second, however the requests race (double tap, back button, two tabs, replay).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, delete, select
from starlette.datastructures import FormData, UploadFile

from app.db import UTCDateTime, utcnow
from app.forms import FormModel, FormState, empty_form, parse_form
from app.personal_data import PersonalData
from app.security import new_token, token_hash

CHECK = "check"
DRAFT_RETENTION = timedelta(days=90)
RESUME_LINK_LIFETIME = timedelta(days=7)
R = TypeVar("R")


class JourneyDraft(SQLModel, table=True):
    """Answers so far, kept on the server so nothing is lost."""

    __tablename__ = "journey_draft"
    __table_args__ = (UniqueConstraint("journey", "owner_key"),)

    id: int | None = Field(default=None, primary_key=True)
    journey: str = Field(max_length=80, index=True)  # e.g. "call:12"
    # "participant:<id>", or a keyed hash of the browser's cookie (never the cookie itself).
    owner_key: str = Field(max_length=64)
    participant_id: int | None = Field(
        default=None, foreign_key="participant.id", index=True, ondelete="CASCADE"
    )
    answers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    submit_token: str = Field(max_length=64)
    resume_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    resume_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )

    personal_data: ClassVar[PersonalData] = PersonalData(
        subject="participant",
        link="participant_id",
        fields=("journey", "answers", "created_at", "updated_at"),
        purpose="To keep your answers until you send them, so nothing is lost.",
        retention=DRAFT_RETENTION,
        retention_from="updated_at",
        title="Answers you have not sent yet",
    )


# --- the steps ---------------------------------------------------------------------------

Answers = dict[str, dict[str, Any]]
Validator = Callable[[FormState[Any], Answers], None]


@dataclass(frozen=True)
class Step:
    name: str  # its address: /…/{name}
    form: type[FormModel]  # the fields, with their kind messages
    title: str  # the question: the page's <h1> and <title>, and its row on check your answers
    validate: Validator | None = None  # more rules: call state.add_error(field, message)
    counted: bool = True  # counts in "Question 2 of 6"


@dataclass(frozen=True)
class Journey:
    name: str  # the drafts' key, e.g. "call:12"
    steps: tuple[Step, ...]

    @property
    def names(self) -> list[str]:
        return [step.name for step in self.steps]

    def step(self, name: str) -> Step | None:
        return next((step for step in self.steps if step.name == name), None)

    def next_name(self, name: str) -> str:
        names = self.names
        index = names.index(name)
        return names[index + 1] if index + 1 < len(names) else CHECK

    def previous_name(self, name: str) -> str | None:
        names = self.names
        if name == CHECK:
            return names[-1] if names else None
        index = names.index(name)
        return names[index - 1] if index > 0 else None

    def position(self, name: str) -> tuple[int, int] | None:
        """(2, 6) for "Question 2 of 6"; None for a step that isn't counted."""
        counted = [step.name for step in self.steps if step.counted]
        if name not in counted:
            return None
        return counted.index(name) + 1, len(counted)

    def parse(self, step: Step, data: FormData, answers: Answers) -> FormState[Any]:
        """One page of answers, checked by its fields and then by its validator."""
        state = parse_form(step.form, data)
        if step.validate is not None:
            step.validate(state, answers)
        return state

    def form_for(self, step: Step, answers: Answers) -> FormState[Any]:
        """The step's form with what the draft holds for it."""
        saved = answers.get(step.name) or {}
        return empty_form(
            step.form, **{k: v for k, v in saved.items() if k in step.form.model_fields}
        )

    def check_saved(self, step: Step, answers: Answers) -> FormState[Any] | None:
        """The saved answers to a step, checked again (None: never answered)."""
        saved = answers.get(step.name)
        if not isinstance(saved, dict):
            return None
        return self.parse(step, as_form_data(saved), answers)

    def first_unanswered(self, answers: Answers) -> str | None:
        """The first step not answered, or whose answer no longer passes (None: all done).

        Checked again every time: a question may have changed since the draft was saved.
        """
        for step in self.steps:
            state = self.check_saved(step, answers)
            if state is None or not state.ok:
                return step.name
        return None

    def validated(self, answers: Answers) -> dict[str, Any]:
        """Every step's validated data ({step: model}); call only once nothing is unanswered."""
        found: dict[str, Any] = {}
        for step in self.steps:
            state = self.check_saved(step, answers)
            if state is None or not state.ok:
                raise ValueError(f"step {step.name} is not answered")
            found[step.name] = state.data
        return found

    def after(self, name: str, answers: Answers, *, change: bool) -> str:
        """Where an answered step leads: back to check your answers when changing an answer
        and nothing else is missing, otherwise the next step."""
        if change and self.first_unanswered(answers) is None:
            return CHECK
        return self.next_name(name)


def as_form_data(values: dict[str, Any]) -> FormData:
    items: list[tuple[str, str | UploadFile]] = []
    for name, value in values.items():
        if isinstance(value, list):
            items.extend((name, str(v)) for v in value)
        elif value is not None:
            items.append((name, str(value)))
    return FormData(items)


# --- drafts ------------------------------------------------------------------------------


def owner_key(secret_key: str, browser_token: str, participant_id: int | None = None) -> str:
    """Whose draft: a signed-in participant's (on any device), or this browser's."""
    if participant_id is not None:
        return f"participant:{participant_id}"
    return hmac.new(secret_key.encode(), b"draft|" + browser_token.encode(), "sha256").hexdigest()


def find(db: Session, journey: str, owner: str) -> JourneyDraft | None:
    return db.exec(
        select(JourneyDraft).where(JourneyDraft.journey == journey, JourneyDraft.owner_key == owner)
    ).first()


def answers_of(draft: JourneyDraft | None) -> Answers:
    return {k: dict(v) for k, v in draft.answers.items() if isinstance(v, dict)} if draft else {}


def save(
    db: Session,
    journey: str,
    owner: str,
    step: str,
    state: FormState[Any],
    now: datetime,
    participant_id: int | None = None,
) -> JourneyDraft:
    """Keep one step's answers. Only answers that passed their checks are ever saved."""
    if not state.ok:
        raise ValueError("only validated answers are saved")
    draft = find(db, journey, owner) or _new_draft(db, journey, owner, now, participant_id)
    answers = dict(draft.answers)
    answers[step] = dict(state.values)
    draft.answers = answers
    draft.updated_at = now
    db.add(draft)
    db.flush()
    return draft


def _new_draft(
    db: Session, journey: str, owner: str, now: datetime, participant_id: int | None
) -> JourneyDraft:
    draft = JourneyDraft(
        journey=journey,
        owner_key=owner,
        participant_id=participant_id,
        answers={},
        submit_token=new_token(),
        created_at=now,
        updated_at=now,
    )
    try:
        # Two tabs saving their first answer at once: the unique (journey, owner) decides,
        # and the second carries on with the first one's draft.
        with db.begin_nested():
            db.add(draft)
            db.flush()
    except IntegrityError:
        existing = find(db, journey, owner)
        if existing is None:
            raise
        return existing
    return draft


def discard(db: Session, draft: JourneyDraft) -> None:
    db.exec(delete(JourneyDraft).where(col(JourneyDraft.id) == draft.id))


# --- save and come back later --------------------------------------------------------------


def issue_resume_link(
    db: Session, draft: JourneyDraft, now: datetime, lifetime: timedelta = RESUME_LINK_LIFETIME
) -> str:
    """A new link to come back to this draft (256 random bits; only its hash is kept). An
    earlier link for the same draft stops working."""
    token = new_token()
    draft.resume_token_hash = token_hash(token)
    draft.resume_expires_at = now + lifetime
    db.add(draft)
    db.flush()
    return token


def _by_resume_token(
    db: Session, journey: str, token: str, now: datetime, *, lock: bool = False
) -> JourneyDraft | None:
    if not token or len(token) > 100:
        return None
    query = select(JourneyDraft).where(JourneyDraft.resume_token_hash == token_hash(token))
    draft = db.exec(query.with_for_update() if lock else query).first()
    if draft is None or draft.journey != journey:
        return None
    if draft.resume_expires_at is None or draft.resume_expires_at <= now:
        return None
    return draft


def peek_resume_link(db: Session, journey: str, token: str, now: datetime) -> JourneyDraft | None:
    """The draft a link would open, without using the link (email scanners open links)."""
    return _by_resume_token(db, journey, token, now)


def use_resume_link(
    db: Session,
    journey: str,
    token: str,
    owner: str,
    now: datetime,
    participant_id: int | None = None,
) -> JourneyDraft | None:
    """Use a link once: the draft now belongs to whoever opened it (a draft they already had
    for this journey on this browser gives way to the one they came back for)."""
    draft = _by_resume_token(db, journey, token, now, lock=True)
    if draft is None:
        return None
    draft.resume_token_hash = None
    draft.resume_expires_at = None
    if draft.owner_key != owner:
        db.exec(
            delete(JourneyDraft).where(
                col(JourneyDraft.journey) == journey, col(JourneyDraft.owner_key) == owner
            )
        )
        draft.owner_key = owner
        draft.participant_id = participant_id or draft.participant_id
    draft.updated_at = now
    db.add(draft)
    db.flush()
    return draft


# --- sending: one record per token ---------------------------------------------------------


def submit_once(
    db: Session, token: str, find_record: Callable[[str], R | None], create: Callable[[], R]
) -> tuple[R, bool]:
    """Make the journey's record once per repeat-submit token: (record, made_it_now).

    `create` must store `token_hash(token)` in a column with a unique constraint. Run in a
    savepoint, so when another request got there first (its insert commits while ours
    waits on the unique index), ours is undone whole and theirs is returned.
    """
    existing = find_record(token)
    if existing is not None:
        return existing, False
    try:
        with db.begin_nested():
            record = create()
            db.flush()
    except IntegrityError:
        existing = find_record(token)
        if existing is None:
            raise
        return existing, False
    return record, True


def nothing_typed(state: FormState[Any]) -> bool:
    """Every field of the page left empty (e.g. "save and come back later" on a new page)."""
    return all(value in (None, "", []) for value in state.values.values())
