"""Screening benchmark: missed disclosures, false alarms and speed of app.text.screening.screen.

    .venv/bin/python bench/screening.py            # prints a report
    .venv/bin/python bench/screening.py --write    # ... and puts it in bench/RESULTS.md
    .venv/bin/python bench/screening.py --errors   # also lists every miss and false alarm

Two labelled sets ({"text", "concern"} lines):
- the shared fixture ../shared/fixtures/safeguarding_dev.jsonl
  (tests/fallback_fixtures/screening_safeguarding.jsonl when ../shared is absent);
- tests/fallback_fixtures/screening_unseen.jsonl: Heard's own sentences written the way young
  people write, kept out of the rules' example banks.
Each is scored with the embedding model and with word rules only (as where the model's
packages are not installed). Speed is one screen() call per post, after a warm-up call that
loads the rules and the model, over every post of both sets three times (one thread), plus a
few long posts; p95 must be under 20 ms.

`--write` replaces the "## Text screening" section of bench/RESULTS.md (or adds it at the
end) and leaves every other section alone.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.text import screening_model  # noqa: E402
from app.text.screening import screen  # noqa: E402

SHARED = ROOT.parent / "shared" / "fixtures" / "safeguarding_dev.jsonl"
FALLBACK = ROOT / "tests" / "fallback_fixtures" / "screening_safeguarding.jsonl"
UNSEEN = ROOT / "tests" / "fallback_fixtures" / "screening_unseen.jsonl"
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Text screening"
P95_LIMIT_MS = 20.0


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def score(rows: list[dict]) -> dict:
    missed = [r["text"] for r in rows if r["concern"] and screen(r["text"]).action != "concern"]
    alarms = [r["text"] for r in rows if not r["concern"] and screen(r["text"]).action == "concern"]
    disclosures = sum(r["concern"] for r in rows)
    ordinary = len(rows) - disclosures
    return {
        "disclosures": disclosures,
        "ordinary": ordinary,
        "missed": missed,
        "alarms": alarms,
        "recall": (disclosures - len(missed)) / disclosures if disclosures else 1.0,
        "false_alarm_rate": len(alarms) / ordinary if ordinary else 0.0,
    }


def timings(texts: list[str]) -> dict:
    """Wall time per post, and CPU time (what the post costs when it has a core to itself)."""
    screen(texts[0])  # loads the rules and the model
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(3):
        for text in texts:
            start, start_cpu = time.perf_counter(), time.process_time()
            screen(text)
            cpu.append((time.process_time() - start_cpu) * 1000)
            wall.append((time.perf_counter() - start) * 1000)
    wall.sort()
    cpu.sort()
    return {
        "n": len(wall),
        "p50": statistics.median(wall),
        "p95": wall[int(len(wall) * 0.95) - 1],
        "max": wall[-1],
        "cpu_p50": statistics.median(cpu),
        "cpu_p95": cpu[int(len(cpu) * 0.95) - 1],
    }


def long_post_ms() -> float:
    post = " ".join(["we talked about moving placements and what would help next time."] * 60)
    start = time.perf_counter()
    screen(post)
    return (time.perf_counter() - start) * 1000


def line(name: str, s: dict) -> str:
    return (
        f"| {name} | {s['disclosures']} / {s['ordinary']} | "
        f"{s['disclosures'] - len(s['missed'])}/{s['disclosures']} ({s['recall']:.1%}) | "
        f"{len(s['alarms'])}/{s['ordinary']} ({s['false_alarm_rate']:.1%}) |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="put the report in RESULTS.md")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()

    fixture_path = SHARED if SHARED.exists() else FALLBACK
    fixture, unseen = load(fixture_path), load(UNSEEN)

    start = time.perf_counter()
    model = screening_model.load()
    load_s = time.perf_counter() - start
    with_model = {"fixture": score(fixture), "unseen": score(unseen)}
    speed = timings([r["text"] for r in fixture + unseen])
    long_ms = long_post_ms()

    real_load = screening_model.load
    screening_model.load = lambda: None  # type: ignore[assignment]
    try:
        words_only = {"fixture": score(fixture), "unseen": score(unseen)}
        speed_words = timings([r["text"] for r in fixture + unseen])
    finally:
        screening_model.load = real_load  # type: ignore[assignment]

    ok = (
        not with_model["fixture"]["missed"]
        and not words_only["fixture"]["missed"]
        and speed["p95"] < P95_LIMIT_MS
    )
    fixture_name = "shared fixture" if fixture_path == SHARED else "fallback fixture"
    model_state = "installed" if model is not None else "NOT installed (word rules only)"
    report = [
        HEADING,
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `.venv/bin/python bench/screening.py --write`, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}. Model: {model_state}, loaded in {load_s:.1f} s.",
        "",
        "| set | disclosures / ordinary | disclosures found | false alarms |",
        "|---|---|---|---|",
        line(f"{fixture_name}, with model", with_model["fixture"]),
        line(f"{fixture_name}, word rules only", words_only["fixture"]),
        line("Heard's unseen-style set, with model", with_model["unseen"]),
        line("Heard's unseen-style set, word rules only", words_only["unseen"]),
        "",
        f"Per post, after loading ({speed['n']} calls, one thread), with the model: "
        f"p50 {speed['p50']:.1f} ms, **p95 {speed['p95']:.1f} ms**, max {speed['max']:.1f} ms "
        f"(CPU time p50 {speed['cpu_p50']:.1f} ms, p95 {speed['cpu_p95']:.1f} ms); "
        f"word rules only p50 {speed_words['p50']:.1f} ms, p95 {speed_words['p95']:.1f} ms. "
        f"A 4,000-character post: {long_ms:.0f} ms. Wall time counts waiting for a core: "
        "compare the load average with the 2 cores.",
        "",
        f"- **{'PASS' if ok else 'FAIL'}** (no disclosure missed on the fixture, "
        f"with or without the model; p95 < {P95_LIMIT_MS:.0f} ms)",
        "",
    ]
    text = "\n".join(report)
    print(text)
    if args.errors:
        for name, result in (("with model", with_model), ("word rules only", words_only)):
            for which, s in result.items():
                for t in s["missed"]:
                    print(f"MISSED      {name:<16} {which:<8} {t}")
                for t in s["alarms"]:
                    print(f"FALSE ALARM {name:<16} {which:<8} {t}")
    if args.write:
        write_section(text)
    return 0 if ok else 1


def write_section(section: str) -> None:
    """Replace this benchmark's own section of RESULTS.md, or add it at the end."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Bench results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section + "\n", current, count=1)
    else:
        updated = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
