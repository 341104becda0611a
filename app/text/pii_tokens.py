"""Words of a text with their offsets, capitalisation and sentence position."""

from __future__ import annotations

import re
from typing import NamedTuple

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
POSSESSIVE = re.compile(r"['’]s$|s['’]$", re.IGNORECASE)
SENTENCE_BREAK = re.compile(r"[.!?\n:;\"“”()\[\]]")


class Hit(NamedTuple):
    """A candidate span; overlapping hits are settled by length, then score."""

    start: int
    end: int
    label: str
    score: int


class Token(NamedTuple):
    start: int
    end: int  # without a possessive 's ("Aisha's" ends after "Aisha")
    text: str  # as written, without the possessive
    low: str  # lower case, straight apostrophes, possessive kept ("shepherd's")
    cap: bool  # starts with a capital that means something (not in an all-capitals text)
    initial: bool  # first word of a sentence
    tight: bool  # only spaces or a hyphen between this word and the one before


def words_of(text: str) -> list[str]:
    return [m.group() for m in WORD.finditer(text)]


def tokenize(text: str, common: frozenset[str] = frozenset()) -> list[Token]:
    matches = list(WORD.finditer(text))
    # In text written all in capitals or Title Case ("Me And Tyler Got Moved"), a capital says
    # nothing about a name: we can tell because everyday words are capitalised too.
    everyday = [m.group() for m in matches[1:] if m.group().lower() in common and m.group() != "I"]
    capitalised = sum(1 for word in everyday if word[0].isupper())
    caps_mean_something = len(everyday) < 3 or capitalised / len(everyday) <= 0.5
    tokens: list[Token] = []
    previous_end = 0
    for m in matches:
        raw = m.group()
        stripped = raw
        possessive = POSSESSIVE.search(raw)
        if possessive and len(raw) > 3:
            stripped = raw[: possessive.start()] if raw[-1] in "sS" else raw[:-1]
        between = text[previous_end : m.start()]
        initial = not tokens or (between != " " and bool(SENTENCE_BREAK.search(between)))
        cap = caps_mean_something and raw[0].isupper() and not (raw.isupper() and len(raw) > 1)
        tokens.append(
            Token(
                start=m.start(),
                end=m.start() + len(stripped),
                text=stripped,
                low=raw.lower().replace("’", "'"),
                cap=cap,
                initial=initial,
                tight=bool(tokens)
                and (between == " " or (len(between) <= 3 and not between.strip(" -"))),
            )
        )
        previous_end = m.end()
    return tokens


def one_edit(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and a[diffs[0]] == b[diffs[1]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
