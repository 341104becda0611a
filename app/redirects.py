"""Where to send someone after they sign in: back to the page they asked for, and only ever
to a page of Heard itself (never an open redirect)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:  # services use this module too, and they know nothing of HTTP
    from fastapi import Request

MAX_LENGTH = 500


def safe_next(value: object) -> str | None:
    """`value` if it is a local path (with any query) on this site, else None.

    Browsers read "//host", "/\\host" and "/<tab>/host" as another site, so only one leading
    slash followed by printable ASCII without a backslash passes. That costs nothing real:
    `here()` gives a path that is already percent-encoded.
    """
    if not isinstance(value, str) or len(value) > MAX_LENGTH:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if not all("!" <= character <= "~" for character in value):  # controls, spaces, non-ASCII
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def here(request: Request) -> str | None:
    """This request's path and query as a safe `next`, or None if it could not be one."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if isinstance(raw, bytes) else request.url.path
    query = request.url.query
    return safe_next(f"{path}?{query}" if query else path)


def with_next(url: str, next_page: str | None) -> str:
    """`url` with `?next=…` added when there is somewhere to come back to."""
    if not next_page:
        return url
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}{urlencode({'next': next_page})}"
