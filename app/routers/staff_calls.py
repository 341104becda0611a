"""Calls for staff: build a call, read responses per question and per person, themes, export."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app import routing
from app.deps import Admin, FormDataDep, NowDep, SessionDep, SettingsDep, allow
from app.forms import FormState, empty_form, parse_form
from app.htmx import is_htmx, redirect
from app.models import Call
from app.permissions import ANALYST
from app.services import calls, calls_builder, calls_staff
from app.services.calls_builder import CallForm, QuestionForm
from app.services.calls_questions import AGE_LABELS
from app.services.identity import Identity
from app.templating import render

router = routing.router()
# Admins and analysts (everywhere, or of one programme: the call then decides).
Analyst = Annotated[Identity, allow(ANALYST)]


def readable_call(call_id: int, db: SessionDep, who: Analyst) -> Call:
    """The call, if this person may read its responses (anyone else: "not found")."""
    call = calls_staff.get_call(db, call_id)
    if call is None or not calls.may_read_responses(who, call.programme_id):
        raise HTTPException(status_code=404)
    return call


def buildable_call(call_id: int, db: SessionDep, who: Admin) -> Call:
    call = calls_staff.get_call(db, call_id)
    if call is None or not calls.may_build(who, call.programme_id):
        raise HTTPException(status_code=404)
    return call


ReadableCall = Annotated[Call, Depends(readable_call)]
BuildableCall = Annotated[Call, Depends(buildable_call)]


@router.get("/staff/calls", response_class=HTMLResponse)
def call_list(request: Request, db: SessionDep, who: Analyst) -> HTMLResponse:
    rows = calls_staff.calls_for(db, who)
    may_create = bool(calls_builder.programmes_for(db, who))
    return render(request, "staff/calls/list.html", {"rows": rows, "may_create": may_create})


# --- building a call -------------------------------------------------------------------------


def _call_form(
    request: Request, db: Any, who: Identity, form: FormState[Any], call: Call | None
) -> HTMLResponse:
    choices = calls_builder.programmes_for(db, who)
    return render(
        request,
        "staff/calls/form.html",
        {"form": form, "call": call, "programmes": [(str(p.id), p.title) for p in choices]},
    )


@router.get("/staff/calls/new", response_class=HTMLResponse)
def new_call(request: Request, db: SessionDep, who: Admin) -> HTMLResponse:
    choices = calls_builder.programmes_for(db, who)
    only = str(choices[0].id) if len(choices) == 1 else ""
    form = empty_form(
        CallForm,
        programme_id=only,
        status="draft",
        allow_anonymous="yes",
        allow_skip="yes",
        keep_days="365",
    )
    return _call_form(request, db, who, form, None)


def _save_call(
    request: Request, data: Any, db: Any, settings: Any, who: Identity, call: Call | None
) -> Response:
    form = parse_form(CallForm, data)
    calls_builder.check_call_form(form, calls_builder.programmes_for(db, who), settings.tz)
    if not form.ok or form.data is None:
        return _call_form(request, db, who, form, call)
    saved = calls_builder.save_call(db, settings, form.data, call, who)
    return redirect(request, f"/staff/calls/{saved.id}")


@router.post("/staff/calls/new", response_class=HTMLResponse)
def create_call(
    request: Request, data: FormDataDep, db: SessionDep, settings: SettingsDep, who: Admin
) -> Response:
    return _save_call(request, data, db, settings, who, None)


@router.get("/staff/calls/{call_id}/edit", response_class=HTMLResponse)
def edit_call(
    request: Request, call: BuildableCall, db: SessionDep, settings: SettingsDep, who: Admin
) -> HTMLResponse:
    form = empty_form(CallForm, **calls_builder.call_values(call, settings))
    return _call_form(request, db, who, form, call)


@router.post("/staff/calls/{call_id}/edit", response_class=HTMLResponse)
def change_call(
    request: Request,
    call: BuildableCall,
    data: FormDataDep,
    db: SessionDep,
    settings: SettingsDep,
    who: Admin,
) -> Response:
    return _save_call(request, data, db, settings, who, call)


def _question_form(
    request: Request, call: Call, form: FormState[Any], number: int | None
) -> HTMLResponse:
    return render(
        request, "staff/calls/question.html", {"call": call, "form": form, "number": number}
    )


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 4 else None


@router.get("/staff/calls/{call_id}/question", response_class=HTMLResponse)
def question_form(
    request: Request, call: BuildableCall, db: SessionDep, _: Admin, number: str = ""
) -> HTMLResponse:
    found = calls_builder.question(db, call, _number(number) or 0)
    values = calls_builder.question_values(found) if found else {"kind": "long_text"}
    return _question_form(
        request, call, empty_form(QuestionForm, **values), found.number if found else None
    )


@router.post("/staff/calls/{call_id}/question", response_class=HTMLResponse)
def save_question(
    request: Request, call: BuildableCall, data: FormDataDep, db: SessionDep, who: Admin
) -> Response:
    found = calls_builder.question(db, call, _number(data.get("number")) or 0)
    form = parse_form(QuestionForm, data)
    calls_builder.check_question_form(form)
    calls_builder.check_question_change(db, call, found, form)
    if not form.ok or form.data is None:
        return _question_form(request, call, form, found.number if found else None)
    calls_builder.save_question(db, call, found, form.data, who)
    return redirect(request, f"/staff/calls/{call.id}#questions")


@router.post("/staff/calls/{call_id}/question/remove", response_class=HTMLResponse)
def remove_question(
    request: Request, call: BuildableCall, data: FormDataDep, db: SessionDep, who: Admin
) -> Response:
    found = calls_builder.question(db, call, _number(data.get("number")) or 0)
    if found is not None:
        calls_builder.remove_question(db, call, found, who)
    return redirect(request, f"/staff/calls/{call.id}#questions")


# --- reading responses -----------------------------------------------------------------------


@router.get("/staff/calls/{call_id}", response_class=HTMLResponse)
def call_detail(
    request: Request,
    call: ReadableCall,
    db: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Analyst,
) -> HTMLResponse:
    return render(
        request,
        "staff/calls/detail.html",
        {
            "call": call,
            "questions": calls_staff.questions_of(db, call),
            "responses": calls_builder.response_count(db, call),
            "timing": calls.timing(call, now, settings.timezone),
            "may_build": calls.may_build(who, call.programme_id),
        },
    )


def _responses_page(
    request: Request,
    call: Call,
    db: Any,
    who: Identity,
    filters: calls_staff.Filters,
    theme_form: FormState[Any] | None = None,
) -> HTMLResponse:
    return render(
        request,
        "staff/calls/responses.html",
        {
            "call": call,
            "page": calls_staff.responses(db, call, filters),
            "themes": calls_staff.themes(db, call),
            "theme_form": theme_form or empty_form(calls_staff.ThemeForm),
            "ages": list(AGE_LABELS.items()),
            "age_labels": AGE_LABELS,
            "filters": filters,
            "may_build": calls.may_build(who, call.programme_id),
        },
        fragments={"results": "results"},
    )


@router.get("/staff/calls/{call_id}/responses", response_class=HTMLResponse)
def response_list(
    request: Request, call: ReadableCall, db: SessionDep, who: Analyst
) -> HTMLResponse:
    filters = calls_staff.Filters.from_params(request.query_params)
    return _responses_page(request, call, db, who, filters)


@router.post("/staff/calls/{call_id}/themes", response_class=HTMLResponse)
def add_theme(
    request: Request, call: ReadableCall, data: FormDataDep, db: SessionDep, who: Analyst
) -> Response:
    form = parse_form(calls_staff.ThemeForm, data)
    if form.ok and form.data is not None:
        problem = calls_staff.add_theme(db, call, form.data.name, who)
        if problem:
            form.add_error("name", problem)
    filters = calls_staff.Filters.from_params(data)
    if not form.ok:
        return _responses_page(request, call, db, who, filters, form)
    return redirect(
        request, f"/staff/calls/{call.id}/responses?{urlencode(filters.query())}#themes"
    )


@router.post("/staff/calls/{call_id}/tag", response_class=HTMLResponse)
def tag_response(
    request: Request, call: ReadableCall, data: FormDataDep, db: SessionDep, who: Analyst
) -> Response:
    response_id, theme_id = _number_id(data.get("response_id")), _number_id(data.get("theme_id"))
    if not calls_staff.tag(db, call, response_id, theme_id, data.get("on") == "yes", who):
        raise HTTPException(status_code=400)
    filters = calls_staff.Filters.from_params(data)
    if is_htmx(request):
        return _responses_page(request, call, db, who, filters)
    query = urlencode(filters.query(page=filters.page))
    return RedirectResponse(
        f"/staff/calls/{call.id}/responses?{query}#response-{response_id}", status_code=303
    )


def _number_id(value: Any) -> int:
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 11 else 0


@router.get("/staff/calls/{call_id}/by-question", response_class=HTMLResponse)
def by_question(
    request: Request, call: ReadableCall, db: SessionDep, _: Analyst, number: str = "1"
) -> HTMLResponse:
    questions = calls_staff.questions_of(db, call)
    chosen = next((q for q in questions if str(q.number) == number), None)
    if chosen is None and questions:
        chosen = questions[0]
    view = calls_staff.by_question(db, call, chosen) if chosen else None
    return render(
        request,
        "staff/calls/by_question.html",
        {"call": call, "questions": questions, "view": view},
        fragments={"question-view": "view"},
    )


def _csv(call: Call, body: str, suffix: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{call.slug}-responses{suffix}.csv"'
        },
    )


@router.get("/staff/calls/{call_id}/responses.csv")
@routing.writes  # a download that writes its audit entry
def export_responses(call: ReadableCall, db: SessionDep, who: Analyst) -> Response:
    return _csv(call, calls_staff.responses_csv(db, call, who, personal=False), "")


@router.get("/staff/calls/{call_id}/responses-with-contacts.csv")
@routing.writes  # a download that writes its audit entry
def export_with_contacts(call: BuildableCall, db: SessionDep, who: Admin) -> Response:
    return _csv(call, calls_staff.responses_csv(db, call, who, personal=True), "-with-contacts")
