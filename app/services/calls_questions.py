"""The kinds of question a call can ask: each one's form, rules and words.

Every question page posts one field, `answer`. The form says what shape it has (text, one
value, several values); the question's own rule (`question_rule`) says the rest: the limit,
the options, and whether it may be left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from app.forms import FormModel, FormState, valid_email
from app.journeys import Answers, Step, Validator
from app.models import Call, Question, QuestionKind

SHORT_TEXT_MAX = 200
LONG_TEXT_MAX = 2000
SCALE_POINTS = ("1", "2", "3", "4", "5")
YES_NO = (("yes", "Yes"), ("no", "No"))
ABOUT_YOU = "about-you"
AGE_LABELS = {
    "under_13": "Under 13",
    "13_15": "13 to 15",
    "16_17": "16 or 17",
    "18_25": "18 to 25",
    "26_plus": "26 or over",
    "prefer_not": "Rather not say",
}


class TextAnswer(FormModel):
    answer: str | None = None


class ChoiceAnswer(FormModel):
    answer: str | None = None


class ChoicesAnswer(FormModel):
    answer: list[str] = []
    multi = ("answer",)


FORMS: dict[QuestionKind, type[FormModel]] = {
    QuestionKind.SHORT_TEXT: TextAnswer,
    QuestionKind.LONG_TEXT: TextAnswer,
    QuestionKind.ONE_CHOICE: ChoiceAnswer,
    QuestionKind.YES_NO: ChoiceAnswer,
    QuestionKind.SCALE: ChoiceAnswer,
    QuestionKind.SEVERAL_CHOICES: ChoicesAnswer,
}


class AboutYouForm(FormModel):
    display_name: str | None = Field(default=None, max_length=60)
    email: str | None = Field(default=None, max_length=254)
    age_band: Literal["under_13", "13_15", "16_17", "18_25", "26_plus", "prefer_not"] | None = None
    messages = {
        "display_name": {"too_long": "Your name must be 60 characters or fewer"},
        "email": {
            "invalid": "Enter an email address like name@example.com",
            "too_long": "The email address must be 254 characters or fewer",
        },
        "age_band": {"invalid": "Choose how old you are, or choose “Rather not say”"},
    }

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return valid_email(value) if value else value


class SendForm(FormModel):
    """The last page: consent to be quoted (never ticked for them) and the repeat-submit token."""

    quote: list[str] = []
    submit_token: str | None = Field(default=None, max_length=100)
    multi = ("quote",)

    @property
    def quote_consent(self) -> bool:
        return "yes" in self.quote


class SaveLinkForm(FormModel):
    email: str = Field(max_length=254)
    messages = {
        "email": {
            "missing": "Enter your email address, so we can send you the link",
            "invalid": "Enter an email address like name@example.com",
            "too_long": "The email address must be 254 characters or fewer",
        }
    }

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return valid_email(value)


# --- a question's words and options ---------------------------------------------------------


class Asked(Protocol):
    """What these rules read of a question: a call's Question, or a round's RoundQuestion."""

    @property
    def number(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def hint(self) -> str | None: ...
    @property
    def kind(self) -> QuestionKind: ...
    @property
    def options(self) -> list[str]: ...
    @property
    def young_text(self) -> str | None: ...
    @property
    def young_hint(self) -> str | None: ...
    @property
    def max_chars(self) -> int | None: ...


def step_name(question: Asked) -> str:
    return f"q{question.number}"


def wording(question: Asked, young: bool) -> tuple[str, str | None]:
    """The question and its hint, in the young person's version when asked for and written."""
    if young and question.young_text:
        return question.young_text, question.young_hint or question.hint
    return question.text, question.hint


def has_young_version(questions: Sequence[Asked]) -> bool:
    return any(q.young_text for q in questions)


