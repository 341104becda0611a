"""Opinion groups from statement votes (Bridge the Gap), as in Pol.is.

`compute_groups(votes)` takes `(participant, statement, vote)` triples (1 agree, -1 disagree,
0 pass) and returns `OpinionGroups`: a group for every participant, the statements every group
agrees with (consensus) and, per group, the statements that set it apart (distinctive).
`groups_json_from_csv(path)` is the same for `heard votes groups --input FILE`.

Choices, so the output can be relied on:

* **Groups** are numbered 0, 1, 2 … by size, largest first (ties: the group holding the
  smallest participant id first). In JSON the keys of "distinctive" are those numbers as
  strings ("0", "1"), because JSON keys are strings; "groups" maps participant → number.
  Every participant gets a group, even one with a single vote (the group most likely to have
  voted that way). With no
  clear structure (fewer than 4 voters, everyone voting alike, or groups no clearer than
  shuffled votes would give) everyone is in group 0. The maths is in `opinion_groups_clustering`.
* **Votes**: the last vote for the same participant and statement wins. A pass counts as
  having voted (it is in the denominator of agree rates) but neither agrees nor disagrees.
* **Consensus** is the statements every group agrees with. For each group, its share of
  agrees among its agree and disagree votes, shrunk towards the whole room's share by 4 votes
  (so a group of three cannot veto or carry a statement by chance), is at least 0.66; at least
  half of everyone's votes on it (passes included) are agrees; and 3 or more people voted on
  it. Sorted by the weakest group's share, strongest first, ties by statement id. Statements
  every group *disagrees* with, by the same rule, are `consensus_disagreed` in the Python
  result only: the JSON's "consensus" is agreement, as Pol.is shows it.
* **Distinctive** for a group: statements where its smoothed agree (or disagree) rate is over
  one half and higher than everyone else's, with a one-sided two-proportion z-test at 95 %
  (z ≥ 1.645). Ranked by Pol.is's representativeness (group rate / rest rate × group rate),
  what the group agrees with before what it disagrees with, ties by statement id; at most 5.
  With one group nothing is distinctive.
* **CSV**: a header `participant,statement,vote` (any column order, any case); blank lines,
  spaces around values, a byte-order mark, `;` or tab separators and votes written `+1`,
  `1.0`, `agree`, `disagree` or `pass` are accepted. A row with a bad vote or a missing id is
  skipped and reported on stderr; its participant still gets a group.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from app.services.opinion_groups_clustering import Matrix, count_votes, find_groups, vote_matrix

CONSENSUS_RATE = 0.66  # about two in three
CONSENSUS_SHARE = 0.5
CONSENSUS_PRIOR_VOTES = 4  # a group's rate is shrunk towards the room's by this many votes
CONSENSUS_MIN_VOTES = 3
DISTINCTIVE_Z = 1.645
DISTINCTIVE_PER_GROUP = 5
MAX_WARNINGS = 20
VOTE_WORDS = {"agree": 1, "disagree": -1, "pass": 0}


@dataclass(frozen=True)
class Tally:
    """How one group voted on one statement."""

    agree: int
    disagree: int
    passed: int

    @property
    def votes(self) -> int:
        return self.agree + self.disagree + self.passed


@dataclass(frozen=True)
class Distinctive:
    """A statement that sets a group apart, and the numbers that say so."""

    statement: str
    direction: str  # "agree" or "disagree"
    group_rate: float  # smoothed share of the group voting that way
    rest_rate: float  # the same for everyone else
    z: float


@dataclass(frozen=True)
class OpinionGroups:
    """The result; `to_json_dict` is what `heard votes groups` prints."""

    groups: dict[str, int]
    consensus: list[str]
    distinctive: dict[int, list[Distinctive]]
    # Per group, per statement the group voted on: agrees / votes (passes included). For charts.
    agree_rates: dict[int, dict[str, float]]
    tallies: dict[int, dict[str, Tally]]
    consensus_disagreed: list[str] = field(default_factory=list)
    # Each participant's place on the first two principal components, for a map of the room.
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, object]:
        return {
            "groups": self.groups,
            "consensus": self.consensus,
            "distinctive": {
                str(group): [d.statement for d in found]
                for group, found in sorted(self.distinctive.items())
            },
        }


def compute_groups(
    votes: Iterable[tuple[str, str, int]], participants: Iterable[str] = ()
) -> OpinionGroups:
    """Groups, consensus and distinctive statements; `participants` adds people with no votes."""
    latest: dict[tuple[str, str], int] = {}
    for participant, statement, vote in votes:
        if vote not in (-1, 0, 1):
            raise ValueError(f"vote must be 1, -1 or 0, not {vote!r}")
        latest[(participant, statement)] = int(vote)
    people = sorted({p for p, _ in latest} | set(participants))
    statements = sorted({s for _, s in latest})
    matrix = vote_matrix(latest, people, statements)

    fit = find_groups(matrix)
    labels = fit.labels
    n_groups = int(labels.max()) + 1 if labels.size else 0
    agree, disagree, passed = (count_votes(matrix, labels, n_groups, v) for v in (1.0, -1.0, 0.0))
    seen = agree + disagree + passed
    voted_on = [
        [(j, s) for j, s in enumerate(statements) if seen[g, j] > 0] for g in range(n_groups)
    ]
    return OpinionGroups(
        groups={p: int(g) for p, g in zip(people, labels, strict=True)},
        consensus=_consensus(agree, disagree, seen, statements),
        consensus_disagreed=_consensus(disagree, agree, seen, statements),
        distinctive={
            g: _distinctive(g, agree, disagree, seen, statements) for g in range(n_groups)
        },
        agree_rates={
            g: {s: float(agree[g, j] / seen[g, j]) for j, s in voted_on[g]} for g in range(n_groups)
        },
        tallies={
            g: {
                s: Tally(int(agree[g, j]), int(disagree[g, j]), int(passed[g, j]))
                for j, s in voted_on[g]
            }
            for g in range(n_groups)
        },
        positions={
            p: (round(float(x), 6), round(float(y), 6))
            for p, (x, y) in zip(people, fit.positions, strict=True)
        },
    )


def _consensus(chosen: Matrix, against: Matrix, seen: Matrix, statements: list[str]) -> list[str]:
    """Statements every group chose (agree, or disagree) over the opposite, strongest first."""
    if chosen.shape[0] == 0:
        return []
    overall = (chosen.sum(axis=0) + 1) / (chosen.sum(axis=0) + against.sum(axis=0) + 2)
    prior = CONSENSUS_PRIOR_VOTES
    weakest = ((chosen + prior * overall) / (chosen + against + prior)).min(axis=0)
    share = chosen.sum(axis=0) / (seen.sum(axis=0) + (seen.sum(axis=0) == 0))
    enough = (
        (weakest >= CONSENSUS_RATE)
        & (share >= CONSENSUS_SHARE)
        & (seen.sum(axis=0) >= CONSENSUS_MIN_VOTES)
    )
    found = [(-round(float(weakest[j]), 12), s) for j, s in enumerate(statements) if enough[j]]
    return [s for _, s in sorted(found)]


def _distinctive(
    group: int,
    agree: Matrix,
    disagree: Matrix,
    seen: Matrix,
    statements: list[str],
) -> list[Distinctive]:
    if agree.shape[0] < 2:
        return []
    found: list[tuple[int, float, str, Distinctive]] = []
    for order, (direction, chosen) in enumerate((("agree", agree), ("disagree", disagree))):
        mine, n_mine = chosen[group], seen[group]
        rest, n_rest = chosen.sum(axis=0) - mine, seen.sum(axis=0) - n_mine
        for j, statement in enumerate(statements):
            rate = float((mine[j] + 1) / (n_mine[j] + 2))
            rest_rate = float((rest[j] + 1) / (n_rest[j] + 2))
            z = _z(float(mine[j]), float(n_mine[j]), float(rest[j]), float(n_rest[j]))
            if rate > 0.5 and rate > rest_rate and z >= DISTINCTIVE_Z:
                strength = round(rate / rest_rate * rate, 12)
                item = Distinctive(statement, direction, round(rate, 4), round(rest_rate, 4), z)
                found.append((order, -strength, statement, item))
    found.sort(key=lambda f: f[:3])
    return [item for *_, item in found[:DISTINCTIVE_PER_GROUP]]


def _z(hits: float, n: float, other_hits: float, other_n: float) -> float:
    """One-sided two-proportion z statistic (pooled); 0 when either side has no votes."""
    if n == 0 or other_n == 0:
        return 0.0
    pooled = (hits + other_hits) / (n + other_n)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / other_n))
    return 0.0 if spread == 0 else round((hits / n - other_hits / other_n) / spread, 4)


# --- the CSV wrapper ---------------------------------------------------------------------


@dataclass
class VotesFile:
    votes: list[tuple[str, str, int]]
    participants: set[str]
    problems: list[str]


def groups_json_from_csv(path: Path) -> str:
    """`heard votes groups`: read the CSV, report skipped rows on stderr, return the JSON."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise SystemExit(f"heard votes groups: cannot read {path}: {error.strerror}") from None
    parsed = read_votes_csv(_decode(raw))
    for problem in parsed.problems[:MAX_WARNINGS]:
        print(f"heard votes groups: {problem}", file=sys.stderr)
    if len(parsed.problems) > MAX_WARNINGS:
        more = len(parsed.problems) - MAX_WARNINGS
        print(f"heard votes groups: … and {more} more problems", file=sys.stderr)
    result = compute_groups(parsed.votes, parsed.participants)
    return json.dumps(result.to_json_dict(), indent=2)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_votes_csv(text: str) -> VotesFile:
    """Votes from CSV text; bad rows become problems (with their line number), not errors."""
    lines = text.lstrip("\ufeff").splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = "," if "," in first or not ({";", "\t"} & set(first)) else _other(first)
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    parsed = VotesFile([], set(), [])
    columns: tuple[int, int, int] | None = None
    for cells in reader:
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if columns is None:
            columns = _columns(cells, parsed.problems)
            if columns != (0, 1, 2) or _vote(cells[2] if len(cells) > 2 else "") is None:
                continue
        _read_row(cells, columns, reader.line_num, parsed)
    return parsed


