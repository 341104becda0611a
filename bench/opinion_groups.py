"""Timing for `heard votes groups`: 300 people × 60 statements and 1000 × 100.

    .venv/bin/python bench/opinion_groups.py [--runs 5]

Writes a seeded room with planted groups (25 % of votes missing, 8 % passes, 10 % of votes
against the person's group) to a CSV under var/bench/, then times the real command, start-up
included, and `compute_groups` alone in this process. Prints a Markdown section for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.services.opinion_groups import compute_groups  # noqa: E402

CASES = [(300, 60, [120, 100, 80]), (1000, 100, [400, 300, 200, 100])]


def room(sizes: list[int], statements: int, seed: int = 1) -> list[tuple[str, str, int]]:
    rng = random.Random(seed)
    sides = [[rng.choice((-1, 1)) for _ in range(statements)] for _ in sizes]
    votes = []
    person = 0
    for g, size in enumerate(sizes):
        for _ in range(size):
            for j in range(statements):
                if rng.random() < 0.25:
                    continue
                vote = 0 if rng.random() < 0.08 else sides[g][j] * (1 if rng.random() < 0.9 else -1)
                votes.append((f"p{person}", f"s{j}", vote))
            person += 1
    return votes


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    folder = ROOT / "var" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    heard = str(Path(sys.executable).with_name("heard"))
    rows = []
    startup = timed([heard, "--help"], runs)
    for people, statements, sizes in CASES:
        votes = room(sizes, statements)
        path = folder / f"votes-{people}x{statements}.csv"
        lines = ["participant,statement,vote", *(f"{p},{s},{v}" for p, s, v in votes)]
        path.write_text("\n".join(lines) + "\n")
        command = [heard, "votes", "groups", "--input", str(path)]
        whole = timed(command, runs)
        inside = []
        for _ in range(runs):
            started = time.perf_counter()
            compute_groups(votes)
            inside.append(time.perf_counter() - started)
        rows.append((people, statements, len(votes), whole, inside))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print("## Opinion groups\n")
    print("Command: `.venv/bin/python bench/opinion_groups.py` (`heard votes groups` on a seeded")
    print("room with planted groups; 25 % of votes missing, 8 % passes, 10 % noise).\n")
    print(
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, load average before the run {load:.1f}; {runs} runs each.\n"
    )
    print(
        "| people × statements | votes | command, start-up included: median / max s "
        "| compute_groups alone: median / max s |"
    )
    print("|---|---|---|---|")
    for people, statements, n, whole, inside in rows:
        print(
            f"| {people} × {statements} | {n} | {statistics.median(whole):.2f} / {max(whole):.2f} "
            f"| {statistics.median(inside):.3f} / {max(inside):.3f} |"
        )
    print(
        f"\n`heard --help` alone (Python and the CLI's imports) takes "
        f"{statistics.median(startup):.2f} s median."
    )


if __name__ == "__main__":
    main()
