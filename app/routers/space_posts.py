"""A post's own pages, for people in its space: reply (one level), change your own post in
its first 10 minutes, delete it any time, "Me too", and "Something wrong?"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import flash, routing
from app.deps import FormDataDep, NowDep, SessionDep, SettingsDep
from app.forms import FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Participant, Post, PostState, ReportReason
from app.models.spaces import REPORT_REASON_LABELS
from app.routers.spaces import (
    DbId,
    InSpace,
    Member,
    PostForm,
    back,
    cannot,
    own_or_visible,
    reading,
    thread_of,
)
from app.services import space_views, spaces
from app.templating import render

router = routing.router()


class ReportForm(FormModel):
    reason: str = ""
    detail: str = ""


def _reply_page(
    request: Request, member: Member, post: Post, form: FormState[Any], session: Any
) -> HTMLResponse:
    return render(
        request,
        "spaces/reply.html",
        {
            "space": member.space,
            "post": post,
            "author": _author(session, post),
            "form": form,
            "max_chars": request.app.state.settings.space_post_max_chars,
        },
    )


def _author(session: Any, post: Post) -> str:
    person = session.get(Participant, post.participant_id)
    return person.display_name if person else "Someone"


def _shared(session: Any, member: Member, post_id: int) -> Post:
    post = own_or_visible(session, member, post_id)
    if post.state != PostState.SHARED:
        raise HTTPException(status_code=404)
    return post


@router.get("/spaces/{space_id}/posts/{post_id}/reply", response_class=HTMLResponse)
def reply_page(request: Request, post_id: DbId, member: InSpace, session: SessionDep) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = _shared(session, member, post_id)
    return _reply_page(request, member, post, empty_form(PostForm), session)


@router.post("/spaces/{space_id}/posts/{post_id}/reply", response_class=HTMLResponse)
def write_reply(
    request: Request,
    post_id: DbId,
    member: InSpace,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    form = parse_form(PostForm, data)
    with reading(request) as reader:
        post = _shared(reader, member, post_id)
        thread = thread_of(reader, member.space, post.thread_id)
        screened = spaces.screening(reader, member.space, form.values["body"])
    try:
        reply = spaces.write(
            session,
            settings,
            member.space,
            thread,
            member.participant,
            form.values["body"],
            now,
            reply_to=post,
            screened=screened,
        )
    except spaces.NotHereError:
        raise HTTPException(status_code=404) from None
    except spaces.SpaceError as error:
        form.add_error("body", error.message)
        return _reply_page(request, member, post, form, session)
    return redirect(request, back(member, reply, sent=reply.id or 0))


def _edit_page(
    request: Request, member: Member, post: Post, form: FormState[Any], now: datetime
) -> HTMLResponse:
    return render(
        request,
        "spaces/edit.html",
        {
            "space": member.space,
            "post": post,
            "form": form,
            "too_late": not space_views.may_change(post, member.id, now),
            "max_chars": request.app.state.settings.space_post_max_chars,
        },
    )


@router.get("/spaces/{space_id}/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_page(
    request: Request, post_id: DbId, member: InSpace, session: SessionDep, now: NowDep
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id, own=True)
    return _edit_page(request, member, post, empty_form(PostForm, body=post.body), now)


@router.post("/spaces/{space_id}/posts/{post_id}/edit", response_class=HTMLResponse)
def changeown_or_visible(
    request: Request,
    post_id: DbId,
    member: InSpace,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id, own=True)
    form = parse_form(PostForm, data)
    try:
        spaces.change(session, settings, member.space, post, form.values["body"], now)
    except spaces.SpaceError as error:
        form.add_error("body", error.message)
        return _edit_page(request, member, post, form, now)
    return redirect(request, back(member, post, sent=post.id or 0))


@router.get("/spaces/{space_id}/posts/{post_id}/delete", response_class=HTMLResponse)
def delete_page(request: Request, post_id: DbId, member: InSpace, session: SessionDep) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id, own=True)
    return render(request, "spaces/delete.html", {"space": member.space, "post": post})


@router.post("/spaces/{space_id}/posts/{post_id}/delete")
def deleteown_or_visible(
    request: Request, post_id: DbId, member: InSpace, session: SessionDep, now: NowDep
) -> Response:
    post = own_or_visible(session, member, post_id, own=True)
    spaces.delete(session, post, now)
    return flash.redirect(request, back(member, post), "Your post has been deleted.")


# --- "Me too" and "Something wrong?" -------------------------------------------------------


@router.post("/spaces/{space_id}/posts/{post_id}/me-too")
def me_too(
    request: Request, post_id: DbId, member: InSpace, session: SessionDep, now: NowDep
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id)
    spaces.me_too(session, post, member.participant, now)
    return redirect(request, back(member, post) + f"#post-{post.id}")


def _report_page(
    request: Request, member: Member, post: Post, form: FormState[Any], session: Any
) -> HTMLResponse:
    return render(
        request,
        "spaces/report.html",
        {
            "space": member.space,
            "post": post,
            "author": _author(session, post),
            "form": form,
            "reasons": [(r.value, label) for r, label in REPORT_REASON_LABELS.items()],
        },
    )


@router.get("/spaces/{space_id}/posts/{post_id}/report", response_class=HTMLResponse)
def report_page(request: Request, post_id: DbId, member: InSpace, session: SessionDep) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id)
    return _report_page(request, member, post, empty_form(ReportForm), session)


@router.post("/spaces/{space_id}/posts/{post_id}/report", response_class=HTMLResponse)
def reportown_or_visible(
    request: Request,
    post_id: DbId,
    member: InSpace,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    if (refused := cannot(request, member)) is not None:
        return refused
    post = own_or_visible(session, member, post_id)
    form = parse_form(ReportForm, data)
    if form.values["reason"] not in ReportReason._value2member_map_:
        form.add_error("reason", "Choose what is wrong")
    if len(form.values["detail"]) > 500:
        form.add_error("detail", "What you tell us must be 500 characters or fewer")
    if form.errors:
        return _report_page(request, member, post, form, session)
    spaces.report(
        session,
        settings,
        member.space,
        post,
        member.participant,
        ReportReason(form.values["reason"]),
        form.values["detail"],
        now,
    )
    return redirect(request, back(member, post, reported=post.id or 0))
