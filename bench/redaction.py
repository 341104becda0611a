"""Redaction benchmark: recall and precision per label, and speed, of app.text.pii.find_spans.

    .venv/bin/python bench/redaction.py                 # the shared fixture, prints a report
    .venv/bin/python bench/redaction.py --write         # ... and appends it to bench/RESULTS.md
    .venv/bin/python bench/redaction.py --fixture FILE  # any JSON-lines file of the same shape
    .venv/bin/python bench/redaction.py --errors        # also list every miss and false alarm

A span counts as found only when start, end and label all match the fixture (strict). The
"overlap" columns count a true span as found when a predicted span of the same label overlaps
it, which is what matters for safety: "[place] Borough Council" still hides the place.
The fixture is ../shared/fixtures/pii_dev.jsonl (tests/fallback_fixtures/pii_small.jsonl when
../shared is absent). Timing is the median of 5 passes over every sentence, after one warm-up
pass that loads the word lists.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.text.pii import LABELS, Span, find_spans  # noqa: E402

SHARED = ROOT.parent / "shared" / "fixtures" / "pii_dev.jsonl"
FALLBACK = ROOT / "tests" / "fallback_fixtures" / "pii_small.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(rows: list[dict]) -> dict:
    counts: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    errors: list[str] = []
    for row in rows:
        gold = {Span(s["start"], s["end"], s["label"]) for s in row["spans"]}
        predicted = set(find_spans(row["text"], row.get("known_names", [])))
        for label in LABELS:
            g = {s for s in gold if s.label == label}
            p = {s for s in predicted if s.label == label}
            c = counts[label]
            c["gold"] += len(g)
            c["predicted"] += len(p)
            c["tp"] += len(g & p)
            c["gold_overlapped"] += sum(1 for s in g if any(_overlap(s, q) for q in p))
            c["pred_overlapping"] += sum(1 for q in p if any(_overlap(s, q) for s in g))
        for s in sorted(gold - predicted):
            errors.append(f"miss  {s.label:<15} {row['text'][s.start : s.end]!r:<30} {row['id']}")
        for s in sorted(predicted - gold):
            errors.append(f"extra {s.label:<15} {row['text'][s.start : s.end]!r:<30} {row['id']}")
    return {"counts": counts, "errors": errors}


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def table(counts: dict[str, Counter[str]]) -> tuple[list[str], dict[str, float]]:
    lines = [
        "| label | true spans | predicted | recall | precision | recall (overlap) "
        "| precision (overlap) |",
        "|---|---|---|---|---|---|---|",
    ]
    total: Counter[str] = Counter()
    for label in LABELS:
        c = counts[label]
        total.update(c)
        if not c["gold"] and not c["predicted"]:
            continue
        lines.append(_row(label, c))
    lines.append(_row("**all**", total))
    overall = {
        "recall": _ratio(total["tp"], total["gold"]),
        "precision": _ratio(total["tp"], total["predicted"]),
    }
    return lines, overall


def _row(name: str, c: Counter[str]) -> str:
    return (
        f"| {name} | {c['gold']} | {c['predicted']} | {_ratio(c['tp'], c['gold']):.2f} "
        f"| {_ratio(c['tp'], c['predicted']):.2f} | {_ratio(c['gold_overlapped'], c['gold']):.2f} "
        f"| {_ratio(c['pred_overlapping'], c['predicted']):.2f} |"
    )


def timing(rows: list[dict]) -> tuple[float, float]:
    texts = [(row["text"], row.get("known_names", [])) for row in rows]
    started = time.perf_counter()
    for text, names in texts:
        find_spans(text, names)
    first = time.perf_counter() - started  # includes loading the word lists
    passes = []
    for _ in range(5):
        started = time.perf_counter()
        for text, names in texts:
            find_spans(text, names)
        passes.append(time.perf_counter() - started)
    return first * 1000, statistics.median(passes) * 1000 / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixture", type=Path, default=SHARED if SHARED.exists() else FALLBACK)
    parser.add_argument("--write", action="store_true", help="append to bench/RESULTS.md")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()
    rows = load(args.fixture)
    first_ms, per_sentence_ms = timing(rows)
    result = score(rows)
    lines, overall = table(result["counts"])
    fixture = (
        args.fixture.relative_to(ROOT.parent)
        if args.fixture.is_relative_to(ROOT.parent)
        else args.fixture
    )
    report = [
        "## Redaction",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: `.venv/bin/python bench/redaction.py` on "
        f"`{fixture}` ({len(rows)} sentences), {platform.platform()}, Python "
        f"{platform.python_version()}.",
        "",
        "Strict: a span counts only when start, end and label all match. Overlap: a span of the "
        "same label that overlaps counts (what matters for safety).",
        "",
        *lines,
        "",
        f"Overall strict recall {overall['recall']:.3f}, precision {overall['precision']:.3f}. "
        f"Speed: {per_sentence_ms:.2f} ms per sentence (median of 5 passes); the first pass, "
        f"which loads the word lists, took {first_ms:.0f} ms for all {len(rows)}.",
        "",
        "The fixture is templated (14 sentence shapes); see tests/test_redaction.py for held-out "
        "sentences in other styles (lower case, slang, typos) that the detectors must also get.",
        "",
    ]
    print("\n".join(report))
    if args.errors:
        print("\n".join(result["errors"]) or "no errors")
    if args.write:
        results = ROOT / "bench" / "RESULTS.md"
        existing = results.read_text(encoding="utf-8") if results.exists() else ""
        cut = existing.find("\n## Redaction\n")
        if cut != -1:  # drop our own earlier section, keep any section after it
            after = existing.find("\n## ", cut + 1)
            existing = existing[: cut + 1] + (existing[after + 1 :] if after != -1 else "")
        results.write_text(existing.rstrip("\n") + "\n\n" + "\n".join(report), encoding="utf-8")


if __name__ == "__main__":
    main()
