"""Named schools, councils and children's homes: a proper name before a word such as "Academy"."""

from __future__ import annotations

import re
from collections.abc import Iterator

from app.text.pii_lexicon import (
    BUILDINGS,
    GENERIC,
    MONTHS_AND_DAYS,
    NOT_NAMES,
    SCHOOL_HEADS,
    Lexicon,
    word_set,
)
from app.text.pii_tokens import Hit, Token

PREPOSITIONS = word_set(
    "at to from in into near outside attend attended attending left called named"
)

CONNECTORS = frozenset({"of", "and", "the", "upon", "on"})

WEAK_SCHOOL_HEADS = word_set("primary secondary high comp prep form juniors infants")

SCHOOL_WORDS = SCHOOL_HEADS | word_set(
    "junior infant community special free catholic church england ce rc c e middle upper first "
    "nursery sixth studio technical girls boys sports arts city technology "
    "high primary secondary grammar"
)

CARE_HEADS: tuple[tuple[str, ...], ...] = (
    ("secure", "children's", "home"),
    ("children's", "home"),
    ("childrens", "home"),
    ("children", "home"),
    ("kids", "home"),
    ("kid's", "home"),
    ("care", "home"),
    ("residential", "home"),
    ("residential", "unit"),
    ("res", "unit"),
    ("secure", "unit"),
    ("group", "home"),
    ("children's", "unit"),
    ("childrens", "unit"),
    ("residential",),
)

CARE_CONTEXT = re.compile(
    r"\b(?:placement|placed|care|staff|residential|foster|children'?s\s+home|key\s*worker|lived)\b",
    re.IGNORECASE,
)

CARE_HEAD_STARTS = frozenset(head[0] for head in CARE_HEADS)

LA_QUALIFIERS = word_set("city county borough district metropolitan town parish unitary")


def find_institutions(text: str, tokens: list[Token], lex: Lexicon) -> Iterator[Hit]:
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low == "council":
            yield from _council(tokens, i, lex)
        elif low in SCHOOL_HEADS:
            yield from _school(tokens, i, lex)
        elif low in {"borough"} and i > 0 and tokens[i - 1].low in {"london", "royal"}:
            yield from _borough_of(tokens, i, lex)
        elif low in {"university", "college"} and i + 2 < len(tokens) and tokens[i + 1].low == "of":
            end = _name_after(tokens, i + 2, lex)
            if end is not None:
                yield Hit(tok.start, end, "SCHOOL", 70)
        if low in BUILDINGS and tok.cap:
            yield from _building(text, tokens, i, lex)
    yield from _care_homes(tokens, lex)


