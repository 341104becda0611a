"""Screen what a young person writes before anyone else sees it.

    screen(text, known_names=..., extra_terms=...) -> Screening(action, reasons)

- "concern": a possible disclosure of harm. It goes to a safeguarding lead at once, and wins
  over everything else. Misses are the costly error here, so the rules lean towards flagging.
- "hold": personal details (a phone number, an email, a postcode, a handle, a street address,
  a name the platform knows) or abuse (slurs, insults aimed at someone, threats). A moderator
  looks before it is published.
- "publish": nothing found.

Disclosures are found two ways: word rules (app/text/screening_rules.py, with the lists in
app/text/data/screening_*) and, when its packages are installed, a small sentence-embedding
model run offline (app/text/screening_model.py) that catches indirect ways of saying it.
Personal details come from app/text/pii.py.

`screen_stream` is `heard text screen`: JSON lines in ({"text"}), one JSON line out per line,
in order, flushed each time. Post text is never logged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Literal

from app.text import screening_model
from app.text.screening_rules import load_rules, normalise, phrase_pattern, whole_words

log = logging.getLogger(__name__)

Action = Literal["publish", "hold", "concern"]
Reason = Literal["personal_details", "abuse", "disclosure", "empty", "malformed"]

DISCLOSURE_RULES = "screening_disclosure_rules.txt"
ABUSE_RULES = "screening_abuse_rules.txt"
# What a personal-details span must be labelled to hold a post. A PERSON is held only when it
# is a name the platform knows (a participant or staff member): "my mum" or a pop star is
# not a personal detail, and holding every capitalised word would hold most posts.
DETAIL_LABELS = frozenset({"PHONE", "EMAIL", "POSTCODE", "HANDLE"})
HOUSE_NUMBER = re.compile(r"\d")


@dataclass(frozen=True)
class ScreenTerms:
    """Phrases staff add from a page, on top of Heard's own lists (plain words, not regexes)."""

    disclosure_phrases: tuple[str, ...] = ()
    abuse_words: tuple[str, ...] = ()


@dataclass(frozen=True)
class Screening:
    action: Action
    reasons: tuple[Reason, ...]
    # Which kinds of disclosure or abuse were seen ("suicide", "neglect", "slur", "model"...),
    # for the moderator's queue and for measuring; not part of the command's output.
    signals: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {"action": self.action, "reasons": list(self.reasons)}


def screen(
    text: str,
    *,
    known_names: Iterable[str] = (),
    extra_terms: ScreenTerms | None = None,
) -> Screening:
    """What should happen to this post before anyone else sees it."""
    if not isinstance(text, str):
        raise TypeError("screen() takes the post's text as a str")
    if not text.strip():
        return Screening("publish", ("empty",))
    names = tuple(name for name in known_names if isinstance(name, str) and name.strip())
    terms = extra_terms or ScreenTerms()
    words = normalise(text)

    disclosure = _disclosure_signals(text, words, terms)
    abuse = _abuse_signals(words, names, terms)
    details = _has_personal_details(text, names)

    reasons: list[Reason] = []
    if details:
        reasons.append("personal_details")
    if abuse:
        reasons.append("abuse")
    if disclosure:
        reasons.append("disclosure")
    action: Action = "concern" if disclosure else "hold" if reasons else "publish"
    return Screening(action, tuple(reasons), tuple(disclosure + abuse))


def _disclosure_signals(text: str, words: str, terms: ScreenTerms) -> list[str]:
    signals = load_rules(DISCLOSURE_RULES).signals(words)
    extra = phrase_pattern(terms.disclosure_phrases)
    if extra is not None and extra.search(words):
        signals.append("staff_phrase")
    if not signals and words and _model_flags(text):
        # Only asked when no rule fired: it is the slowest step, and a rule already decided.
        signals.append("model")
    return signals


def _model_flags(text: str) -> bool:
    model = screening_model.load()
    if model is None:
        return False
    # Each sentence once: a post that repeats itself costs no more to read.
    sentences = dict.fromkeys(normalise(s) for s in screening_model.SENTENCE_END.split(text))
    try:
        return model.flags([s for s in sentences if s])
    except Exception as error:
        # The word rules have already run; a failing model must not stop the post being read.
        # Only the error's type is logged: its message could quote the post.
        log.error("Screening model failed on a post (%s); word rules only.", type(error).__name__)
        return False


