"""Staff single sign-on against a real OpenID provider on loopback (oidc-provider from npm).

These tests talk HTTP to the provider: its real login screen, real codes, real signed ID
tokens. Heard runs in the test client with the provider's issuer in its settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from app.config import Settings
from app.models import AuditEntry, Role
from app.services import oidc
from tests.factories import make_staff
from tests.oidc_support import (
    CLIENT_ID,
    CLIENT_SECRET,
    free_port,
    log_in_at_provider,
    running_provider,
)

HEARD_PORT = free_port()
HEARD_URL = f"http://127.0.0.1:{HEARD_PORT}"
REDIRECT_URI = f"{HEARD_URL}/auth/oidc/callback"


@pytest.fixture(scope="module")
def issuer() -> Iterator[str]:
    with running_provider(REDIRECT_URI) as url:
        oidc._discovery.clear()
        yield url


@pytest.fixture
def settings(tmp_path: Path, issuer: str) -> Settings:
    return Settings(
        env="test",
        database_url="sqlite:///unused.db",
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        mail_dir=tmp_path / "mail",
        base_url=HEARD_URL,
        oidc_issuer=issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )


def _start(client) -> str:
    response = client.get("/staff/sign-in")
    assert response.status_code == 303
    assert "heard_oidc=" in response.headers["set-cookie"]
    location = response.headers["location"]
    assert "code_challenge_method=S256" in location and "nonce=" in location
    return location


def _failures(session) -> list[dict]:
    rows = session.exec(
        select(AuditEntry)
        .where(AuditEntry.action == "staff.sign_in_failed")
        .order_by(col(AuditEntry.id))
    ).all()
    return [r.detail for r in rows]


def test_sign_in_with_the_organisation_account(client, session, issuer):
    make_staff(session, Role.MODERATOR, email="mo@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "mo@heard.example.org")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff"
    page = client.get("/staff")
    assert page.status_code == 200
    assert "Hello, mo" in page.text
    signed_in = session.exec(select(AuditEntry).where(AuditEntry.action == "staff.signed_in")).all()
    assert [e.detail["method"] for e in signed_in] == ["oidc"]


def test_a_wrong_state_is_refused(client, session, issuer):
    make_staff(session, Role.ADMIN, email="ad@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "ad@heard.example.org")
    params["state"] = "not-the-state-we-sent"
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 400
    assert "Sign-in did not work" in response.text
    assert client.get("/staff").status_code == 303
    assert _failures(session)[-1]["reason"] == "state mismatch"


def test_a_replayed_code_is_refused(client, session, issuer):
    make_staff(session, Role.ADMIN, email="re@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "re@heard.example.org")
    before = dict(client.cookies.items())
    assert client.get("/auth/oidc/callback", params=params).status_code == 303
    # An attacker with the same browser state sends the same answer again.
    client.cookies.clear()
    for name, value in before.items():
        client.cookies.set(name, value, domain="testserver.local")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 400
    assert _failures(session)[-1]["reason"] == "code refused"


def test_a_login_started_in_another_browser_is_refused(client, app, session, issuer):
    make_staff(session, Role.ADMIN, email="other@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "other@heard.example.org")
    client.cookies.delete("heard_session")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 400


def test_an_unknown_email_is_refused_kindly_and_audited(client, session, issuer):
    params = log_in_at_provider(_start(client), REDIRECT_URI, "stranger@elsewhere.example")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 403
    assert "We could not find your staff account" in response.text
    assert "stranger@elsewhere.example" not in response.text
    failure = _failures(session)[-1]
    assert failure["reason"] == "unknown email"
    assert "stranger" not in str(failure)


def test_a_deactivated_account_is_refused(client, session, issuer):
    member = make_staff(session, Role.ADMIN, email="gone@heard.example.org")
    member.active = False
    session.add(member)
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "gone@heard.example.org")
    assert client.get("/auth/oidc/callback", params=params).status_code == 403
    assert _failures(session)[-1]["reason"] == "inactive"


def test_a_callback_without_a_login_in_progress_is_refused(client, session, issuer):
    response = client.get("/auth/oidc/callback", params={"code": "x", "state": "y"})
    assert response.status_code == 400
    assert _failures(session)[-1]["reason"] == "no login in progress"


def test_single_sign_on_comes_back_to_the_page_asked_for(client, session, issuer):
    make_staff(session, Role.ADMIN, email="back@heard.example.org")
    session.commit()
    sent = client.get("/staff/people?page=2")
    assert sent.headers["location"] == "/staff/sign-in?next=%2Fstaff%2Fpeople%3Fpage%3D2"
    started = client.get(sent.headers["location"])
    assert started.status_code == 303 and "heard_oidc=" in started.headers["set-cookie"]
    assert "people" not in started.headers["location"]  # `next` stays here, sealed
    params = log_in_at_provider(started.headers["location"], REDIRECT_URI, "back@heard.example.org")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/staff/people?page=2"


@pytest.mark.parametrize("evil", ["//evil.example", "https://evil.example", "/\\evil.example"])
def test_single_sign_on_never_goes_off_site(client, session, settings, issuer, evil):
    make_staff(session, Role.ADMIN, email="stay@heard.example.org")
    session.commit()
    started = client.get("/staff/sign-in", params={"next": evil})
    params = log_in_at_provider(started.headers["location"], REDIRECT_URI, "stay@heard.example.org")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    # Even a sealed cookie holding a hostile `next` (a bug elsewhere) is not obeyed.
    pending = oidc.Pending(state="s", nonce="n", verifier="v", next_page=evil)
    sealed = oidc.seal(settings, "browser", pending, 1000.0)
    assert oidc.unseal(settings, "browser", sealed, 1001.0).next_page is None


# --- security fixes (issue 9): a verified email, and the provider's `sub` bound ---------


@pytest.mark.parametrize("tag", ["unverified", "unchecked"])
def test_an_email_the_provider_has_not_verified_is_refused(client, session, issuer, tag):
    """`email_verified: false`, or no `email_verified` at all, never signs anyone in."""
    make_staff(session, Role.ADMIN, email="boss@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, f"{tag}|boss@heard.example.org")
    response = client.get("/auth/oidc/callback", params=params)
    assert response.status_code == 400
    assert client.get("/staff").status_code == 303  # not signed in
    assert _failures(session)[-1]["reason"] == "email not verified"


def test_the_first_sign_in_binds_the_providers_subject_and_another_is_refused(
    client, app, session, issuer
):
    member = make_staff(session, Role.ADMIN, email="bound@heard.example.org")
    session.commit()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "bound@heard.example.org")
    assert client.get("/auth/oidc/callback", params=params).status_code == 303
    session.refresh(member)
    assert member.oidc_subject == "bound@heard.example.org"  # the provider's `sub`
    # Another account at the provider with the same (verified) email: refused.
    from tests.conftest import Client

    with Client(app, base_url="http://testserver", follow_redirects=False) as other:
        params = log_in_at_provider(_start(other), REDIRECT_URI, "impostor|bound@heard.example.org")
        response = other.get("/auth/oidc/callback", params=params)
        assert response.status_code == 403
        assert other.get("/staff").status_code == 303
    assert _failures(session)[-1]["reason"] == "subject mismatch"
    session.refresh(member)
    assert member.oidc_subject == "bound@heard.example.org"
    # The right person still signs in.
    client.cookies.clear()
    params = log_in_at_provider(_start(client), REDIRECT_URI, "bound@heard.example.org")
    assert client.get("/auth/oidc/callback", params=params).status_code == 303
