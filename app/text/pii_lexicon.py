"""Word lists for personal-detail detection, read once from app/text/data/ on first use.

Sources and licences: app/text/data/pii_SOURCES.md. Nothing here is loaded at import time, so
importing app.text.pii stays cheap; the first call to `lexicon()` takes a few tens of ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
MAX_PLACE_TOKENS = 6


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "sir", "prof", "mister", "missus", "madam"}

MONTHS_AND_DAYS = word_set(
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday christmas easter"
)

# Capitalised words that look like names or places to a word list but are brands and bodies.
NOT_NAMES = word_set(
    "childline nspcc barnardos barnardo's ofsted camhs nhs cafcass tiktok snapchat instagram "
    "insta snap youtube xbox playstation fortnite roblox minecraft netflix google tesco asda aldi "
    "lidl primark mcdonalds nandos kfc greggs iphone samsung apple facebook whatsapp discord "
    "twitter spotify amazon uber deliveroo universal credit gcse gcses btec ucas god jesus allah "
    "english maths science muslim christian catholic jewish sikh hindu black white asian "
    "british african caribbean polish irish scottish welsh eid diwali ramadan"
)

STREETS = word_set(
    "road rd street avenue ave lane ln close drive crescent grove terrace gardens place way walk "
    "row square mews estate park"
)

SCHOOL_HEADS = word_set(
    "school academy college primary secondary high grammar comprehensive comp infants juniors "
    "uni university prep form "
    "collage colledge acadamy acedemy accademy academey skool primery secondry highschool"
)

# Words that describe a school or a home without naming it ("a Boarding School").
GENERIC = word_set(
    "boarding private state special mainstream new old local faith independent public driving "
    "summer night alternative pupil referral secure residential children's childrens kids "
    "foster leaving catholic sixth form"
)

BUILDINGS = word_set("house lodge grange manor cottage cottages")


@dataclass(frozen=True)
class Place:
    population: int
    wordlike: bool  # every word of it is also an ordinary English word ("Reading", "Moss Side")
    country: bool = False


@dataclass(frozen=True)
class Lexicon:
    words: frozenset[str]  # lower-case English dictionary words
    common: frozenset[str]  # function words, frequent words, slang: never a name on their own
    names: dict[str, str]  # lower-case given name -> tier: common, rare, wordname, word
    places: dict[tuple[str, ...], Place]  # lower-case tokens -> place
    place_lengths: dict[str, int]  # first word of a place -> most words a place starting so has
    big_places: frozenset[str]  # one-word towns and cities of 50,000 or more, for misspellings


def _lines(name: str) -> list[str]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@cache
def lexicon() -> Lexicon:
    from app.text.pii_tokens import words_of

    common = frozenset(word for line in _lines("pii_common_words.txt") for word in line.split())
    names = {}
    for line in _lines("pii_names.tsv"):
        name, tier = line.split("\t")
        names[name.lower()] = tier
    places: dict[tuple[str, ...], Place] = {}
    for line in _lines("pii_places.tsv"):
        name, population, wordlike = line.split("\t")
        key = tuple(w.lower() for w in words_of(name))
        if 0 < len(key) <= MAX_PLACE_TOKENS:
            old = places.get(key)
            if old is None or old.population < int(population):
                places[key] = Place(int(population), wordlike == "1")
    for line in _lines("pii_countries.tsv"):
        name, wordlike = line.split("\t")
        key = tuple(w.lower() for w in words_of(name))
        if 0 < len(key) <= MAX_PLACE_TOKENS and key not in places:
            places[key] = Place(0, wordlike == "1", country=True)
    lengths: dict[str, int] = {}
    for key in places:
        lengths[key[0]] = max(lengths.get(key[0], 0), len(key))
    big = frozenset(
        key[0]
        for key, place in places.items()
        if len(key) == 1 and place.population >= 50000 and not place.wordlike and len(key[0]) >= 6
    )
    return Lexicon(
        words=frozenset(_lines("pii_words.txt")),
        common=common,
        names=names,
        places=places,
        place_lengths=lengths,
        big_places=big,
    )
