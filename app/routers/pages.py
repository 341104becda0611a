"""Public pages: home, privacy, accessibility, help, programmes and calls."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from app.deps import Anyone, NowDep, SessionDep
from app.services import programmes
from app.templating import render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, now: NowDep, _: Anyone) -> HTMLResponse:
    return render(request, "pages/home.html", {"open": programmes.open_now(session, now)})


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/privacy_young.html")


@router.get("/privacy/adults", response_class=HTMLResponse)
def privacy_adults(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/privacy_adult.html")


@router.get("/accessibility", response_class=HTMLResponse)
def accessibility(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/accessibility.html")


@router.get("/help", response_class=HTMLResponse)
def help_page(request: Request, _: Anyone) -> HTMLResponse:
    return render(request, "pages/help.html")


@router.get("/programmes/{slug}", response_class=HTMLResponse)
def programme(
    request: Request, slug: str, session: SessionDep, now: NowDep, _: Anyone
) -> HTMLResponse:
    page = programmes.programme_page(session, slug)
    if page is None:
        raise HTTPException(status_code=404)
    return render(request, "pages/programme.html", {"page": page, "utcnow": now})


@router.get("/calls/{slug}", response_class=HTMLResponse)
def call(request: Request, slug: str, session: SessionDep, now: NowDep, _: Anyone) -> HTMLResponse:
    found = programmes.call_with_questions(session, slug)
    if found is None:
        raise HTTPException(status_code=404)
    call, questions = found
    return render(
        request,
        "pages/call.html",
        {"call": call, "questions": questions, "is_open": call.opens_at <= now < call.closes_at},
    )
