from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import routing
from app.deps import NoLookup

router = routing.router()


@router.get("/healthz")
async def healthz(_: NoLookup) -> dict[str, str]:
    """The process is up: answered on the event loop, never queued, never the database."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, _: NoLookup) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
