"""People's names: names the platform knows, a names list, and the clues around a word."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

from app.text.pii_lexicon import (
    BUILDINGS,
    MONTHS_AND_DAYS,
    NOT_NAMES,
    SCHOOL_HEADS,
    STREETS,
    TITLES,
    Lexicon,
    word_set,
)
from app.text.pii_tokens import Hit, Token, one_edit

ROLES = (
    r"so(?:cial|cail|cal|shal)\s*w(?:orker|oker|roker|rker|orkr)s?|sw|s/w|foster\s+(?:carers?|mum|mam|mom|dad|mother|father|"
    r"parents?|sister|brother)|carers?|key\s*workers?|support\s+worker|youth\s+worker|"
    r"family\s+support\s+worker|leaving\s+care\s+worker|personal\s+advis[eo]r|pa|iro|mentor|"
    r"advocate|teacher|tutor|head\s*teacher|head\s+of\s+year|counsell?or|therapist|nurse|"
    r"doctor|gp|manager|team\s+manager|solicitor|lawyer|guardian|worker|caseworker|coach|boss|"
    r"officer|pc|psychologist|psychiatrist|mum|mam|mom|mother|dad|father|nan|nana|nanna|gran|"
    r"granny|grandma|grandad|granddad|grandpa|grandmother|grandfather|aunt|aunty|auntie|uncle|"
    r"cousin|brother|bro|sister|sis|step\s*-?\s*(?:dad|mum|brother|sister)|"
    r"half\s*-?\s*(?:brother|sister)|friend|mate|bestie|best\s+(?:friend|mate)|bff|boyfriend|"
    r"bf|girlfriend|gf|partner|ex|son|daughter|neighbour|roommate|flatmate"
)

# The last word of every role and clue in STRONG_BEFORE, to skip the regex when none is near.
ROLE_ENDS = word_set(
    "worker workers sw w carer carers mum mam mom dad mother father parent parents sister brother "
    "keyworker pa iro mentor advocate teacher tutor headteacher year counsellor counselor "
    "therapist nurse doctor gp manager solicitor lawyer guardian caseworker coach boss officer "
    "pc psychologist psychiatrist nan nana nanna gran granny grandma grandad granddad grandpa "
    "grandmother grandfather aunt aunty auntie uncle cousin bro sis stepdad stepmum friend mate "
    "bestie bff boyfriend bf girlfriend gf partner ex son daughter neighbour roommate flatmate "
    "adviser advisor called named name nicknamed is was who whos who's me i'm im am from love "
    "luv thanks cheers"
)

STRONG_BEFORE = re.compile(
    rf"(?:\b(?:{ROLES})\s*[,:(-]?\s*(?:(?:is|was|called|named|who\s+is|whos|who's)\s+)?"
    r"|\b(?:called|named|name\s+is|name's|names|nicknamed|call\s+me|i'?m|i\s+am)\s+"
    r"|\b(?:love\s+from|lots\s+of\s+love|love|luv|from|thanks|cheers)\s*[,:-]?\s*)$",
    re.IGNORECASE,
)

SIGN_OFF = re.compile(
    r"\b(?:love\s+from|lots\s+of\s+love|love|luv|from|thanks|cheers)\s*[,:-]?\s*$", re.I
)

BRIDGED = re.compile(r"\b(?:is|was|i'?m|i\s+am)\s+$", re.IGNORECASE)

AFTER_NAME = re.compile(
    r"\s*(?:said|says|told|tells|asked|asks|texted|messaged|rang|phoned|helped|helps|promised|"
    r"explained|shouted|reckons|replied|and\s+me\b|and\s+i\b|is\s+my\b|was\s+my\b|"
    r"(?:is|was)\s+(?:the\s+)?(?:best|only|one)\b)",
    re.IGNORECASE,
)

ME_AND = re.compile(r"\b(?:me|myself)\s+(?:and|n|&)\s+$", re.IGNORECASE)

LOWER_CASE_CLASHES = frozenset(
    {"liv", "kay", "jo", "ty", "mac", "al", "ed", "les", "jan", "bo", "de"}
)

DETERMINERS = word_set("last this next the a every in over all that his her its")


def find_known_names(text: str, known_names: Iterable[str], lex: Lexicon) -> Iterator[Hit]:
    """Names the platform knows (participants and staff): whole words, any case."""
    any_case, capitalised = _known_name_patterns(tuple(known_names), lex.common)
    for pattern, needs_capital in ((any_case, False), (capitalised, True)):
        if pattern is None:
            continue
        for m in pattern.finditer(text):
            if needs_capital and not m.group()[0].isupper():
                continue
            yield Hit(m.start(), m.end(), "PERSON", 90)


@lru_cache(maxsize=64)
def _known_name_patterns(
    known_names: tuple[str, ...], common: frozenset[str]
) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """One regex for all the names (and each part of a full name), built once per name list."""
    variants: dict[str, bool] = {}
    for name in known_names:
        name = " ".join(str(name).split())[:100]
        parts = [name, *name.split()] if " " in name else [name]
        for part in parts:
            part = part.strip(".,;:!?()\"'")
            if len(part) < 2 or part.lower() in TITLES:
                continue
            # A display name that is also an everyday word ("Will") counts only when capitalised.
            variants[part.lower()] = part.lower() in common
    patterns: list[re.Pattern[str] | None] = []
    for needs_capital in (False, True):
        chosen = sorted(
            (v for v, c in variants.items() if c is needs_capital), key=len, reverse=True
        )
        alternation = "|".join(re.escape(v) for v in chosen)
        patterns.append(
            re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE) if chosen else None
        )
    return patterns[0], patterns[1]


def find_near_known_names(
    tokens: list[Token], known_names: Iterable[str], lex: Lexicon
) -> Iterator[Hit]:
    """A one-letter slip in a known name ("Aysha" for "Aisha") still names the person."""
    targets = _slip_index(tuple(known_names))
    if not targets:
        return
    for tok in tokens:
        low = tok.text.lower()
        if len(low) < 4 or low in lex.words or low in lex.common:
            continue
        candidates = set().union(*(targets.get(v, ()) for v in _deletions(low)))
        if low not in candidates and any(one_edit(low, target) for target in candidates):
            yield Hit(tok.start, tok.end, "PERSON", 70)


@lru_cache(maxsize=64)
def _slip_index(known_names: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Each known name under itself and every one-letter deletion of it."""
    index: dict[str, set[str]] = {}
    for name in known_names:
        for part in str(name).lower().split():
            if len(part) >= 4 and part.isalpha():
                for variant in _deletions(part):
                    index.setdefault(variant, set()).add(part)
    return {variant: frozenset(parts) for variant, parts in index.items()}