def _council(tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    k = i
    while k > 0 and tokens[k - 1].low in LA_QUALIFIERS and tokens[k].tight:
        k -= 1
    if k == 0 or not tokens[k].tight:
        return
    start = name_before(tokens, k, lex)
    if start is not None:
        yield Hit(tokens[start].start, tokens[i].end, "LOCAL_AUTHORITY", 70)


def _borough_of(tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    if i + 2 < len(tokens) and tokens[i + 1].low == "of":
        end = _name_after(tokens, i + 2, lex)
        if end is not None:
            start = tokens[i - 1].start
            if i > 1 and tokens[i - 2].text == "The":
                start = tokens[i - 2].start
            yield Hit(start, end, "LOCAL_AUTHORITY", 75)


def _name_after(tokens: list[Token], k: int, lex: Lexicon) -> int | None:
    end = None
    j = k
    while j < len(tokens) and j - k < 5 and tokens[j].tight:
        tok = tokens[j]
        if is_name_token(tok, lex):
            end = tok.end
        elif not (tok.low in CONNECTORS and end is not None):
            break
        j += 1
    return end


def _school(tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    tok = tokens[i]
    if tok.low == "form" and (i == 0 or tokens[i - 1].low != "sixth"):
        return
    if i + 1 < len(tokens) and tokens[i + 1].low in SCHOOL_HEADS and tokens[i + 1].tight:
        return  # not the last word of "Primary School"
    k = i
    while k > 0 and tokens[k - 1].low in SCHOOL_WORDS and tokens[k].tight:
        k -= 1
    if k == 0 or not tokens[k].tight:
        return
    start = name_before(tokens, k, lex, loose=tok.low not in WEAK_SCHOOL_HEADS)
    if start is None:
        return
    if tok.low in WEAK_SCHOOL_HEADS and not tok.cap:
        names = [t for t in tokens[start:k] if t.text != "The"]
        if not all((t.low,) in lex.places or t.low not in lex.words for t in names):
            return  # "sky high": a word, not a school
    yield Hit(tokens[start].start, tok.end, "SCHOOL", 70)


def _care_homes(tokens: list[Token], lex: Lexicon) -> Iterator[Hit]:
    lows = [t.low for t in tokens]
    for i in range(len(tokens)):
        if lows[i] not in CARE_HEAD_STARTS:
            continue
        for head in CARE_HEADS:
            if tuple(lows[i : i + len(head)]) != head:
                continue
            if any(not tokens[k].tight for k in range(i + 1, i + len(head))):
                continue
            start = name_before(tokens, i, lex, loose=True) if i > 0 and tokens[i].tight else None
            if start is not None:
                yield Hit(tokens[start].start, tokens[i + len(head) - 1].end, "CARE_HOME", 75)
            break


def _building(text: str, tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    """'I was placed at Oak Lodge': a named house after a clue is usually a children's home."""
    if i == 0 or not tokens[i].tight:
        return
    start = name_before(tokens, i, lex)
    if start is None or start == i:
        return
    before = text[max(0, tokens[start].start - 25) : tokens[start].start].lower()
    if re.search(r"\b(?:at|in|to|into|from|called)\s+$", before) or CARE_CONTEXT.search(text):
        yield Hit(tokens[start].start, tokens[i].end, "CARE_HOME", 65)


def is_name_token(tok: Token, lex: Lexicon) -> bool:
    low = tok.low
    if low in MONTHS_AND_DAYS or low in NOT_NAMES or low in GENERIC:
        return False
    if tok.cap or (tok.text.isupper() and len(low) > 1):
        return low not in lex.common or low in BUILDINGS or low in {"st", "saint"}
    if low in lex.common:
        return False
    return (low not in lex.words and len(low) >= 3 and tok.text.isalpha()) or (low,) in lex.places


def name_before(tokens: list[Token], end: int, lex: Lexicon, *, loose: bool = False) -> int | None:
    """Index of the first word of the proper name that ends at tokens[end - 1], if any.

    With `loose` (before a strong head such as "children's home"), ordinary lower-case words
    count too ("willow house children's home"), but only straight after "at", "to", "in"... so
    that "a horrible children's home" names nothing.
    """
    start = end
    k = end - 1
    named = False
    plain_words = 0
    while k >= 0 and end - k <= 6 and tokens[k + 1].tight:
        tok = tokens[k]
        if is_name_token(tok, lex) and tok.low not in SCHOOL_WORDS - {"st"}:
            named, start = True, k
        elif loose and end - k <= 3 and _is_plain_word(tok, lex):
            named, start = True, k
            plain_words += 1
        elif tok.low in CONNECTORS and named and k > 0 and is_name_token(tokens[k - 1], lex):
            pass
        else:
            break
        k -= 1
    if not named:
        return None
    before = tokens[start - 1] if start > 0 else None
    lone_plural = start == end - 1 and tokens[start].low.endswith("s")
    # "at The Beeches children's home"; at the start of a sentence only "The Firs ..."
    if before is not None and before.text == "The" and (not before.initial or lone_plural):
        return start - 1
    if not plain_words:
        return start
    # "at the beeches children's home": a lone plural after "the" is the home's name.
    if before is not None and before.low == "the" and lone_plural:
        return start - 1 if start >= 2 and tokens[start - 2].low in PREPOSITIONS else None
    return start if before is not None and before.low in PREPOSITIONS else None


def _is_plain_word(tok: Token, lex: Lexicon) -> bool:
    low = tok.low
    return (
        tok.text.isalpha()
        and len(low) >= 3
        and (low not in lex.common or low in BUILDINGS)
        and low not in GENERIC
        and low not in MONTHS_AND_DAYS
        and low not in SCHOOL_WORDS
    )
