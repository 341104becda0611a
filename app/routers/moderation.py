"""Moderation for staff: the queue (urgent first, then held, then reported, then waiting, with
counts that follow live), one post's decisions, approving several at once, and the screening
words staff add. Moderators and safeguarding leads moderate their programmes' spaces; admins
and facilitators the spaces of the workshops they run.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from app import events, flash, routing
from app.deps import FormDataDep, NowDep, SessionDep, SettingsDep, allow
from app.forms import FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Participant, Post, ScreenTerm, ScreenTermKind, Space
from app.permissions import MODERATE, MODERATOR, can_see_concerns
from app.routers.spaces import DbId, form_id
from app.services import moderation, moderation_queue, screen_terms
from app.services.identity import Identity
from app.templating import render

router = routing.router()

Moderator = Annotated[Identity, allow(MODERATE)]
WordKeeper = Annotated[Identity, allow(MODERATOR)]

DONE_WORDS = {
    "approve": "Shared. Everyone in the space can see it now.",
    "reject": "Not shared. The person who wrote it can see why.",
    "hide": "Hidden. Only the person who wrote it can see it.",
    "concern": "Sent to a safeguarding lead. Only they and the person who wrote it can see it.",
    "edit": "Saved. People see your note with the post.",
    "remove": "Removed from the space. They can't read or write there any more.",
    "many": "The posts you chose are shared, unless someone had already decided.",
}


def moderated_post(post_id: DbId, session: SessionDep, who: Moderator) -> tuple[Post, Space]:
    """A post this member of staff may moderate (anyone else gets "not found")."""
    found = moderation.post_for(session, post_id, who)
    if found is None:
        raise HTTPException(status_code=404)
    return found


ModeratedPost = Annotated[tuple[Post, Space], Depends(moderated_post)]


# --- the queue -----------------------------------------------------------------------------


@router.get("/moderation", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, now: NowDep, who: Moderator) -> HTMLResponse:
    found = moderation_queue.queue(session, who, now)
    return render(
        request,
        "moderation/queue.html",
        {
            "queue": found,
            "live": events.live_link(
                request.app,
                stream=f"/live/moderation?v={found.version}",
                poll="/moderation",
                target="queue-counts",
            ),
        },
        fragments={"queue-counts": "counts"},
    )


@router.post("/moderation/approve", response_class=HTMLResponse)
def approve_several(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Moderator,
) -> Response:
    picks: list[tuple[int, int]] = []
    for value in data.getlist("pick"):
        post_id, _, version = str(value).partition(":")
        found, seen = form_id(post_id), form_id(version)
        if found is not None and seen is not None:
            picks.append((found, seen))
    moderation.approve_many(session, settings, picks[:200], who, now)
    return flash.redirect(request, "/moderation", DONE_WORDS["many"])


# --- one post ------------------------------------------------------------------------------


def _post_page(
    request: Request,
    session: Any,
    post: Post,
    space: Space,
    who: Identity,
    *,
    decide_form: FormState[Any] | None = None,
    edit_form: FormState[Any] | None = None,
    conflict: bool = False,
) -> HTMLResponse:
    author = session.get(Participant, post.participant_id)
    concern = None
    if can_see_concerns(who, space.programme_id):
        concern = moderation.latest_concern_id(session, post.id or 0)
    return render(
        request,
        "moderation/post.html",
        {
            "post": post,
            "space": space,
            "author": author.display_name if author else "Someone",
            "reports": moderation.reports_for(session, post.id or 0),
            "reasons": list(moderation.REASONS.items()),
            "decide_form": decide_form or empty_form(moderation.EditForm),
            "edit_form": edit_form
            or empty_form(moderation.EditForm, body=post.body, version=str(post.version)),
            "conflict": conflict,
            "concern_id": concern,
            "can": moderation.possible(post),
        },
    )


@router.get("/moderation/posts/{post_id}", response_class=HTMLResponse)
def post_page(
    request: Request, found: ModeratedPost, session: SessionDep, who: Moderator
) -> HTMLResponse:
    post, space = found
    return _post_page(request, session, post, space, who)


@router.post("/moderation/posts/{post_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    found: ModeratedPost,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Moderator,
) -> Response:
    post, space = found
    action = str(data.get("action") or "")
    reason = str(data.get("reason") or "")
    version = form_id(data.get("version"))
    form: FormState[Any] = FormState(values={"reason": reason})
    try:
        moderation.decide(
            session,
            settings,
            post,
            space,
            action,
            -1 if version is None else version,
            who,
            now,
            reason=reason,
        )
    except moderation.AlreadyDecidedError:
        session.refresh(post)
        return _post_page(request, session, post, space, who, conflict=True)
    except moderation.ModerationError as error:
        form.add_error(error.field, error.message)
        return _post_page(request, session, post, space, who, decide_form=form)
    return flash.redirect(request, "/moderation", DONE_WORDS[action])


@router.post("/moderation/posts/{post_id}/edit", response_class=HTMLResponse)
def edit_post(
    request: Request,
    found: ModeratedPost,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: Moderator,
) -> Response:
    post, space = found
    form = parse_form(moderation.EditForm, data)
    if form.data is None:
        form.add_error("body", "Check the post and your note, then try again")
        return _post_page(request, session, post, space, who, edit_form=form)
    try:
        moderation.edit(session, settings, post, form.data, who, now)
    except moderation.AlreadyDecidedError:
        session.refresh(post)
        return _post_page(request, session, post, space, who, conflict=True)
    except moderation.ModerationError as error:
        form.add_error(error.field, error.message)
        return _post_page(request, session, post, space, who, edit_form=form)
    return flash.redirect(request, "/moderation", DONE_WORDS["edit"])


@router.post("/moderation/posts/{post_id}/remove")
def remove_author(
    request: Request, found: ModeratedPost, session: SessionDep, now: NowDep, who: Moderator
) -> Response:
    post, space = found
    moderation.remove_author(session, post, space, who, now)
    return flash.redirect(request, "/moderation", DONE_WORDS["remove"])


# --- screening words -----------------------------------------------------------------------

TERM_KINDS = [
    (
        ScreenTermKind.DISCLOSURE.value,
        "A sign someone may be at risk (goes to a safeguarding lead)",
    ),
    (ScreenTermKind.ABUSE.value, "Abuse or a slur (held for a moderator)"),
]


def _words_page(request: Request, session: Any, form: FormState[Any]) -> HTMLResponse:
    return render(
        request,
        "moderation/words.html",
        {"terms": screen_terms.all_terms(session), "form": form, "kinds": TERM_KINDS},
    )


@router.get("/moderation/words", response_class=HTMLResponse)
def words_page(request: Request, session: SessionDep, who: WordKeeper) -> HTMLResponse:
    return _words_page(request, session, empty_form(screen_terms.TermForm))


@router.post("/moderation/words", response_class=HTMLResponse)
def add_word(
    request: Request, data: FormDataDep, session: SessionDep, now: NowDep, who: WordKeeper
) -> Response:
    form = parse_form(screen_terms.TermForm, data)
    if form.data is None:
        return _words_page(request, session, form)
    try:
        screen_terms.add(session, form.data, who, now)
    except screen_terms.TermError as error:
        form.add_error(error.field, error.message)
        return _words_page(request, session, form)
    return redirect(request, "/moderation/words")


@router.post("/moderation/words/{term_id}/delete")
def remove_word(request: Request, term_id: DbId, session: SessionDep, who: WordKeeper) -> Response:
    term = session.get(ScreenTerm, term_id)
    if term is None:
        raise HTTPException(status_code=404)
    screen_terms.remove(session, term, who)
    return redirect(request, "/moderation/words")
