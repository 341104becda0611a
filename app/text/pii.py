"""Find personal details in what young people write, so a quote can be published safely.

    find_spans(text, known_names) -> [Span(start, end, label)]

Offsets are Python str indices into `text` (end exclusive), sorted and non-overlapping. Labels:
PERSON, LOCATION, LOCAL_AUTHORITY, SCHOOL, CARE_HOME, AGE, PHONE, EMAIL, POSTCODE, HANDLE, DATE.

Rules and word lists, no model: each detector proposes candidate spans with a score, and where
candidates overlap the longest wins (so "Leeds City Council" beats "Leeds"), then the surest.
Recall comes first: a missed name or place in a published quote can identify a child.
Word lists live in app/text/data/ (see pii_SOURCES.md) and load on first use, not on import.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

from app.text.pii_tokens import Hit

LABELS = (
    "PERSON",
    "LOCATION",
    "LOCAL_AUTHORITY",
    "SCHOOL",
    "CARE_HOME",
    "AGE",
    "PHONE",
    "EMAIL",
    "POSTCODE",
    "HANDLE",
    "DATE",
)
MAX_TEXT = 20_000  # longer texts are read in pieces of this size (see find_spans)


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: str


def find_spans(text: str, known_names: Iterable[str] = ()) -> list[Span]:
    """Every personal detail in `text`; `known_names` are the names the platform holds."""
    if not isinstance(text, str) or not text.strip():
        return []
    names = [n for n in known_names if isinstance(n, str) and n.strip()]
    if len(text) <= MAX_TEXT:
        return _resolve(_hits(text, names))
    # Pieces overlap so that nothing that straddles a cut is lost.
    hits: list[Hit] = []
    step = MAX_TEXT - 200
    for offset in range(0, len(text), step):
        piece = text[offset : offset + MAX_TEXT]
        hits.extend(
            Hit(h.start + offset, h.end + offset, h.label, h.score) for h in _hits(piece, names)
        )
    return _resolve(hits)


def _hits(text: str, known_names: list[str]) -> list[Hit]:
    from app.text import pii_institutions as institutions
    from app.text import pii_people as people
    from app.text import pii_places as places
    from app.text import pii_rules as rules
    from app.text.pii_lexicon import lexicon
    from app.text.pii_tokens import tokenize

    lex = lexicon()
    tokens = tokenize(text, lex.common)
    hits: list[Hit] = []
    hits.extend(rules.find_emails(text))
    hits.extend(rules.find_phones(text))
    hits.extend(rules.find_postcodes(text))
    hits.extend(rules.find_handles(text, lex.common, lex.words))
    hits.extend(rules.find_dates(text))
    hits.extend(rules.find_ages(text))
    hits.extend(people.find_known_names(text, known_names, lex))
    hits.extend(people.find_near_known_names(tokens, known_names, lex))
    hits.extend(people.find_people(text, tokens, lex))
    hits.extend(places.find_places(text, tokens, lex))
    hits.extend(institutions.find_institutions(text, tokens, lex))
    return hits


def _resolve(hits: list[Hit]) -> list[Span]:
    """Longest first, then surest; a hit that overlaps one already chosen is dropped."""
    starts: list[int] = []  # chosen spans, kept sorted and non-overlapping
    ends: list[int] = []
    chosen: list[Span] = []
    for hit in sorted(hits, key=lambda h: (h.start - h.end, -h.score, h.start)):
        if hit.end <= hit.start:
            continue
        k = bisect.bisect_left(starts, hit.end)  # chosen spans starting before hit.end
        if k and ends[k - 1] > hit.start:
            continue
        starts.insert(k, hit.start)
        ends.insert(k, hit.end)
        chosen.append(Span(hit.start, hit.end, hit.label))
    return sorted(chosen)
