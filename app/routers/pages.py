"""Public pages: home, privacy, accessibility, help and programmes (calls: routers/calls.py)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from app import routing
from app.deps import Anyone, NowDep, PageDep, SessionDep
from app.services import programmes
from app.templating import render

router = routing.router()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, page: PageDep, _: Anyone) -> HTMLResponse:
    minute = page.now.replace(second=0, microsecond=0)
    what = await page.cache.load(
        ("open_now", minute), lambda: programmes.open_now(page.db, page.now)
    )
    return render(request, "pages/home.html", {"open": what}, same_for_everyone=True)


@router.get("/privacy", response_class=HTMLResponse)
async def privacy(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/privacy_young.html", same_for_everyone=True)


@router.get("/privacy/adults", response_class=HTMLResponse)
async def privacy_adults(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/privacy_adult.html", same_for_everyone=True)


@router.get("/accessibility", response_class=HTMLResponse)
async def accessibility(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/accessibility.html", same_for_everyone=True)


@router.get("/help", response_class=HTMLResponse)
async def help_page(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/help.html", same_for_everyone=True)


@router.get("/programmes/{slug}", response_class=HTMLResponse)
def programme(
    request: Request, slug: str, session: SessionDep, now: NowDep, _: Anyone
) -> HTMLResponse:
    page = programmes.programme_page(session, slug, now)
    if page is None:
        raise HTTPException(status_code=404)
    return render(request, "pages/programme.html", {"page": page, "utcnow": now})
