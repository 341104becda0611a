"""Places: a list of UK towns, districts and counties, countries, streets, and clues."""

from __future__ import annotations

import re
from collections.abc import Iterator

from app.text.pii_institutions import CARE_CONTEXT, CONNECTORS, name_before
from app.text.pii_lexicon import GENERIC, NOT_NAMES, STREETS, TITLES, Lexicon, Place, word_set
from app.text.pii_tokens import Hit, Token, one_edit

LOCATION_CUE = word_set("in from to near at round around outside into towards nr via")

COUNTRY_CUE = word_set("from in fled left escaped")

STRONG_PLACE_CUE = re.compile(
    r"\b(?:live|lived|living|stay|stayed|staying|grew\s+up|born|based)\s+in\s+$"
    r"|\b(?:moved|move|moving|sent|placed)\s+(?:to|from)\s+$"
    r"|\b(?:i'?m|i\s+am|come|came|comes|originally)\s+from\s+$",
    re.IGNORECASE,
)

HOME_CUE = re.compile(
    r"\b(?:lived|living|live|stayed|staying|placed|moved|put\s+me)\s+(?:at|into)\s+$", re.IGNORECASE
)

HOUSE_NUMBER = re.compile(r"\b\d{1,4}[a-z]?,?\s+$")


def find_places(text: str, tokens: list[Token], lex: Lexicon) -> Iterator[Hit]:
    i = 0
    while i < len(tokens):
        match = _longest_place(tokens, i, lex)
        if match is None:
            if _misspelt_place(tokens, i, lex):
                yield Hit(tokens[i].start, tokens[i].end, "LOCATION", 40)
            i += 1
            continue
        j, place = match
        score = _place_score(text, tokens, i, j, place, lex)
        if score:
            yield Hit(tokens[i].start, tokens[j].end, "LOCATION", score)
        i = j + 1
    yield from _unknown_places(text, tokens, lex)
    for i, tok in enumerate(tokens):
        if tok.low in STREETS or (tok.low == "st" and tok.cap and _street_st(tokens, i)):
            yield from _street(text, tokens, i, lex)


def _misspelt_place(tokens: list[Token], i: int, lex: Lexicon) -> bool:
    """'Manchetser', 'birmingam': one slip from a big town, capitalised or after "in"/"to"."""
    tok = tokens[i]
    low = tok.low
    if len(low) < 6 or low in lex.words or low in lex.common or low in lex.names:
        return False
    if not (tok.cap or (i > 0 and tokens[i - 1].low in LOCATION_CUE)):
        return False
    return any(one_edit(low, place) for place in lex.big_places if abs(len(place) - len(low)) <= 1)


def _longest_place(tokens: list[Token], i: int, lex: Lexicon) -> tuple[int, Place] | None:
    longest = lex.place_lengths.get(tokens[i].low)
    if longest is None:
        return None
    last = i
    while last + 1 < min(len(tokens), i + longest) and tokens[last + 1].tight:
        last += 1
    for j in range(last, i - 1, -1):
        place = lex.places.get(tuple(t.low for t in tokens[i : j + 1]))
        if place is not None:
            return j, place
    return None


def _place_score(text: str, tokens: list[Token], i: int, j: int, place: Place, lex: Lexicon) -> int:
    first = tokens[i]
    previous = tokens[i - 1].low if i > 0 else ""
    if previous in TITLES:
        return 0  # "Mrs Preston" is a person
    cap = all(t.cap for t in tokens[i : j + 1] if t.low not in CONNECTORS)
    cue = previous in LOCATION_CUE
    if place.country:
        strong = previous in COUNTRY_CUE or bool(
            re.search(r"\b(?:back\s+to|born\s+in|back\s+home\s+in)\s+$", text[: first.start], re.I)
        )
        return 60 if strong and (cap or not place.wordlike) else 0
    if j > i:
        if cap or (not place.wordlike and (cue or place.population >= 15000)):
            return 60
        return 0
    if first.low in lex.common or first.low in NOT_NAMES or len(first.low) < 3:
        return 0
    if place.wordlike:
        return 60 if cap and cue else 0
    if cue:
        return 60
    if cap:
        return 55 if place.population >= 50000 or first.low not in lex.names else 35
    return 50 if place.population >= 15000 else 0


def _unknown_places(text: str, tokens: list[Token], lex: Lexicon) -> Iterator[Hit]:
    """'I live in Nettlebury': a place we have no list entry for, after a strong clue."""
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in lex.common or low in NOT_NAMES or len(low) < 4:
            continue
        before = text[max(0, tok.start - 30) : tok.start]
        home = tok.cap and HOME_CUE.search(before)
        if low in lex.words and not home:
            continue
        if not home and not STRONG_PLACE_CUE.search(before):
            continue
        end = tok.end
        for nxt in tokens[i + 1 : i + 3]:
            if not (nxt.cap and tok.cap and nxt.tight) or nxt.low in lex.common:
                break
            end = nxt.end
        # "I was placed at Rosewood": in a text about care, a named place you live is a home.
        label = "CARE_HOME" if home and CARE_CONTEXT.search(text) else "LOCATION"
        yield Hit(tok.start, end, label, 30)


def _street_st(tokens: list[Token], i: int) -> bool:
    """'Elm St' is a street, 'St Mary's' a saint."""
    return i + 1 >= len(tokens) or not tokens[i + 1].cap or not tokens[i + 1].tight


def _street(text: str, tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    """'I live on Elm Road', '14 elm road': a street is a place (with its house number)."""
    if i == 0 or not tokens[i].tight:
        return
    tok = tokens[i]
    if tok.low in {"park", "way", "walk", "row", "place", "close"} and not tok.cap:
        return  # "the park", "no way": words, unless written as a name
    start = name_before(tokens, i, lex)
    if start is None:
        # Lower case and an ordinary word ("elm road"): only after a clue or a house number.
        word = tokens[i - 1]
        before = text[max(0, word.start - 20) : word.start].lower()
        clue = re.search(r"\b(?:on|in|at|off|live|lives|lived|living)\s+$", before)
        if word.low in lex.common or word.low in GENERIC or not word.text.isalpha():
            return
        if not (clue or HOUSE_NUMBER.search(before)):
            return
        start = i - 1
    begin = tokens[start].start
    number = HOUSE_NUMBER.search(text[max(0, begin - 8) : begin])
    if number:
        begin -= len(number.group())
    yield Hit(begin, tok.end, "LOCATION", 55)