def _deletions(word: str) -> set[str]:
    return {word} | {word[:i] + word[i + 1 :] for i in range(len(word))}


def find_people(text: str, tokens: list[Token], lex: Lexicon) -> Iterator[Hit]:
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in lex.common or low in MONTHS_AND_DAYS or low in NOT_NAMES or len(low) < 2:
            if low in TITLES and i + 1 < len(tokens):
                yield from _titled(tokens, i, lex)
            continue
        score = _person_score(text, tokens, i, lex)
        if not score and _unmarked_possessive(low, lex):
            yield Hit(tok.start, tok.end - 1, "PERSON", 45)
            continue
        if score:
            end = _surname_end(tokens, i, lex)
            yield Hit(tok.start, end, "PERSON", score)


def _person_score(text: str, tokens: list[Token], i: int, lex: Lexicon) -> int:
    tok = tokens[i]
    low = tok.text.lower()
    tier = lex.names.get(low) or lex.names.get(_plain(low))
    window = text[max(0, tok.start - 40) : tok.start]
    strong = STRONG_BEFORE.search(window) if _may_follow_role(tokens, i) else None
    unknown_word = low not in lex.words and tok.text.isalpha()
    sign_off = bool(strong and SIGN_OFF.search(strong.group()))
    if sign_off and not _last_word(text, tokens, i):
        strong = None  # "from" and "love" name someone only when signing off: "love from Jaz x"
    if strong and sign_off:
        return 40 if (unknown_word and len(low) >= 3) or tier else 0  # below "from Poland"
    if strong:
        # After "my social worker" a name; after "my mum is" more often a word ("lovely").
        bridged = BRIDGED.search(strong.group())
        if (unknown_word and len(low) >= 3) or (tier and (tok.cap or not bridged)):
            return 70
    after = AFTER_NAME.match(text, tok.end)
    if tok.cap and after and (tier or unknown_word) and not tok.initial:
        return 65
    if (
        i > 1
        and tokens[i - 2].low in {"me", "myself"}
        and ME_AND.search(window)
        and (tier or unknown_word)
        and (tok.cap or low not in lex.words)
    ):
        return 65  # "me and Jaden", "me n jaden"
    if after and (tier or unknown_word) and low not in lex.words and len(low) >= 3:
        return 60  # "jaden said", "Tiegan was my best mate"
    if tier in ("common", "rare") and tok.cap:
        return 50
    if tier == "common" and len(low) >= 3 and low not in LOWER_CASE_CLASHES:
        return 45
    if tier == "wordname" and tok.cap and not tok.initial:
        previous = tokens[i - 1].low if i > 0 else ""
        return 0 if previous in DETERMINERS else 50  # "last Summer", "the Will"
    if tier and tok.cap and after:
        return 60
    return 0