def _other(line: str) -> str:
    return ";" if line.count(";") >= line.count("\t") else "\t"


def _columns(header: list[str], problems: list[str]) -> tuple[int, int, int]:
    names = [cell.lower().lstrip("\ufeff") for cell in header]
    found = []
    for wanted in ("participant", "statement", "vote"):
        match = [i for i, name in enumerate(names) if name.startswith(wanted)]
        found.append(match[0] if match else -1)
    if -1 in found:
        if len(header) < 3 or _vote(header[2]) is None:
            problems.append(f"line 1: header {header!r} not understood; reading columns 1-3")
        return (0, 1, 2)
    return (found[0], found[1], found[2])


def _read_row(cells: list[str], columns: tuple[int, int, int], line: int, parsed: VotesFile):
    who, what, how = columns
    if len(cells) > who and cells[who]:
        parsed.participants.add(cells[who])
    if len(cells) <= max(columns):
        parsed.problems.append(f"line {line}: {len(cells)} values, expected 3; row skipped")
        return
    participant, statement, vote_text = cells[who], cells[what], cells[how]
    vote = _vote(vote_text)
    if not participant or not statement:
        parsed.problems.append(f"line {line}: participant or statement missing; row skipped")
    elif vote is None:
        parsed.problems.append(f"line {line}: vote {vote_text!r} is not 1, -1 or 0; row skipped")
    else:
        parsed.votes.append((participant, statement, vote))


def _vote(text: str) -> int | None:
    word = text.strip().lower()
    if word in VOTE_WORDS:
        return VOTE_WORDS[word]
    try:
        number = float(word)
    except ValueError:
        return None
    return int(number) if number in (-1.0, 0.0, 1.0) else None
