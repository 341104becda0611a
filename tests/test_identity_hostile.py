"""Hostile input to every form this feature adds: never a 500, and always shown back escaped."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from app.models import AgeBand, Role
from app.services import participants
from tests.conftest import shared_fixture
from tests.factories import make_participant, make_staff, sign_in


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


def q(value: str) -> str:
    """As a browser would put it in a URL (lone surrogates can't be sent; they become '?')."""
    return value[:2000].encode("utf-8", "replace").decode()


def raw_post(client, path: str, data: dict, page: str | None = None):
    """POST exactly these bytes, lists too, even ones a browser would not encode."""
    form = dict(data)
    form.setdefault("csrf_token", client.csrf(page or path))
    body = urlencode(form, doseq=True, encoding="utf-8", errors="surrogatepass")
    return client.post(
        path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


def _inert(response) -> None:
    assert response.status_code in {200, 303, 400, 404, 429}, response.status_code
    text = response.text
    assert "<script>alert(1)</script>" not in text
    assert "onerror=alert(1)>" not in text
    assert "<svg/onload" not in text
    assert '<div hx-get="/admin"' not in text
    assert "49" not in re.findall(r"value=\"([^\"]*)\"", text)


def test_participant_forms(client, session, clock):
    for value in hostile_inputs():
        _inert(raw_post(client, "/me/sign-in", {"email": value}))
        _inert(raw_post(client, "/me/sign-in/link", {"token": value}, page="/me/sign-in"))
        _inert(client.get("/me/sign-in/link", params={"token": q(value)}))
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    for value in hostile_inputs():
        _inert(raw_post(client, "/me/consents", {"take_part": value, "be_quoted": value}))
        _inert(client.get("/me", params={"done": q(value)}))
        _inert(client.get("/me/data", params={"download": q(value)}))


def test_parent_consent_form(client, session, clock):
    for value in hostile_inputs():
        _inert(raw_post(client, "/parent/consent", {"token": value, "answer": value}, page="/"))
        _inert(client.get("/parent/consent", params={"token": q(value)}))
        _inert(client.get("/parent/consent/done", params={"answer": q(value)}))


def test_staff_admin_forms(client, session, clock):
    admin = make_staff(session, Role.ADMIN)
    member = make_staff(session, Role.MODERATOR)
    sign_in(client, session, staff=admin, now=clock.now)
    for value in hostile_inputs():
        data = {"email": value, "display_name": value, "roles": [value]}
        _inert(raw_post(client, "/staff/people/invite", data))
        _inert(raw_post(client, f"/staff/people/{member.id}", {"roles": [value, "admin"]}))
        params = {"done": q(value), "invited": q(value)}
        _inert(client.get(f"/staff/people/{member.id}", params=params))


def test_hostile_names_stored_by_other_features_show_escaped(client, session, clock, settings):
    """Display names and emails come from sign-ups: they show escaped on every page here."""
    admin = make_staff(session, Role.ADMIN)
    for value in hostile_inputs()[:10]:
        person = participants.create(
            session,
            display_name=value,
            now=clock.now,
            age_band=AgeBand.UNDER_13,
            contact_email="p@example.org",
            role_words=value,
        )
        sign_in(client, session, participant=person, now=clock.now)
        _inert(client.get("/me"))
        _inert(client.get("/me/data"))
        _inert(client.get("/me/delete"))
    admin.display_name = hostile_inputs()[0]
    session.add(admin)
    sign_in(client, session, staff=admin, now=clock.now)
    _inert(client.get("/staff/people"))
    _inert(client.get(f"/staff/people/{admin.id}"))
