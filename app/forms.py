"""One form pattern: parse with Pydantic, kind messages per field, values always kept.

A form model lists its fields in page order and says, per field, what to tell a person for
each kind of problem. Routes call `parse_form`; templates use the macros in
templates/macros/forms.html with `form.values` and `form.errors`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from starlette.datastructures import FormData

T = TypeVar("T", bound="FormModel")

# Control characters (NUL breaks PostgreSQL) other than tab and newlines, and bidi overrides.
_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
MAX_FIELD_CHARS = 20_000  # anything longer is cut here, before validation explains the limit


class FormModel(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    # {"field": {"missing": "Enter ...", "too_long": "...", "invalid": "..."}}
    messages: ClassVar[dict[str, dict[str, str]]] = {}
    # Fields that take several values (checkboxes).
    multi: ClassVar[tuple[str, ...]] = ()


@dataclass
class FormState(Generic[T]):
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    data: T | None = None

    @property
    def ok(self) -> bool:
        return self.data is not None and not self.errors

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)
        self.data = None


def clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value[:MAX_FIELD_CHARS])
    return _UNSAFE.sub("", value).replace("\r\n", "\n")


def raw_values(model: type[FormModel], form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in model.model_fields:
        if name in model.multi:
            values[name] = [clean_text(v) for v in form.getlist(name) if isinstance(v, str)]
        else:
            value = form.get(name)
            values[name] = clean_text(value) if isinstance(value, str) else ""
    return values


def parse_form(model: type[T], form: FormData) -> FormState[T]:
    values = raw_values(model, form)
    to_validate = {
        name: (value if value not in ("", []) or name in model.multi else None)
        for name, value in values.items()
    }
    to_validate = {k: v for k, v in to_validate.items() if v is not None}
    state: FormState[T] = FormState(values=values)
    try:
        state.data = model.model_validate(to_validate)
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "__all__"
            state.errors.setdefault(name, _message(model, name, error))
        order = list(model.model_fields)
        state.errors = dict(
            sorted(state.errors.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 0)
        )
    return state


# --- email addresses: one check for every form -----------------------------------------

EMAIL_LIKE = "Enter an email address like name@example.com"
EMAIL_END = "Check the end of your email address, for example name@gmail.com"


def valid_email(value: str) -> str:
    """The one email check (every form's email field is an `EmailAddress`): an address that
    could be real, normalised (the part after the @ in small letters). Nothing is looked up:
    forms must work offline, and a lookup would tell nothing about whose address it is."""
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValueError(_email_problem(value)) from None


def _email_problem(value: str) -> str:
    local, at, domain = value.strip().rpartition("@")
    if at and local and ("." not in domain.strip(".") or domain.endswith(".")):
        return EMAIL_END  # "kai@gmail": the ending is missing or cut short
    return EMAIL_LIKE


EmailAddress = Annotated[str, AfterValidator(valid_email)]


def empty_form(model: type[T], **values: Any) -> FormState[T]:
    defaults: dict[str, Any] = {n: ([] if n in model.multi else "") for n in model.model_fields}
    defaults.update(values)
    return FormState(values=defaults)


def _message(model: type[FormModel], name: str, error: Any) -> str:
    kinds = model.messages.get(name, {})
    kind = _kind(error["type"])
    if kind == "custom":
        # A validator's own words (raise ValueError("Enter ...")) are already kind. A library's
        # value error (one with no words of ours) is not.
        own_words = error.get("ctx", {}).get("error")
        if own_words is not None:
            return str(own_words)
        kind = "invalid"
    return kinds.get(kind) or kinds.get("invalid") or "Check this answer and try again"


def _kind(error_type: str) -> str:
    if error_type == "missing":
        return "missing"
    if error_type in {"string_too_long", "too_long"}:
        return "too_long"
    if error_type in {"string_too_short", "too_short"}:
        return "too_short"
    if error_type == "value_error":
        return "custom"
    return "invalid"
