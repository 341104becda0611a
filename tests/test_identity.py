"""Who's who: participants without passwords, coming back by link, staff admin, sessions."""

from __future__ import annotations

import re

from sqlmodel import col, select

from app.models import AuditEntry, OutboxEmail, Programme, Role, SignInToken, StaffRole, StaffUser
from app.security import token_hash
from app.services import participants
from tests.factories import make_participant, make_staff, sign_in


def _last_email(session, to: str) -> OutboxEmail:
    return session.exec(
        select(OutboxEmail).where(OutboxEmail.to_address == to).order_by(col(OutboxEmail.id).desc())
    ).first()


def _link(email: OutboxEmail) -> str:
    found = re.search(r"http://testserver(/\S+)", email.body_text)
    assert found, email.body_text
    return found.group(1)


def _actions(session) -> list[str]:
    return [e.action for e in session.exec(select(AuditEntry).order_by(col(AuditEntry.id)))]


# Participants ---------------------------------------------------------------------------------


def test_a_participant_can_exist_with_no_email_at_all(session, clock):
    person = participants.create(session, display_name="  Kai  ", now=clock.now)
    assert person.id and person.display_name == "Kai"
    assert person.contact_email is None and person.contact_is_parent is False


def test_a_participant_comes_back_by_emailed_link(client, session, clock):
    person = participants.create(
        session, display_name="Ash", now=clock.now, contact_email="Ash@Example.org"
    )
    session.commit()
    response = client.submit("/me/sign-in", {"email": "ash@example.org"})
    assert response.status_code == 303
    assert response.headers["location"] == "/me/sign-in/check-email"
    email = _last_email(session, "ash@example.org")
    assert "To sign in as Ash" in email.body_text
    link = _link(email)
    token = link.split("token=")[1]
    stored = session.exec(select(SignInToken).where(SignInToken.participant_id == person.id)).one()
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert len(token) >= 22  # at least 128 bits, URL-safe base64
    # Opening the link does not use it (email scanners open links too).
    assert "Carry on" in client.get(link).text
    assert client.get(link).status_code == 200
    response = client.submit("/me/sign-in/link", {"token": token}, page=link)
    assert response.status_code == 303 and response.headers["location"] == "/me"
    cookie = response.headers["set-cookie"]
    assert "Max-Age=" in cookie  # a long-lived device cookie
    page = client.get("/me")
    assert page.status_code == 200 and "Hello, Ash." in page.text
    # Single use.
    again = client.submit("/me/sign-in/link", {"token": token}, page=link)
    assert again.status_code == 400