def _abuse_signals(words: str, names: tuple[str, ...], terms: ScreenTerms) -> list[str]:
    rules = load_rules(ABUSE_RULES)
    signals = rules.signals(words)
    extra = phrase_pattern(terms.abuse_words)
    if extra is not None and extra.search(words):
        signals.append("staff_word")
    if names and "targeted" not in signals and _insults_by_name(names).search(words):
        signals.append("targeted")
    return signals


@lru_cache(maxsize=64)  # one entry per set of names (a workshop's), not one per post
def _insults_by_name(names: tuple[str, ...]) -> re.Pattern[str]:
    """ "Jess is a slag": an insult aimed at someone the platform knows by name."""
    macros = load_rules(ABUSE_RULES).macros
    full = {normalise(name) for name in names}
    first = {form.split()[0] for form in full if form}
    forms = sorted((full | first) - {""}, key=len, reverse=True)
    named = "|".join(re.escape(form) for form in forms) or "(?!)"
    return whole_words(
        rf"(?:{named})s? (?:is |are |was )?(?:(?:{macros['intense']}) )*(?:{macros['insult']})"
    )


def _has_personal_details(text: str, names: tuple[str, ...]) -> bool:
    try:
        from app.text.pii import find_spans

        spans = find_spans(text, names)
    except Exception as error:
        # Unable to look for personal details: hold, so a person looks instead.
        log.error("Personal-details check failed on a post (%s); held.", type(error).__name__)
        return True
    # "Jordan" is as telling as "Jordan Smith" when a Jordan Smith takes part.
    known = {part for name in names for part in name.casefold().split() if len(part) > 1}
    for span in spans:
        found = text[span.start : span.end]
        if span.label in DETAIL_LABELS:
            return True
        if span.label == "PERSON" and _is_known(found, known):
            return True
        if span.label == "LOCATION" and HOUSE_NUMBER.match(found):
            return True  # a street address with its house number
    return False


def _is_known(found: str, known: set[str]) -> bool:
    return any(part in known for part in found.casefold().split())


# ------------------------------------------------------------------ the command


def screen_stream(instream: IO[str], outstream: IO[str]) -> None:
    """`heard text screen`: one JSON line out for every line in, in order, flushed each time."""
    for line in _lines(instream):
        result = _screen_line(line)
        outstream.write(json.dumps(result.as_json()) + "\n")
        outstream.flush()


def _lines(instream: IO[str]) -> Iterator[str]:
    """Lines split on "\\n" only, read as UTF-8 whatever the locale; bad bytes are replaced."""
    binary = getattr(instream, "buffer", None)
    if binary is None:
        for line in instream:
            yield line.rstrip("\n").rstrip("\r")
        return
    for raw in binary:
        yield raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")


def _screen_line(line: str) -> Screening:
    """Screen one input line. A line that is not {"text": "..."} is held (nobody could read
    it for us), and whatever text can be found in it is still screened for disclosures."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return _malformed(line)
    if isinstance(record, dict) and isinstance(record.get("text"), str):
        names = record.get("known_names")
        known = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        try:
            return screen(record["text"], known_names=known)
        except Exception as error:
            log.error("Screening failed on a line (%s); held.", type(error).__name__)
            return Screening("hold", ("malformed",))
    return _malformed(_strings_in(record))


def _malformed(salvaged: str) -> Screening:
    try:
        found = screen(salvaged) if salvaged.strip() else None
    except Exception as error:
        log.error("Screening failed on a malformed line (%s); held.", type(error).__name__)
        found = None
    if found is None or found.action == "publish":
        return Screening("hold", ("malformed",))
    reasons = tuple(r for r in found.reasons if r != "empty")
    action: Action = "concern" if found.action == "concern" else "hold"
    return Screening(action, (*reasons, "malformed"), found.signals)


def _strings_in(value: object, depth: int = 0) -> str:
    """Every string inside a JSON value, joined, so a disclosure in an odd shape is not lost."""
    if depth > 20:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_strings_in(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings_in(v, depth + 1) for v in value)
    return ""
