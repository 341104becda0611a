"""The role matrix: every route declares a policy, and every policy lets in exactly whom it should.

Who is who: anonymous, a participant, a participant of another workshop, and each staff role.
The expected table below is written out by hand, independently of the policy code, so a
policy that lets in too many (or too few) people fails here. A new route without a declared
policy fails `test_every_route_declares_a_policy`; a new policy without a row here fails
`test_every_policy_has_a_row_in_the_matrix`.

Object-level rules (one participant changing an id in a URL to reach another's record) are
tested beside each feature.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from app.deps import policy_of
from app.models import Role
from tests.factories import make_participant, make_staff, sign_in

WHO = [
    "anonymous",
    "participant",
    "other_participant",
    *[f"staff:{role.value}" for role in Role],
]
STAFF = {f"staff:{role.value}" for role in Role}
PARTICIPANTS = {"participant", "other_participant"}

# policy name -> who is let in. Everyone else is refused (403, or sent to sign in).
EXPECTED: dict[str, set[str]] = {
    "public": set(WHO),
    "development_only": set(WHO),  # a 404 outside development, tested separately
    "participant": PARTICIPANTS,
    "any_staff": STAFF,
    "admin": {"staff:admin"},
    "manage_staff": {"staff:admin"},
    "facilitator": {"staff:admin", "staff:facilitator"},
    "moderator": {"staff:moderator", "staff:safeguarding_lead"},
    "safeguarding": {"staff:safeguarding_lead"},
    "analyst": {"staff:admin", "staff:analyst"},
    "reviewer": {"staff:admin", "staff:reviewer"},
}

# Routes that only exist for machines or other hosts (no HTML, no person).
NOT_FOR_PEOPLE = {"/healthz", "/readyz"}


def app_routes(app) -> list[APIRoute]:
    return [r for r in app.routes if isinstance(r, APIRoute)]


def sample_path(path: str) -> str:
    """Fill path parameters with values that parse (the object need not exist)."""

    def value(match: re.Match[str]) -> str:
        name, _, kind = match.group(1).partition(":")
        if kind == "int" or name.endswith("_id") or name == "id":
            return "999999"
        return "no-such-thing"

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_route_declares_a_policy(app):
    missing = [f"{sorted(r.methods)} {r.path}" for r in app_routes(app) if policy_of(r) is None]
    assert not missing, f"routes without a declared policy: {missing}"


def test_every_policy_has_a_row_in_the_matrix(app):
    names = {policy.name for r in app_routes(app) if (policy := policy_of(r))}
    assert names <= set(EXPECTED), f"add these policies to EXPECTED: {names - set(EXPECTED)}"


def _become(who: str, client, session) -> None:
    if who == "anonymous":
        return
    if who in PARTICIPANTS:
        sign_in(client, session, participant=make_participant(session, who))
        return
    role = Role(who.removeprefix("staff:"))
    sign_in(client, session, staff=make_staff(session, role))


def _refused(response) -> bool:
    if response.status_code == 403:
        return True
    location = response.headers.get("location", "") or response.headers.get("hx-redirect", "")
    return response.status_code in {302, 303} and "sign-in" in location


@pytest.mark.parametrize("who", WHO)
def test_each_route_lets_in_exactly_whom_its_policy_names(who, app, client, session):
    _become(who, client, session)
    token = client.csrf("/")
    wrong: list[str] = []
    for route in app_routes(app):
        policy = policy_of(route)
        assert policy is not None
        if route.path in NOT_FOR_PEOPLE or policy.name == "development_only":
            continue
        path = sample_path(route.path)
        for method in sorted(route.methods - {"HEAD"}):
            if method == "GET":
                response = client.get(path)
            else:
                response = client.request(method, path, data={"csrf_token": token})
            allowed = who in EXPECTED[policy.name]
            if allowed and _refused(response):
                wrong.append(f"{method} {route.path}: {who} was refused ({response.status_code})")
            if not allowed and not _refused(response):
                wrong.append(f"{method} {route.path}: {who} got in ({response.status_code})")
            if response.status_code >= 500:
                wrong.append(f"{method} {route.path}: {who} got a {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_development_pages_are_not_found_outside_development(app, client):
    for route in app_routes(app):
        policy = policy_of(route)
        if policy is not None and policy.name == "development_only":
            assert client.get(sample_path(route.path)).status_code == 404, route.path