def test_the_sign_in_page_never_says_whether_an_email_is_known(client, session, clock):
    participants.create(session, display_name="Bo", now=clock.now, contact_email="bo@example.org")
    session.commit()
    known = client.submit("/me/sign-in", {"email": "bo@example.org"})
    unknown = client.submit("/me/sign-in", {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["location"] == unknown.headers["location"]
    assert _last_email(session, "nobody@example.org") is None


def test_a_link_expires_after_15_minutes(client, session, clock):
    participants.create(session, display_name="Cy", now=clock.now, contact_email="cy@example.org")
    session.commit()
    client.submit("/me/sign-in", {"email": "cy@example.org"})
    link = _link(_last_email(session, "cy@example.org"))
    clock.advance(minutes=16)
    response = client.submit("/me/sign-in/link", {"token": link.split("token=")[1]}, page=link)
    assert response.status_code == 400
    assert "does not work any more" in response.text


def test_one_email_for_brothers_and_sisters_names_each_of_them(client, session, clock):
    for name in ("Dee", "Eli"):
        participants.create(
            session,
            display_name=name,
            now=clock.now,
            contact_email="parent@example.org",
            contact_is_parent=True,
        )
    session.commit()
    client.submit("/me/sign-in", {"email": "parent@example.org"})
    body = _last_email(session, "parent@example.org").body_text
    assert "sign in as Dee" in body and "sign in as Eli" in body


def test_sign_out_on_this_phone_ends_the_device_session(client, session, clock):
    person = make_participant(session, "Fin")
    old = sign_in(client, session, participant=person, now=clock.now)
    assert client.get("/me").status_code == 200
    response = client.submit("/me/sign-out", page="/me")
    assert response.status_code == 303 and response.headers["location"] == "/me/signed-out"
    assert "signed out on this phone" in client.get("/me/signed-out").text
    client.cookies.clear()
    client.cookies.set("heard_session", old, domain="testserver.local")
    assert client.get("/me").headers["location"] == "/me/sign-in"


def test_activity_keeps_a_participant_active(client, session, clock):
    person = make_participant(session, "Gus")
    sign_in(client, session, participant=person, now=clock.now)
    clock.advance(days=3)
    client.get("/me")
    session.refresh(person)
    assert person.last_active_at == clock.now


# Staff admin ----------------------------------------------------------------------------------


def _admin(client, session, clock) -> StaffUser:
    admin = make_staff(session, Role.ADMIN, email="boss@heard.example.org")
    sign_in(client, session, staff=admin, now=clock.now)
    return admin


def test_an_admin_invites_someone_who_gets_a_sign_in_link(client, session, clock):
    _admin(client, session, clock)
    page = client.get("/staff/people/invite")
    assert page.status_code == 200
    response = client.submit(
        "/staff/people/invite",
        {
            "email": "New@Heard.example.org",
            "display_name": "Nia",
            "roles": ["moderator", "analyst"],
        },
    )
    assert response.status_code == 303
    member = session.exec(select(StaffUser).where(StaffUser.email == "new@heard.example.org")).one()
    roles = {r.role for r in session.exec(select(StaffRole).where(StaffRole.staff_id == member.id))}
    assert roles == {Role.MODERATOR, Role.ANALYST}
    email = _last_email(session, "new@heard.example.org")
    assert "/staff/sign-in/link?token=" in email.body_text
    assert "staff.invited" in _actions(session)
    assert "Invitation sent" in client.get(response.headers["location"]).text
    # The invitation link signs the new person in (it lasts days, not minutes).
    clock.advance(days=2)
    link = _link(email)
    client.cookies.clear()
    response = client.submit("/staff/sign-in/link", {"token": link.split("token=")[1]}, page=link)
    assert response.status_code == 303 and response.headers["location"] == "/staff"


def test_invite_errors_keep_what_was_typed(client, session, clock):
    _admin(client, session, clock)
    response = client.submit("/staff/people/invite", {"email": "not an email", "display_name": ""})
    assert response.status_code == 200
    assert "<title>Error: Invite someone – Heard</title>" in response.text
    assert 'value="not an email"' in response.text
    assert "Choose at least one role" in response.text


def test_roles_change_everywhere_and_per_programme_and_are_audited(client, session, clock):
    _admin(client, session, clock)
    programme = Programme(slug="p-roles", title="Care review", summary="x")
    session.add(programme)
    member = make_staff(session, Role.MODERATOR, email="mod@heard.example.org")
    session.commit()
    page = client.get(f"/staff/people/{member.id}")
    assert "Only in Care review" in page.text
    response = client.submit(
        f"/staff/people/{member.id}",
        {"roles": ["reviewer", f"facilitator:{programme.id}"]},
        page=f"/staff/people/{member.id}",
    )
    assert response.status_code == 303
    held = {
        (r.role, r.programme_id)
        for r in session.exec(select(StaffRole).where(StaffRole.staff_id == member.id))
    }
    assert held == {(Role.REVIEWER, None), (Role.FACILITATOR, programme.id)}
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "staff.roles_changed")).one()
    assert entry.actor_label == "boss@heard.example.org"
    assert entry.detail["removed"] == ["moderator"]


def test_an_admin_cannot_remove_their_own_admin_role(client, session, clock):
    admin = _admin(client, session, clock)
    response = client.submit(
        f"/staff/people/{admin.id}", {"roles": ["analyst"]}, page=f"/staff/people/{admin.id}"
    )
    assert response.status_code == 200
    assert "You cannot remove your own admin role" in response.text


def test_unknown_role_values_are_refused_kindly(client, session, clock):
    _admin(client, session, clock)
    member = make_staff(session, Role.MODERATOR)
    session.commit()
    for bad in (["root"], ["admin:999999"], ["admin:abc"]):
        response = client.submit(
            f"/staff/people/{member.id}", {"roles": bad}, page=f"/staff/people/{member.id}"
        )
        assert response.status_code == 200
        assert "Choose roles from the list" in response.text


