"""Staff single sign-on in real Chromium against a real OpenID provider (oidc-provider)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.models import Role
from app.services import oidc
from app.services import staff as staff_service
from tests.browser.harness import check_page, context_info, new_context
from tests.identity_live import LiveServer, live_server
from tests.oidc_support import CLIENT_ID, CLIENT_SECRET, free_port, running_provider

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/auth/oidc/callback"
    with running_provider(redirect_uri) as issuer:
        oidc._discovery.clear()
        with live_server(
            tmp_path_factory.mktemp("sso"),
            port,
            oidc_issuer=issuer,
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=CLIENT_SECRET,
        ) as server:
            yield server


@pytest.fixture
def sso_page(browser: Any) -> Iterator[Any]:
    context = new_context(browser, js=True)
    try:
        yield context.new_page()
    finally:
        context.close()


def _log_in_at_provider(page: Any, login: str) -> None:
    """The provider's own login screen, then its consent screen ("Continue")."""
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any-password")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if "/interaction/" in page.url:
        page.click("button[type=submit]")


def _back_at_heard(page: Any, url: str) -> None:
    page.wait_for_url(url)
    # The provider's own login pages ask for a web font (blocked, as everything outside
    # 127.0.0.1 is). That is the provider's doing, not Heard's: forget it before checking.
    context_info(page).blocked.clear()


def test_staff_sign_in_with_single_sign_on_in_chromium(sso_server: LiveServer, sso_page: Any):
    page = sso_page
    with sso_server.db() as session:
        staff_service.create_or_update(
            session, "lead@heard.example.org", [Role.SAFEGUARDING_LEAD], display_name="Lee"
        )
    page.goto(f"{sso_server.url}/staff/sign-in")
    assert page.url.startswith(sso_server.settings.oidc_issuer or "")
    _log_in_at_provider(page, "lead@heard.example.org")
    _back_at_heard(page, f"{sso_server.url}/staff")
    assert page.locator("h1").inner_text() == "Hello, Lee"
    check_page(page)
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{sso_server.url}/staff/signed-out")
    check_page(page)


def test_an_unknown_email_is_turned_away_kindly_in_chromium(sso_server: LiveServer, sso_page):
    page = sso_page
    page.goto(f"{sso_server.url}/staff/sign-in")
    _log_in_at_provider(page, "someone@elsewhere.example")
    _back_at_heard(page, f"{sso_server.url}/auth/oidc/callback*")
    assert page.locator("h1").inner_text() == "We could not find your staff account"
    check_page(page)


def test_a_failed_sign_in_page(sso_server: LiveServer, sso_page):
    page = sso_page
    page.goto(f"{sso_server.url}/auth/oidc/callback?code=x&state=y")
    assert page.locator("h1").inner_text() == "Sign-in did not work"
    check_page(page)


def test_sign_in_page_when_the_provider_cannot_be_reached(
    tmp_path_factory: pytest.TempPathFactory, sso_page: Any
):
    """Single sign-on is set up, but the provider is down: a kind page, not an error."""
    dead_issuer = f"http://127.0.0.1:{free_port()}"
    oidc._discovery.clear()
    with live_server(
        tmp_path_factory.mktemp("sso-down"),
        free_port(),
        oidc_issuer=dead_issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    ) as server:
        response = sso_page.goto(f"{server.url}/auth/oidc/start")
        assert response is not None and response.status == 503
        assert sso_page.locator("h1").inner_text() == "Sign-in did not work"
        check_page(sso_page)
    oidc._discovery.clear()
