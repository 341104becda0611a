"""The pages of an application a round adds to its questions (which are calls' question kinds,
app/services/calls_questions.py): adjustments, about you, and the declaration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

from app.forms import FormModel, FormState, valid_email
from app.journeys import Answers, Step, Validator
from app.models import Round, RoundQuestion
from app.services.calls_questions import question_step

ADJUSTMENTS = "adjustments"
ABOUT_YOU = "about-you"
ADJUSTMENTS_MAX = 2000
DECLARATION = "The answers I gave are true, and they are my own."
CONSENT = (
    "I agree that the team may keep my application and use it to choose people for the "
    "group, as this page explains."
)


class AdjustmentsForm(FormModel):
    answer: str | None = None


class ApplicantForm(FormModel):
    name: str = Field(max_length=100)
    email: str = Field(max_length=254)
    age: int = Field(ge=0, le=130)
    messages = {
        "name": {
            "missing": "Enter your name",
            "too_long": "Your name must be 100 characters or fewer",
        },
        "email": {
            "missing": "Enter your email address, so we can tell you what we decide",
            "invalid": "Enter an email address like name@example.com",
            "too_long": "The email address must be 254 characters or fewer",
        },
        "age": {"missing": "Enter your age", "invalid": "Enter your age as a number, like 17"},
    }

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return valid_email(value)


class DeclarationForm(FormModel):
    """Two separate boxes, never ticked for them, and the repeat-submit token."""

    declaration: list[str] = []
    consent: list[str] = []
    submit_token: str | None = Field(default=None, max_length=100)
    multi = ("declaration", "consent")


def check_declaration(state: FormState[DeclarationForm]) -> None:
    if "yes" not in (state.values.get("declaration") or []):
        state.add_error("declaration", "Tick the box to say your answers are true")
    if "yes" not in (state.values.get("consent") or []):
        state.add_error("consent", "Tick the box to say we may use your application")


def adjustments_rule(state: FormState[Any], _: Answers) -> None:
    value = state.values.get("answer") or ""
    if len(value) > ADJUSTMENTS_MAX:
        state.add_error("answer", f"Your answer must be {ADJUSTMENTS_MAX:,} characters or fewer")


def age_rule(round_: Round) -> Validator:
    def check(state: FormState[Any], _: Answers) -> None:
        age = state.data.age if state.data is not None else None
        if age is not None and not round_.min_age <= age <= round_.max_age:
            state.add_error(
                "age",
                f"This group is for people aged {round_.min_age} to {round_.max_age}. "
                "Check your age, or look for other ways to take part",
            )

    return check


@dataclass(frozen=True)
class RoundStep:
    step: Step
    question: RoundQuestion | None


def steps_for(round_: Round, questions: list[RoundQuestion]) -> list[RoundStep]:
    """Each question (every answer needed), then adjustments (may be left out), then about you."""
    found = [RoundStep(question_step(q, may_skip=False), q) for q in questions]
    adjustments = Step(
        ADJUSTMENTS, AdjustmentsForm, round_.adjustments_question, adjustments_rule, counted=False
    )
    about = Step(ABOUT_YOU, ApplicantForm, "About you", age_rule(round_), counted=False)
    return [*found, RoundStep(adjustments, None), RoundStep(about, None)]