def test_deactivating_someone_signs_them_out_everywhere(client, session, clock, app):
    from fastapi.testclient import TestClient

    _admin(client, session, clock)
    member = make_staff(session, Role.FACILITATOR)
    with TestClient(app, base_url="http://testserver") as theirs:
        sign_in(theirs, session, staff=member, now=clock.now)
        assert theirs.get("/staff", follow_redirects=False).status_code == 200
        response = client.submit(
            f"/staff/people/{member.id}/deactivate", page=f"/staff/people/{member.id}"
        )
        assert response.status_code == 303
        assert theirs.get("/staff", follow_redirects=False).status_code == 303
    session.refresh(member)
    assert member.active is False
    assert "staff.deactivated" in _actions(session)
    # A link for a switched-off account does not work.
    client.cookies.clear()
    client.submit("/staff/sign-in", {"email": member.email})
    assert _last_email(session, member.email) is None


def test_end_someones_sessions_at_once(client, session, clock, app):
    from fastapi.testclient import TestClient

    _admin(client, session, clock)
    member = make_staff(session, Role.ANALYST)
    with TestClient(app, base_url="http://testserver") as theirs:
        sign_in(theirs, session, staff=member, now=clock.now)
        response = client.submit(
            f"/staff/people/{member.id}/end-sessions", page=f"/staff/people/{member.id}"
        )
        assert response.status_code == 303
        assert theirs.get("/staff", follow_redirects=False).status_code == 303
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "staff.sessions_ended")
    ).one()
    assert entry.detail["sessions"] == 1


def test_an_admin_of_one_programme_cannot_manage_staff(client, session, clock):
    programme = Programme(slug="p-scope", title="Scoped", summary="x")
    session.add(programme)
    member = make_staff(session, Role.ANALYST)
    session.flush()
    session.add(StaffRole(staff_id=member.id, role=Role.ADMIN, programme_id=programme.id))
    sign_in(client, session, staff=member, now=clock.now)
    assert client.get("/staff/people").status_code == 403


# Sessions, sign-in and the audit log ---------------------------------------------------------


def test_staff_pages_say_when_the_session_ends_and_it_can_be_extended(client, session, clock):
    member = make_staff(session, Role.MODERATOR)
    sign_in(client, session, staff=member, now=clock.now)
    page = client.get("/staff").text
    assert "you will be signed out at" in page
    assert 'data-session-expires="' in page and "Stay signed in" in page
    clock.advance(minutes=25)
    token = client.csrf("/staff")
    clock.advance(minutes=4)
    response = client.post(
        "/staff/session/extend",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.json()["expires_at"].startswith("2026-11-23T10:59")
    clock.advance(minutes=29)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/staff").status_code == 303


def test_participant_pages_have_no_timeout_warning(client, session, clock):
    sign_in(client, session, participant=make_participant(session), now=clock.now)
    assert "data-session-expires" not in client.get("/me").text


def test_staff_sign_in_sign_out_and_failures_are_audited(client, session, clock):
    member = make_staff(session, Role.ADMIN, email="audit@heard.example.org")
    session.commit()
    client.submit("/staff/sign-in", {"email": "audit@heard.example.org"})
    link = _link(_last_email(session, "audit@heard.example.org"))
    token = link.split("token=")[1]
    client.submit("/staff/sign-in/link", {"token": token}, page=link)
    client.submit("/staff/sign-out", page="/staff")
    client.submit("/staff/sign-in/link", {"token": token}, page=link)
    actions = _actions(session)
    for action in (
        "staff.sign_in_link_sent",
        "staff.signed_in",
        "staff.signed_out",
        "staff.sign_in_failed",
    ):
        assert action in actions
    assert member.id is not None


def test_browsers_that_send_origin_null_are_judged_by_fetch_metadata(client):
    """Under Referrer-Policy: no-referrer, Chromium sends "Origin: null" with form POSTs."""
    token = client.csrf("/me/sign-in")
    data = {"csrf_token": token, "email": "x@example.org"}
    same = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/me/sign-in", data=data, headers=same).status_code == 303
    for headers in (
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null", "Sec-Fetch-Site": "same-site"},
    ):
        assert client.post("/me/sign-in", data=data, headers=headers).status_code == 403
