"""Object-level permissions: one way to find an object by id and check a predicate on it,
and the admin role's answers written down in app/permissions.py, checked against the rules."""

from __future__ import annotations

import pytest
from fastapi import HTTPException
from fastapi.routing import APIRoute
from sqlmodel import select

from app import permissions
from app.models import Role, SignUp, StaffRole, Workshop, WorkshopFacilitator
from app.objects import Guard
from app.routing import MAX_ID
from app.services import signups
from app.services import workshops as workshop_service
from app.services.identity import Identity
from tests.factories import make_programme, make_staff, sign_in
from tests.test_signup import sign_up_through

# --- the guard ------------------------------------------------------------------------------


def staff(session, role: Role, programme_id: int | None = None) -> Identity:  # type: ignore[no-untyped-def]
    member = make_staff(session)
    session.add(StaffRole(staff_id=member.id, role=role, programme_id=programme_id))
    session.flush()
    return Identity(staff=member, roles={(role, programme_id)})


def answer(guard: Guard[Workshop], who: Identity, obj: Workshop | None) -> tuple[int, object]:
    try:
        guard.check(who, obj)
    except HTTPException as refused:
        return refused.status_code, refused.detail
    return 200, None


def test_not_found_and_not_yours_answer_the_same_way(session, make_workshop) -> None:
    workshop = make_workshop()
    stranger = staff(session, Role.FACILITATOR)
    secret = Guard(Workshop, may=workshop_service.may_run, refused="why")
    open_ = Guard(Workshop, may=workshop_service.may_run, secret=False)
    assert answer(secret, stranger, None) == (404, "Not Found")
    assert answer(secret, stranger, workshop) == (404, "why")
    assert answer(open_, stranger, None) == (404, "Not Found")
    assert answer(open_, stranger, workshop) == (403, "Forbidden")
    assert answer(secret, staff(session, Role.ADMIN), workshop) == (200, None)
    assert secret.find(session, workshop.id) is workshop
    for impossible in (0, -1, MAX_ID + 1, 10**30):
        assert secret.find(session, impossible) is None


def test_the_workshop_predicate_takes_the_workshop(session, make_workshop) -> None:
    workshop, other = make_workshop(), make_workshop(title="Another one")
    assigned = staff(session, Role.FACILITATOR)
    in_programme = staff(session, Role.FACILITATOR, workshop.programme_id)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=assigned.staff.id))
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=in_programme.staff.id))
    session.flush()
    admin_elsewhere = staff(session, Role.ADMIN, make_programme(session).id)
    assert workshop_service.may_run(assigned, workshop)
    assert workshop_service.may_run(in_programme, workshop)
    assert not workshop_service.may_run(assigned, other)
    assert workshop_service.may_run(staff(session, Role.ADMIN, workshop.programme_id), other)
    assert not workshop_service.may_run(admin_elsewhere, workshop)
    assert not workshop_service.may_run(staff(session, Role.MODERATOR), workshop)
    assert not workshop_service.may_run(Identity(), workshop)
    # The same answers as the rule it stands for, given who is assigned.
    ids = workshop_service.facilitator_ids(session, workshop.id)
    for who in (assigned, in_programme, admin_elsewhere):
        assert workshop_service.may_run(who, workshop) == workshop_service.can_run(
            who, workshop, ids
        )


def _workshop_routes(app) -> list[tuple[str, set[str]]]:  # type: ignore[no-untyped-def]
    """Every route (path, methods) that takes its workshop from the guard."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are copied onto the app
        routes = [(r, r) for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = [(rc, rc.original_route) for rc in iter_route_contexts(app.routes)]
    found = []
    for context, route in routes:
        if not isinstance(route, APIRoute):
            continue
        pending = [route.dependant]
        while pending:
            dependant = pending.pop()
            if getattr(dependant.call, "__name__", "") == "workshop_by_workshop_id":
                found.append((str(context.path), set(context.methods or ())))
                break
            pending.extend(dependant.dependencies)
    return found


def test_every_staff_workshop_page_answers_a_colleague_the_same_kind_way(
    app, client, session, settings, make_workshop
) -> None:
    workshop = make_workshop()
    sign_up_through(client, workshop)
    row = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).one()
    routes = _workshop_routes(app)
    assert len(routes) >= 15  # the staff workshop pages, and their live list
    assert any(path.startswith("/live/") for path, _ in routes)
    sign_in(client, session, staff=make_staff(session, Role.FACILITATOR))
    missing = workshop.id + 1000
    for template, methods in routes:
        path = template.replace("{sign_up_id}", str(row.id))
        theirs, gone = (path.replace("{workshop_id}", str(n)) for n in (workshop.id, missing))
        if "GET" in methods:
            answer = client.get(theirs)
            assert answer.status_code == 404, template
            assert "This workshop is run by someone else" in answer.text, template
            answer = client.get(gone)
            assert answer.status_code == 404, template
            assert "run by someone else" not in answer.text, template
        if "POST" in methods:
            answer = client.submit(theirs, {}, page="/staff/workshops")
            assert answer.status_code == 404, template
            assert "This workshop is run by someone else" in answer.text, template
    # A scanned check-in code for their workshop: the same page.
    url = signups.links(settings, row)["check_in"].removeprefix("http://testserver")
    scanned = client.get(url)
    assert scanned.status_code == 404 and "run by someone else" in scanned.text


# --- the admin role, written down -----------------------------------------------------------


@pytest.mark.parametrize("rule", permissions.ADMIN_ROLE, ids=lambda r: r.question[:60])
def test_what_an_admin_may_do_is_what_the_rules_say(rule, session) -> None:
    programme = make_programme(session)
    everywhere = staff(session, Role.ADMIN)
    one_programme = staff(session, Role.ADMIN, programme.id)
    assert rule.ask(everywhere, programme.id) is rule.everywhere, rule.question
    assert rule.ask(one_programme, programme.id) is rule.own_programme, rule.question
    # An admin of one programme has nothing more than an admin of every programme.
    assert rule.everywhere or not rule.own_programme


def test_the_admin_table_answers_the_questions_people_ask() -> None:
    answers = {rule.question: rule.everywhere for rule in permissions.ADMIN_ROLE}
    asked = {
        "Read a safeguarding concern": False,
        "Open the moderation queue": True,
        "See who applied on the blind review page (names only in the admins' export)": False,
        "Change the screening words": False,
    }
    assert {q: answers[q] for q in asked} == asked
    assert len(answers) == len(permissions.ADMIN_ROLE)  # one answer per question
