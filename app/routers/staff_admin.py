"""The staff admin screen: invite staff, change roles, deactivate, end someone's sessions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, field_validator
from sqlmodel import Session, col, select

from app import flash, routing
from app.deps import FormDataDep, NowDep, SessionDep, SettingsDep, StaffManager
from app.forms import EmailAddress, FormModel, FormState, empty_form, parse_form
from app.htmx import redirect
from app.models import Programme, Role, StaffUser
from app.services import staff
from app.templating import render

router = routing.router()


def _grant_value(role: Role, programme_id: int | None) -> str:
    return role.value if programme_id is None else f"{role.value}:{programme_id}"


def _parse_grants(values: list[str], programme_ids: set[int]) -> set[staff.RoleGrant]:
    found: set[staff.RoleGrant] = set()
    for value in values:
        name, _, programme = value.partition(":")
        if name not in Role._value2member_map_:
            raise ValueError("Choose roles from the list")
        if programme and (not programme.isdigit() or int(programme) not in programme_ids):
            raise ValueError("Choose roles from the list")
        found.add((Role(name), int(programme) if programme else None))
    return found


class InviteForm(FormModel):
    email: EmailAddress = Field(max_length=254)
    display_name: str = Field(min_length=1, max_length=120)
    roles: list[str] = Field(min_length=1)

    multi = ("roles",)
    messages = {
        "email": {
            "missing": "Enter their work email address",
            "too_long": "The email address must be 254 characters or fewer",
        },
        "display_name": {
            "missing": "Enter their name",
            "too_long": "The name must be 120 characters or fewer",
        },
        "roles": {"missing": "Choose at least one role", "too_short": "Choose at least one role"},
    }

    @field_validator("roles")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        _parse_grants(value, set())
        return value


class RolesForm(FormModel):
    roles: list[str] = Field(default_factory=list)

    multi = ("roles",)


def _programmes(session: Session) -> list[Programme]:
    return list(session.exec(select(Programme).order_by(col(Programme.title))))


def get_member(staff_id: int, session: SessionDep, _: StaffManager) -> StaffUser:
    member = session.get(StaffUser, staff_id)
    if member is None:
        raise HTTPException(status_code=404)
    return member


Member = Annotated[StaffUser, Depends(get_member)]
ROLE_OPTIONS = [(role.value, role.label) for role in Role]


@router.get("/staff/people", response_class=HTMLResponse)
def people(request: Request, session: SessionDep, _: StaffManager) -> HTMLResponse:
    return render(
        request,
        "staff/people.html",
        {
            "people": staff.everyone(session),
            "programmes": {p.id: p for p in _programmes(session)},
            "is_erased": staff.is_erased,
        },
    )


@router.get("/staff/people/invite", response_class=HTMLResponse)
def invite_form(request: Request, _: StaffManager) -> HTMLResponse:
    return _invite_page(request, empty_form(InviteForm))


def _invite_page(request: Request, form: FormState[Any]) -> HTMLResponse:
    return render(request, "staff/invite.html", {"form": form, "role_options": ROLE_OPTIONS})


@router.post("/staff/people/invite", response_class=HTMLResponse)
def invite(
    request: Request,
    data: FormDataDep,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
    who: StaffManager,
) -> Response:
    form = parse_form(InviteForm, data)
    if not form.ok or form.data is None:
        return _invite_page(request, form)
    member = staff.invite(
        session,
        settings,
        who,
        email=str(form.data.email),
        display_name=form.data.display_name,
        roles=_parse_grants(form.data.roles, set()),
        now=now,
    )
    return flash.redirect(
        request, f"/staff/people/{member.id}", f"Invitation sent to {member.email}."
    )


def _member_page(
    request: Request, session: Session, member: StaffUser, form: FormState[Any], **extra: Any
) -> HTMLResponse:
    assert member.id is not None
    return render(
        request,
        "staff/person.html",
        {
            "member": member,
            "form": form,
            "role_options": ROLE_OPTIONS,
            "programmes": _programmes(session),
            "erased": staff.is_erased(member),
            **extra,
        },
    )


@router.get("/staff/people/{staff_id}", response_class=HTMLResponse)
def person(request: Request, session: SessionDep, member: Member) -> HTMLResponse:
    assert member.id is not None
    held = [_grant_value(role, pid) for role, pid in staff.grants(session, member.id)]
    return _member_page(
        request,
        session,
        member,
        empty_form(RolesForm, roles=held),
    )


@router.post("/staff/people/{staff_id}", response_class=HTMLResponse)
def change_roles(
    request: Request, data: FormDataDep, session: SessionDep, member: Member, who: StaffManager
) -> Response:
    form = parse_form(RolesForm, data)
    programme_ids = {p.id for p in _programmes(session) if p.id is not None}
    wanted: set[staff.RoleGrant] = set()
    if form.ok and form.data is not None:
        try:
            wanted = _parse_grants(form.data.roles, programme_ids)
        except ValueError as exc:
            form.add_error("roles", str(exc))
    removing_own_admin = who.staff is not None and member.id == who.staff.id
    if form.ok and removing_own_admin and (Role.ADMIN, None) not in wanted:
        form.add_error("roles", "You cannot remove your own admin role. Ask another admin.")
    if not form.ok:
        return _member_page(request, session, member, form)
    staff.set_roles(session, who, member, wanted)
    return flash.redirect(request, f"/staff/people/{member.id}", "Roles saved.")


@router.post("/staff/people/{staff_id}/deactivate", response_class=HTMLResponse)
def deactivate(
    request: Request, session: SessionDep, member: Member, who: StaffManager
) -> Response:
    if who.staff is not None and member.id == who.staff.id:
        form = empty_form(RolesForm)
        form.add_error("roles", "You cannot switch off your own account. Ask another admin.")
        return _member_page(request, session, member, form)
    staff.set_active(session, who, member, False)
    return flash.redirect(
        request,
        f"/staff/people/{member.id}",
        "Account switched off. They have been signed out everywhere.",
    )


@router.post("/staff/people/{staff_id}/reactivate", response_class=HTMLResponse)
def reactivate(
    request: Request, session: SessionDep, member: Member, who: StaffManager
) -> Response:
    if staff.is_erased(member):
        return _erase_page(request, member, "erased")
    staff.set_active(session, who, member, True)
    return flash.redirect(request, f"/staff/people/{member.id}", "Account switched back on.")


@router.post("/staff/people/{staff_id}/end-sessions", response_class=HTMLResponse)
def end_sessions(
    request: Request, session: SessionDep, member: Member, who: StaffManager
) -> Response:
    staff.end_sessions(session, who, member)
    if who.staff is not None and member.id == who.staff.id:
        return redirect(request, "/staff/sign-in")
    return flash.redirect(
        request, f"/staff/people/{member.id}", "They have been signed out everywhere."
    )


# Erasing a former member of staff: switched off first, never yourself, confirmed on a page.


def _erase_page(request: Request, member: StaffUser, why_not: str | None) -> HTMLResponse:
    """The confirm page, or (why_not: "self", "active", "erased") a kind word on why not."""
    return render(request, "staff/erase.html", {"member": member, "why_not": why_not})


@router.get("/staff/people/{staff_id}/erase", response_class=HTMLResponse)
def erase_confirm(request: Request, member: Member, who: StaffManager) -> HTMLResponse:
    return _erase_page(request, member, staff.why_not_erase(who, member))


@router.post("/staff/people/{staff_id}/erase", response_class=HTMLResponse)
def erase(request: Request, session: SessionDep, member: Member, who: StaffManager) -> Response:
    why_not = staff.why_not_erase(who, member)
    if why_not is not None:
        # Yourself, still switched on, or already removed (a second press, a replayed post).
        return _erase_page(request, member, why_not)
    staff.erase(session, who, member)
    return flash.redirect(
        request,
        "/staff/people",
        "Their details have been removed. The audit log no longer says who they were.",
    )


# The audit log: what staff (and the system) did, newest first, for admins everywhere.


@router.get("/staff/audit", response_class=HTMLResponse)
def audit_log(
    request: Request, session: SessionDep, _: StaffManager, before: str = "", action: str = ""
) -> HTMLResponse:
    from app.services import audit

    older_than = int(before) if before.isdigit() and len(before) < 12 else None
    action = action.strip()[:80]
    entries = audit.recent(session, before=older_than, action=action)
    return render(
        request,
        "staff/audit.html",
        {
            "entries": entries,
            "action": action,
            "more": len(entries) == audit.PAGE_SIZE,
            "older": entries[-1].id if entries else None,
        },
    )
