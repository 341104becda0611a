"""The security baseline: headers, CSRF, cookies, sessions and error pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app import routing
from app.config import Settings
from app.main import create_app
from app.models import Role
from app.routing import HeardRoute
from app.security import CSP, SAFE_METHODS, csrf_protect
from tests.factories import make_staff, sign_in


def test_every_response_has_the_security_headers(client):
    for path in ["/", "/contact", "/nope", "/healthz", "/static/css/heard.css"]:
        response = client.get(path)
        assert response.headers["Content-Security-Policy"] == CSP, path
        assert "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Request-Id"]


def test_pages_are_never_cached_and_vary_on_htmx(client):
    response = client.get("/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_the_cookie_is_httponly_and_lax_and_has_no_expiry_for_visitors(client):
    response = client.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("heard_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Max-Age" not in cookie and "expires" not in cookie.lower()
    # A returning browser keeps its cookie: no new one on every page.
    assert "set-cookie" not in client.get("/").headers


def test_production_cookie_is_host_prefixed_and_secure(production_settings, engine):
    app = create_app(production_settings, engine=engine)
    with TestClient(app, base_url="https://heard.example.org") as c:
        response = c.get("/healthz")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-heard=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert "max-age=63072000" in response.headers["Strict-Transport-Security"]


@pytest.mark.parametrize("secret", ["", "changeme", "short-secret"])
def test_production_refuses_a_missing_or_weak_secret(secret):
    with pytest.raises(ValueError, match="HEARD_SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_post_without_a_csrf_token_is_refused(client):
    client.get("/contact")
    response = client.post("/contact", data={"topic": "other", "message": "hello"})
    assert response.status_code == 403
    assert "You cannot see this page" in response.text


def test_post_with_a_wrong_csrf_token_is_refused(client):
    client.get("/contact")
    response = client.post(
        "/contact", data={"csrf_token": "x" * 64, "topic": "other", "message": "hi"}
    )
    assert response.status_code == 403


def test_a_token_from_another_browser_is_refused(app):
    with TestClient(app) as first, TestClient(app) as second:
        page = first.get("/contact").text
        token = page.split('name="csrf-token" content="')[1].split('"')[0]
        second.get("/contact")
        response = second.post(
            "/contact", data={"csrf_token": token, "topic": "other", "message": "hi"}
        )
    assert response.status_code == 403


def test_cross_site_post_is_refused_even_with_a_token(client):
    token = client.csrf("/contact")
    data = {"csrf_token": token, "topic": "other", "message": "hi"}
    assert (
        client.post("/contact", data=data, headers={"Origin": "https://evil.example"}).status_code
        == 403
    )
    assert (
        client.post("/contact", data=data, headers={"Sec-Fetch-Site": "cross-site"}).status_code
        == 403
    )


def test_htmx_sends_the_token_as_a_header(client):
    token = client.csrf("/contact")
    response = client.post(
        "/contact",
        data={"topic": "other", "message": "From HTMX"},
        headers={"X-CSRF-Token": token, "HX-Request": "true", "HX-Target": "contact-form"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/contact/sent?reference=C-")


# Writes that take no CSRF token, each marked `@routing.token_is_the_key`: the secret token
# in the address is the key. A new one fails the test below until it is listed here.
CSRF_EXEMPT = {("POST", "/unsubscribe/{token}")}


def _heard_routes(app) -> list[HeardRoute]:
    """Every route, out of the routers included whole (older FastAPI copied them onto the app)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        found = list(app.routes)
    else:
        found = [rc.original_route for rc in iter_route_contexts(app.routes)]
    return [route for route in found if isinstance(route, HeardRoute)]


def test_every_write_checks_csrf_but_the_declared_few(app, client):
    routes = _heard_routes(app)
    assert len(routes) > 40  # the walk found the routes (it once found none, and passed)
    client.get("/")  # a browser with a cookie, but a request with no CSRF token
    exempt = set()
    for route in routes:
        checked = any(d.call is csrf_protect for d in route.dependant.dependencies)
        assert checked == route.checks_csrf, route.path
        for method in sorted(route.methods - SAFE_METHODS):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            refused = client.request(method, path).status_code == 403
            assert refused == checked, f"{method} {route.path}: {refused=}, {checked=}"
            if not checked:
                assert getattr(route.endpoint, "token_is_the_key", False), route.path
                exempt.add((method, route.path))
    assert exempt == CSRF_EXEMPT


def test_a_token_route_must_have_a_token_in_its_address():
    with pytest.raises(ValueError, match="token_is_the_key"):
        routing.router().post("/contact")(routing.token_is_the_key(lambda: None))


def test_not_found_page_is_friendly_and_leaks_nothing(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "Traceback" not in response.text
    assert 'id="main-content"' in response.text


def test_wrong_types_in_a_url_are_a_friendly_404(client):
    response = client.get("/dev/mail/not-a-number")
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_server_error_page_is_friendly_and_has_the_headers(app):
    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("secret detail")

    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/boom-for-test")
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.text
    assert "secret detail" not in response.text
    assert response.headers["Content-Security-Policy"] == CSP


def test_too_many_requests_page(client, app):
    app.state.rate_limits.hit("1/minute", "join-ip", "testclient-key")
    token = client.csrf("/join")
    for _ in range(25):
        response = client.post("/join", data={"csrf_token": token, "code": "ABCDEF"})
    assert response.status_code == 429
    assert "Please wait a moment" in response.text
    assert response.headers["Retry-After"] == "60"


def test_staff_pages_send_anonymous_people_to_sign_in(client):
    response = client.get("/staff")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/sign-in"


def test_sign_out_ends_the_server_side_session(client, session):
    member = make_staff(session, Role.ADMIN)
    old = sign_in(client, session, staff=member)
    assert client.get("/staff").status_code == 200
    response = client.submit("/staff/sign-out", page="/staff")
    assert response.status_code == 303
    assert client.cookies.get("heard_session") != old
    client.cookies.clear()
    client.cookies.set("heard_session", old, domain="testserver.local")
    assert client.get("/staff").status_code == 303


def test_staff_session_times_out_after_being_idle(client, session, clock):
    member = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=member, now=clock.now)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=20)
    assert client.get("/staff").status_code == 200  # activity extends the session
    clock.advance(minutes=29)
    assert client.get("/staff").status_code == 200
    clock.advance(minutes=31)
    assert client.get("/staff").status_code == 303
