"""A tiny HTTP/1.1 client on asyncio streams, for bursts: hundreds of requests sent at the same
moment from one process cost the client almost nothing, so the server is what is measured.

Loopback only; every call has a timeout.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int  # 0: no answer (refused, reset or timed out)
    seconds: float
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    error: str = ""


async def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    timeout: float = 60.0,
    start: asyncio.Event | None = None,
) -> Reply:
    """One request on its own connection. With `start`, connect first, then wait for the
    signal, so a whole burst leaves at the same moment."""
    began = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    except (OSError, TimeoutError) as exc:
        return Reply(0, time.perf_counter() - began, error=type(exc).__name__)
    try:
        if start is not None:
            await start.wait()
        began = time.perf_counter()
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method not in {"GET", "HEAD"}:
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout)
    except (OSError, TimeoutError) as exc:
        return Reply(0, time.perf_counter() - began, error=type(exc).__name__)
    finally:
        writer.close()
    elapsed = time.perf_counter() - began
    head, _, content = raw.partition(b"\r\n\r\n")
    if not head:
        return Reply(0, elapsed, error="empty")
    first, *rest = head.decode("latin-1").split("\r\n")
    parsed: dict[str, str] = {}
    for line in rest:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    try:
        status = int(first.split()[1])
    except (IndexError, ValueError):
        return Reply(0, elapsed, error="bad status line")
    return Reply(status, elapsed, parsed, content)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
