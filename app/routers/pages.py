"""Public pages: home, privacy, accessibility, help and programmes (calls: routers/calls.py)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from app import routing
from app.deps import Anyone, NowDep, PageDep, SessionDep
from app.forms import empty_form
from app.services import programmes, rooms
from app.services.subscriptions import SubscribeForm
from app.templating import render

router = routing.router()


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, page: PageDep, who: Anyone) -> HTMLResponse:
    minute = page.now.replace(second=0, microsecond=0)
    what = await page.cache.load(
        ("open_now", minute), lambda: programmes.open_now(page.db, page.now)
    )
    context: dict[str, object] = {"open": what}
    if who.participant is not None and who.participant.id is not None:
        # Someone in a workshop: "Back to your workshop" (signed in, so never shared).
        person = who.participant.id
        context["back_to"] = await page.cache.load(
            ("back_to_workshop", person, minute),
            lambda: rooms.back_to_workshop(page.db, page.settings, person, page.now) or (),
        )
    return render(request, "pages/home.html", context, same_for_everyone=True)


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
    # Nothing here is about who is asking, but it is not shared (`same_for_everyone`): the
    # shared copy is keyed by the wall clock's minute, and the current phase follows `now`.
    context = {"page": page, "utcnow": now, "form": empty_form(SubscribeForm)}
    return render(request, "pages/programme.html", context)
