"""Workshops on the workflow part: draft, published, cancelled; who may move them; the record."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from app.models import AuditEntry, Role, StaffRole, Workshop, WorkshopFacilitator, WorkshopStatus
from app.services import workshops as workshop_service
from app.services.identity import Identity
from app.services.workshops import WORKSHOP
from app.workflows import NotAllowed, WrongState, can_do
from tests.factories import make_programme, make_staff, sign_in
from tests.test_workshop_staff import form_in


def staff(session, role: Role, programme_id: int | None = None) -> Identity:  # type: ignore[no-untyped-def]
    member = make_staff(session)
    session.add(StaffRole(staff_id=member.id, role=role, programme_id=programme_id))
    session.flush()
    return Identity(staff=member, roles={(role, programme_id)})


def entries(session, workshop: Workshop) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    found = session.exec(
        select(AuditEntry)
        .where(AuditEntry.record_type == "workshop", AuditEntry.record_id == str(workshop.id))
        .order_by(col(AuditEntry.id))
    ).all()
    return [(e.action, e.detail) for e in found]


def test_the_workflow_declares_the_lifecycle_workshops_had() -> None:
    moves = {name: (m.sources, m.target) for name, m in WORKSHOP.actions.items()}
    assert moves == {
        "publish": (("draft",), "published"),
        "unpublish": (("published",), "draft"),
        "cancel": (("draft", "published"), "cancelled"),
    }
    assert set(WORKSHOP.states) == {s.value for s in WorkshopStatus}


def test_each_move_leaves_exactly_one_audit_entry(session, make_workshop) -> None:
    workshop = make_workshop(status=WorkshopStatus.DRAFT)
    admin = staff(session, Role.ADMIN)
    for action, state in [
        ("publish", "published"),
        ("unpublish", "draft"),
        ("cancel", "cancelled"),
    ]:
        before = entries(session, workshop)
        left = WORKSHOP.move(session, admin, workshop, action)
        assert workshop.status == WorkshopStatus(state)
        new = entries(session, workshop)[len(before) :]
        assert new == [(f"workshop.{action}", {"from": left, "to": state})]
    actors = session.exec(
        select(AuditEntry.actor_id).where(
            AuditEntry.record_type == "workshop", AuditEntry.record_id == str(workshop.id)
        )
    ).all()
    assert actors == [admin.staff.id] * 3


def test_a_cancelled_workshop_is_never_published_again(session, make_workshop) -> None:
    workshop = make_workshop(status=WorkshopStatus.CANCELLED)
    admin = staff(session, Role.ADMIN)
    assert WORKSHOP.actions_for(admin, workshop) == []
    assert not can_do(WORKSHOP, admin, workshop, "publish")
    for action in ("publish", "unpublish", "cancel"):
        with pytest.raises(WrongState):
            WORKSHOP.move(session, admin, workshop, action)
    assert workshop.status == WorkshopStatus.CANCELLED
    assert WORKSHOP.action_towards(workshop, "published") is None
    assert entries(session, workshop) == []


def test_only_the_workshops_own_staff_move_it(session, make_workshop) -> None:
    workshop = make_workshop(status=WorkshopStatus.DRAFT)
    other = make_workshop(status=WorkshopStatus.DRAFT, title="Another")
    assigned, unassigned = staff(session, Role.FACILITATOR), staff(session, Role.FACILITATOR)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=assigned.staff.id))
    session.flush()
    refused = [
        unassigned,  # a facilitator, but not of this workshop
        staff(session, Role.MODERATOR),
        staff(session, Role.SAFEGUARDING_LEAD),
        staff(session, Role.ADMIN, make_programme(session).id),  # of another programme
        Identity(),  # nobody signed in
    ]
    for who in refused:
        assert not can_do(WORKSHOP, who, workshop, "publish")
        with pytest.raises(NotAllowed):
            WORKSHOP.move(session, who, workshop, "publish")
    assert workshop.status == WorkshopStatus.DRAFT and entries(session, workshop) == []
    with pytest.raises(NotAllowed):  # assigned to one workshop, not to every one
        WORKSHOP.move(session, assigned, other, "publish")
    WORKSHOP.move(session, assigned, workshop, "publish")
    WORKSHOP.move(session, staff(session, Role.ADMIN, workshop.programme_id), workshop, "cancel")
    assert [action for action, _ in entries(session, workshop)] == [
        "workshop.publish",
        "workshop.cancel",
    ]


def test_publishing_from_the_staff_form_is_the_workflows_move(client, session, make_workshop):
    workshop = make_workshop(status=WorkshopStatus.DRAFT)
    me = make_staff(session, Role.FACILITATOR)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))
    session.commit()
    sign_in(client, session, staff=me)
    ids = {me.id or 0}
    values = workshop_service.form_values(workshop, client.app.state.settings, ids)
    form = form_in(workshop, **{k: v for k, v in values.items() if k not in {"programme_id"}})
    form["facilitators"] = [str(me.id)]
    form["status"] = "published"
    response = client.submit(f"/staff/workshops/{workshop.id}/edit", form)
    assert response.status_code == 303, response.text[:2000]
    session.expire_all()
    assert session.get(Workshop, workshop.id).status == WorkshopStatus.PUBLISHED
    assert [a for a, _ in entries(session, workshop)] == ["workshop.publish", "workshop.changed"]
    assert entries(session, workshop)[0][1] == {"from": "draft", "to": "published"}
    # Saving again without a change of status is no move: no second entry for it.
    assert client.submit(f"/staff/workshops/{workshop.id}/edit", form).status_code == 303
    session.expire_all()
    assert [a for a, _ in entries(session, workshop)].count("workshop.publish") == 1
    form["status"] = "draft"
    assert client.submit(f"/staff/workshops/{workshop.id}/edit", form).status_code == 303
    session.expire_all()
    assert session.get(Workshop, workshop.id).status == WorkshopStatus.DRAFT
    assert entries(session, workshop)[-2] == (
        "workshop.unpublish",
        {"from": "published", "to": "draft"},
    )


def test_the_cancel_button_shows_only_when_the_workflow_allows_it(client, session, make_workshop):
    published = make_workshop()
    cancelled = make_workshop(title="Called off", status=WorkshopStatus.CANCELLED)
    sign_in(client, session, staff=make_staff(session, Role.ADMIN))
    danger = "Everyone with a place or on the waiting list gets an email"
    assert danger in client.get(f"/staff/workshops/{published.id}").text
    assert danger not in client.get(f"/staff/workshops/{cancelled.id}").text


def test_cancelling_tells_everyone_is_the_workflows_move_and_the_room_hears_of_it(
    session, settings, make_workshop, clock
) -> None:
    from app import events
    from app.services import signups

    workshop = make_workshop(status=WorkshopStatus.PUBLISHED)
    admin = staff(session, Role.ADMIN)
    told = signups.cancel_workshop(
        session, settings, workshop, "The venue flooded", clock.now, admin
    )
    assert told == 0
    assert workshop.status == WorkshopStatus.CANCELLED and workshop.cancelled_at == clock.now
    assert entries(session, workshop) == [
        (
            "workshop.cancel",
            {"emailed": 0, "from": "published", "to": "cancelled", "reason": "The venue flooded"},
        )
    ]
    assert "workshop.cancelled" in [e.name for e in events.pending(session)]
    # Once cancelled, it stays so: a second press changes nothing and records nothing.
    assert signups.cancel_workshop(session, settings, workshop, "", clock.now, admin) == 0
    assert len(entries(session, workshop)) == 1
    other = make_workshop(status=WorkshopStatus.PUBLISHED)
    with pytest.raises(NotAllowed):  # a facilitator not running it
        signups.cancel_workshop(
            session, settings, other, "", clock.now, staff(session, Role.FACILITATOR)
        )
