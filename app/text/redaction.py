"""Redact personal details from a quote, and `heard text redact` (JSON lines in and out).

Each personal detail found by app.text.pii is replaced by a bracketed placeholder in plain
words, so that a redacted quote still reads well in a published report:

    "My social worker Aisha moved me to Leeds when I was 12."
    "My social worker [name] moved me to [place] when I was [age]."

| label           | placeholder      |
|-----------------|------------------|
| PERSON          | [name]           |
| LOCATION        | [place]          |
| LOCAL_AUTHORITY | [council]        |
| SCHOOL          | [school]         |
| CARE_HOME       | [care home]      |
| AGE             | [age]            |
| PHONE           | [phone number]   |
| EMAIL           | [email]          |
| POSTCODE        | [postcode]       |
| HANDLE          | [username]       |
| DATE            | [date]           |

The command reads `{"text": str, "known_names": [str]}` per line and writes one
`{"spans": [{"start", "end", "label"}], "redacted": str}` line per input line, in order, flushed
at once. A line it cannot read (bad JSON, no text, known_names not a list) still gets a line:
`{"spans": [], "redacted": "", "error": "..."}`; it fails closed and never echoes the text back.
Input text is never logged.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from app.text.pii import Span, find_spans

PLACEHOLDERS = {
    "PERSON": "[name]",
    "LOCATION": "[place]",
    "LOCAL_AUTHORITY": "[council]",
    "SCHOOL": "[school]",
    "CARE_HOME": "[care home]",
    "AGE": "[age]",
    "PHONE": "[phone number]",
    "EMAIL": "[email]",
    "POSTCODE": "[postcode]",
    "HANDLE": "[username]",
    "DATE": "[date]",
}


class BadLine(ValueError):
    """An input line that is not {"text": str, "known_names": [str]}."""


def redact(text: str, spans: Iterable[Span]) -> str:
    """`text` with each span replaced by its placeholder (spans sorted, not overlapping)."""
    out: list[str] = []
    position = 0
    for span in sorted(spans):
        if span.start < position:
            continue
        out.append(text[position : span.start])
        out.append(PLACEHOLDERS.get(span.label, "[redacted]"))
        position = span.end
    out.append(text[position:])
    return "".join(out)


def redact_text(text: str, known_names: Iterable[str] = ()) -> tuple[list[Span], str]:
    spans = find_spans(text, known_names)
    return spans, redact(text, spans)


def redact_line(line: str) -> dict[str, Any]:
    """The output object for one input line; never raises."""
    try:
        text, known_names = _parse(line)
        spans, redacted = redact_text(text, known_names)
    except BadLine as error:
        return {"spans": [], "redacted": "", "error": str(error)}
    except Exception:  # a bug must cost one line, not the whole stream
        return {"spans": [], "redacted": "", "error": "could not redact this line"}
    return {
        "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in spans],
        "redacted": redacted,
    }


def _parse(line: str) -> tuple[str, list[str]]:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        raise BadLine("not JSON") from None
    if not isinstance(data, dict):
        raise BadLine("not a JSON object")
    text = data.get("text")
    if not isinstance(text, str):
        raise BadLine("text must be a string")
    known_names = data.get("known_names", [])
    if known_names is None:
        known_names = []
    if not isinstance(known_names, list):
        raise BadLine("known_names must be a list")
    return text, [name for name in known_names if isinstance(name, str)]


def redact_stream(stdin: IO[str], stdout: IO[str]) -> None:
    """JSON lines in, one JSON line out per input line, in order, flushed per line."""
    try:
        for line in _lines(stdin):
            stdout.write(json.dumps(redact_line(line)) + "\n")
            stdout.flush()
    except BrokenPipeError:  # the reader went away: nothing left to do
        return


def _lines(stream: IO[str]) -> Iterator[str]:
    """Lines of the stream; bytes that are not UTF-8 are replaced rather than fatal."""
    binary = getattr(stream, "buffer", None)
    if binary is None:
        for line in stream:
            yield line.rstrip("\r\n")
        return
    for raw in binary:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