def limit(question: Asked) -> int | None:
    if question.kind == QuestionKind.SHORT_TEXT:
        return SHORT_TEXT_MAX
    if question.kind == QuestionKind.LONG_TEXT:
        return question.max_chars or LONG_TEXT_MAX
    return None


def options(question: Asked) -> list[tuple[str, str]]:
    """(value, label) for each choice the question offers."""
    if question.kind == QuestionKind.YES_NO:
        return list(YES_NO)
    if question.kind == QuestionKind.SCALE:
        # "4 out of 5" rather than "4": clear when read aloud, and a label big enough to tap.
        low, high = [*(question.options or [])[:2], "", ""][:2]
        ends = {"1": low, "5": high}
        return [
            (p, f"{p} out of 5 – {ends[p]}" if ends.get(p) else f"{p} out of 5")
            for p in SCALE_POINTS
        ]
    if question.kind in (QuestionKind.ONE_CHOICE, QuestionKind.SEVERAL_CHOICES):
        return [(option, option) for option in question.options or []]
    return []


def answer_words(question: Asked, saved: dict[str, Any] | None) -> str:
    """An answer as people read it back ("" when left out)."""
    value = (saved or {}).get("answer")
    labels = dict(options(question))
    if isinstance(value, list):
        return "\n".join(labels.get(str(v), str(v)) for v in value)
    if not value:
        return ""
    return labels.get(str(value), str(value))


def answer_choices(question: Asked, saved: dict[str, Any] | None) -> list[str]:
    if question.kind in (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT):
        return []
    value = (saved or {}).get("answer")
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


# --- the rules ------------------------------------------------------------------------------


def question_rule(question: Asked, may_skip: bool) -> Validator:
    kind = QuestionKind(question.kind)

    def check(state: FormState[Any], _: Answers) -> None:
        value = state.values.get("answer")
        empty = value in (None, "", [])
        if empty:
            if not may_skip:
                state.add_error("answer", _missing(kind))
            return
        most = limit(question)
        if most is not None and isinstance(value, str) and len(value) > most:
            state.add_error("answer", f"Your answer must be {most:,} characters or fewer")
            return
        allowed = {v for v, _label in options(question)}
        if allowed:
            chosen = value if isinstance(value, list) else [value]
            if any(v not in allowed for v in chosen) or len(set(chosen)) != len(chosen):
                state.add_error("answer", _not_an_option(kind))

    return check


def _missing(kind: QuestionKind) -> str:
    if kind in (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT):
        return "Enter your answer"
    if kind == QuestionKind.SEVERAL_CHOICES:
        return "Choose at least one answer"
    return "Choose an answer"


def _not_an_option(kind: QuestionKind) -> str:
    if kind == QuestionKind.SEVERAL_CHOICES:
        return "Choose answers from the list"
    return "Choose one of the answers"


def about_you_rule(allow_anonymous: bool) -> Validator:
    def check(state: FormState[Any], _: Answers) -> None:
        if allow_anonymous:
            return
        if not state.values.get("display_name"):
            state.add_error("display_name", "Enter your name")
        if not state.values.get("email"):
            state.add_error("email", "Enter your email address")

    return check


@dataclass(frozen=True)
class QuestionStep:
    """A journey step and the question behind it (None for "About you")."""

    step: Step
    question: Question | None


def question_step(question: Asked, may_skip: bool) -> Step:
    """A question's page in a journey (calls and rounds alike)."""
    return Step(
        name=step_name(question),
        form=FORMS[QuestionKind(question.kind)],
        title=question.text,
        validate=question_rule(question, may_skip),
    )


def steps_for(call: Call, questions: list[Question]) -> list[QuestionStep]:
    found = [QuestionStep(question_step(q, call.allow_skip), q) for q in questions]
    about = Step(
        name=ABOUT_YOU,
        form=AboutYouForm,
        title="About you",
        validate=about_you_rule(call.allow_anonymous),
        counted=False,
    )
    return [*found, QuestionStep(about, None)]