def _last_word(text: str, tokens: list[Token], i: int) -> bool:
    rest = text[tokens[i].end :]
    return i == len(tokens) - 1 or (
        i + 1 < len(tokens) and tokens[i + 1].low in {"x", "xx", "xxx"} and len(rest) < 12
    )


def _unmarked_possessive(low: str, lex: Lexicon) -> bool:
    """'Priyas mum': a name with an s and no apostrophe."""
    return (
        low.endswith("s")
        and lex.names.get(low[:-1]) in ("common", "rare")
        and low not in lex.words
        and low not in lex.names
    )


def _may_follow_role(tokens: list[Token], i: int) -> bool:
    """A cheap test before the role regex: is a role word or "called" just before?"""
    return any(k >= 0 and tokens[k].low in ROLE_ENDS for k in (i - 1, i - 2, i - 3))


def _plain(word: str) -> str:
    """'oisín' -> 'oisin': the names list is written without accents."""
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _surname_end(tokens: list[Token], i: int, lex: Lexicon) -> int:
    end = tokens[i].end
    for j in range(i + 1, min(i + 3, len(tokens))):
        nxt = tokens[j]
        low = nxt.text.lower()
        if not (nxt.cap and nxt.tight and not nxt.initial) or low in lex.common:
            break
        if (
            low in MONTHS_AND_DAYS
            or low in NOT_NAMES
            or tokens[j - 1].end != tokens[j - 1].start + len(tokens[j - 1].low)
        ):
            break  # "Aisha's Mum": a possessive ends the name
        if low in SCHOOL_HEADS or low in BUILDINGS or low in STREETS or low == "council":
            break
        end = nxt.end
    return end


def _titled(tokens: list[Token], i: int, lex: Lexicon) -> Iterator[Hit]:
    title, nxt = tokens[i], tokens[i + 1]
    low = nxt.text.lower()
    if not nxt.tight or low in lex.common or low in MONTHS_AND_DAYS:
        return
    if title.low in {"miss", "sir", "madam"} and not nxt.cap:
        return  # "I miss home"
    if nxt.cap or (low not in lex.words and len(low) >= 3) or low in lex.names:
        yield Hit(title.start, _surname_end(tokens, i + 1, lex), "PERSON", 75)
