"""Every email's words come from templates in app/templates/email/: a plain-text part and an
HTML part that say the same thing.

`email/<name>.txt` and `email/<name>.html` extend `email/base.txt` and `email/base.html`.
The subject is the `subject` block of the text template (a header is text, never HTML), and
the HTML part gets it as its title. The HTML templates are autoescaped, so anything a person
typed (a display name, a message, an answer) is shown as text, never as markup; the text
templates are not escaped, so the text part keeps the exact words. Headers are made one line
by the outbox, as before.

The folder is the app's template folder, but the environment is this module's own: pages
need the request machinery of app/templating.py, and an email is rendered by the worker too,
where there is no request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from markupsafe import Markup

from app.config import Settings
from app.timefmt import in_words, in_words_from

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


@pass_context
def _when(context: Any, value: datetime | None) -> str:
    """A time in words in the organisation's zone: "Friday 5 February at 11:59pm"."""
    return in_words(value, context["tz"])


@pass_context
def _when_from(context: Any, value: datetime | None) -> str:
    """The same, with the year when it isn't the year of the email's `now`."""
    return in_words_from(value, context["now"], context["tz"])


def _paragraphs(text: str) -> Markup:
    """Text a person typed, as HTML paragraphs: escaped, blank lines between paragraphs and
    line breaks kept."""
    found = [part for part in re.split(r"\n[ \t]*\n", text.strip()) if part.strip()]
    return Markup("\n").join(
        Markup("<p>{}</p>").format(Markup("<br>\n").join(part.split("\n"))) for part in found
    )


def _linkable(url: str | None) -> bool:
    """Only web and mail links become <a href>: a javascript: link typed by staff never does."""
    return bool(url) and urlsplit(str(url)).scheme in {"http", "https", "mailto"}


# One environment: .html templates are autoescaped, .txt templates are not (a text part is
# not HTML, and escaping would change its words: "Tom & Ann" must stay "Tom & Ann").
_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,
)
_env.filters.update(when=_when, when_from=_when_from, paragraphs=_paragraphs)
_env.tests["linkable"] = _linkable


def render(template: str, settings: Settings, now: datetime, /, **context: Any) -> Email:
    """The subject, text and HTML of `email/<template>`, with `context` and what every email
    knows: the organisation, the site's address, the time zone and `now`."""
    values = {
        "organisation": settings.organisation_name,
        "base_url": settings.base_url.rstrip("/"),
        "tz": settings.timezone,
        "now": now,
        **context,
    }
    text_template = _env.get_template(f"email/{template}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(values)))
    subject = " ".join(subject.split())
    text = text_template.render(values)
    html = _env.get_template(f"email/{template}.html").render(values, subject=subject)
    return Email(subject=subject, text=text, html=html)


def names() -> list[str]:
    """Every email there is (for the test that renders them all)."""
    folder = TEMPLATES / "email"
    return sorted(
        str(path.relative_to(folder).with_suffix(""))
        for path in folder.rglob("*.txt")
        if not path.name.startswith(("_", "base."))
    )
