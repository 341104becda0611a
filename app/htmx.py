"""Small helpers for requests that HTMX made."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and "HX-History-Restore-Request" not in (
        request.headers
    )


def hx_target(request: Request) -> str | None:
    return request.headers.get("HX-Target") if is_htmx(request) else None


def redirect(request: Request, url: str) -> Response:
    """Post/Redirect/Get: a 303 for a plain form, HX-Redirect for HTMX."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
