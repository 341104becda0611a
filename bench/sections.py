"""Each benchmark owns one section of bench/RESULTS.md and rewrites only that section."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(name: str, lines: list[str], path: Path = RESULTS) -> None:
    """Put `lines` under "## {name}" between this section's markers; the rest stays."""
    start = f"<!-- section: {name} -->"
    end = f"<!-- end of section: {name} -->"
    block = "\n".join([start, f"## {name}", "", *lines, end])
    text = path.read_text() if path.exists() else "# Bench results\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
