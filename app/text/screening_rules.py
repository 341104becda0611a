"""Word rules for screening: one normal form for how young people write, and rule files.

`normalise` turns a post into lower-case words separated by single spaces, with apostrophes
dropped, look-alike characters folded, leetspeak decoded and text-speak rewritten through
data/screening_textspeak.tsv ("im" → "i am", "kms" → "kill myself", "tryna" → "trying to").
The rules in data/screening_*_rules.txt are regular expressions over that form, so each is
written once for every spelling.

A rule file (see data/screening_disclosure_rules.txt for the full description) has:

    $name = regex              a macro, used in later lines as {name}
    [signal]                   the rules below it raise this signal
    regex                      one rule; it matches whole words only
    [idiom]                    matches are blanked out before any rule runs

An indented line continues the line above it (see `_joins_with_space` for where a space is
put back).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"

_APOSTROPHES = str.maketrans({c: "'" for c in "\u2019\u2018\u02bc\u0060\u00b4\u2032\uff07"})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "i"})  # fmt: skip
_TOKEN = re.compile(r"[\w@$!|']+")
_RUN = re.compile(r"(.)\1{2,}")
_MACRO = re.compile(r"\{([a-z_]+)\}")
_HAS_LEET = re.compile(r"[0134578@$!|]")
# "want 2 die": a lone 2 after these words is "to"; elsewhere it stays a number ("2 days").
_TWO = re.compile(
    r"\b(want|wanted|wants|going|got|have|has|had|need|needs|trying|try|ready|deserve|"
    r"supposed|used|able|me|us|him|her|them|how|back|go|went|come|came|talk|say|said|"
    r"told|tell|wish) 2 "
)


@cache
def textspeak() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for line in (DATA / "screening_textspeak.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        written, _, read_as = line.partition("\t")
        if read_as.strip() and written.strip() != read_as.strip():
            mapping[written.strip()] = read_as.strip()
    return mapping


@cache
def english() -> frozenset[str]:
    """Known English words: the embedding model's vocabulary doubles as a word list."""
    words = (DATA / "screening_minilm_vocab.txt").read_text(encoding="utf-8").split("\n")
    return frozenset(word for word in words if word.isalpha())


def _fold(text: str) -> str:
    """Lower case, compatibility forms folded, accents and invisible characters removed."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = unicodedata.normalize("NFD", text)
    # Accents, zero-width and direction characters, controls and lone surrogates go:
    # they only ever hide a word from the rules.
    return "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Mn", "Cf", "Cc", "Cs", "Co")
    )


def _word(token: str, speak: dict[str, str]) -> str:
    # "!" and "|" end words ("help!") far more often than they stand for "i"; a leading "@"
    # is a handle, not an "a".
    token = token.replace("'", "").strip("!|").lstrip("@")
    if token in speak:
        return speak[token]
    # "k1ll", "$uicide": decoded only in words that start like words ("22yo" stays a number)
    starts_as_word = token[:1].isalpha() or token[:1] in "@$!"
    if starts_as_word and _HAS_LEET.search(token) and re.search(r"[a-z]", token):
        token = token.translate(_LEET)
    token = re.sub(r"[^\w]|_", "", token)
    if _RUN.search(token):
        # Stretched words ("sooo", "scaaared", "killll"): keep two letters or one, whichever
        # is a word we know.
        two, one = _RUN.sub(r"\1\1", token), re.sub(r"(.)\1+", r"\1", token)
        known = english()
        token = next((t for t in (two, one) if t in speak), None) or (
            two if two in known or one not in known else one
        )
    return speak.get(token, token)


def normalise(text: str) -> str:
    """The post as words joined by single spaces, in the form the rules are written for."""
    speak = textspeak()
    words = (_word(token, speak) for token in _TOKEN.findall(_fold(text)))
    return _TWO.sub(r"\1 to ", " ".join(word for word in words if word))


@dataclass(frozen=True)
class Rule:
    signal: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    idioms: tuple[re.Pattern[str], ...]
    macros: dict[str, str]  # expanded, so callers can build rules from the same words

    def signals(self, words: str) -> list[str]:
        """The signals this normalised text raises, each once, in the order of the file."""
        for idiom in self.idioms:
            words = idiom.sub(" ~ ", words)
        found: list[str] = []
        for rule in self.rules:
            if rule.signal not in found and rule.pattern.search(words):
                found.append(rule.signal)
        return found


def whole_words(regex: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w])(?:{regex})(?![\w])")


def _joins_with_space(before: str, after: str) -> bool:
    """Whether a rule broken over two lines needs a space where it was broken.

    Not at a "|" (between alternatives), nor where the next group starts with its own space
    ("(?: \\S+)"), nor after a repeated group that ends with one ("(?:\\S+ ){0,3}");
    everywhere else the break was between two words.
    """
    if before.endswith("|") or after.startswith(("|", "(?: ")):
        return False
    return not re.search(r" \)(?:\?|\*|\+|\{\d*,?\d*\})$", before)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if raw[0] in " \t" and lines:
            part = raw.strip()
            lines[-1] += (" " if _joins_with_space(lines[-1], part) else "") + part
        else:
            lines.append(raw.strip())
    return lines


def parse_rules(text: str) -> RuleSet:
    """Read a rule file. A bad line raises ValueError naming it, so a typo fails tests."""
    macros: dict[str, str] = {}

    def expand(regex: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in macros:
                raise ValueError(f"unknown macro {{{name}}} in rule: {regex}")
            return f"(?:{macros[name]})"

        return _MACRO.sub(one, regex)

    rules: list[Rule] = []
    idioms: list[re.Pattern[str]] = []
    signal = ""
    for line in _logical_lines(text):
        if line.startswith("$"):
            name, sep, body = line[1:].partition("=")
            if not sep:
                raise ValueError(f"macro without '=': {line}")
            macros[name.strip()] = expand(body.strip())
        elif line.startswith("[") and line.endswith("]"):
            signal = line[1:-1].strip()
        elif not signal:
            raise ValueError(f"rule before any [signal] heading: {line}")
        else:
            regex = expand(line)
            if "  " in regex or regex.endswith(" "):
                # The normal form never has two spaces in a row, nor a word ending in one.
                raise ValueError(f"rule would never match (stray space): {line}")
            try:
                pattern = whole_words(regex)
            except re.error as error:
                raise ValueError(f"bad rule ({error}): {line}") from error
            if signal == "idiom":
                idioms.append(pattern)
            else:
                rules.append(Rule(signal, pattern))
    return RuleSet(tuple(rules), tuple(idioms), macros)


@cache
def load_rules(name: str) -> RuleSet:
    return parse_rules((DATA / name).read_text(encoding="utf-8"))


@lru_cache(maxsize=64)  # staff lists change rarely; a few versions at most are live
def phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for plain phrases staff add (not regexes), matched as whole words."""
    forms = sorted({normalise(phrase) for phrase in phrases} - {""}, key=len, reverse=True)
    if not forms:
        return None
    return whole_words("|".join(re.escape(form) for form in forms))
