"""The fixes for what an adversarial review found (issue 9): each test failed before its fix.

1. A development server reachable by others handed out staff sign-in links at /dev/mail.
2. "You are already signed up" told anyone whether an address goes to a workshop.
3. One address could be sent any number of emails.
4. Using a class's join code over and over locked the class out.
5. A bogus draft answer broke every later page; a huge id in an address was a 500.
6. Guessable secrets, unverified OpenID emails (see test_oidc.py), endless staff sessions.
7. Messages like "sent to 500 people" could be faked with the address.
8. Several email checks, each with its own words.
"""

from __future__ import annotations

import ast
import logging
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.config import Settings
from app.main import create_app
from app.models import Role, SignUp, SignUpDraft, WebSession
from app.ratelimit import RateLimits
from app.security import token_hash
from app.services import outbox, signups
from tests.conftest import Client
from tests.factories import COOKIE, make_participant, make_staff, sign_in
from tests.test_signup import emails_to, sign_up_through

# --- 1. development mode ---------------------------------------------------------------


@pytest.fixture
def development_app(tmp_path: Path, connection: Any, engine: Any, clock: Any) -> Any:
    from sqlmodel import Session

    from app.deps import get_now

    settings = Settings(
        env="development",
        database_url="sqlite:///unused.db",
        secret_key="development-secret-for-tests-0123456789abcdef",
        mail_dir=tmp_path / "mail",
        base_url="http://127.0.0.1:8000",
    )
    application = create_app(settings, engine=engine)
    application.state.open_session = lambda write: Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    application.state.rate_limits = RateLimits(None)
    application.dependency_overrides[get_now] = clock
    return application


def _visit(app: Any, path: str, address: str, **headers: str) -> int:
    with TestClient(app, client=(address, 51000), follow_redirects=False) as browser:
        return browser.get(path, headers=headers).status_code


def test_dev_mail_answers_only_this_machine(development_app, session, clock):
    sent = outbox.queue(session, to="kai@example.org", subject="Hi", body="Hello", now=clock.now)
    session.commit()
    assert sent is not None
    for path in ("/dev/mail", f"/dev/mail/{sent.id}"):
        assert _visit(development_app, path, "127.0.0.1") == 200
        assert _visit(development_app, path, "127.8.9.10") == 200
        assert _visit(development_app, path, "::1") == 200
        # Anyone else, and anything a proxy or tunnel passed on, finds nothing there.
        assert _visit(development_app, path, "192.168.1.20") == 404
        assert _visit(development_app, path, "2001:db8::1") == 404
        assert _visit(development_app, path, "testclient") == 404
        assert _visit(development_app, path, "127.0.0.1", **{"X-Forwarded-For": "1.2.3.4"}) == 404
        assert _visit(development_app, path, "127.0.0.1", Forwarded="for=1.2.3.4") == 404


@pytest.fixture
def heard_env(monkeypatch):
    """Set HEARD_* for `heard` commands (which read the environment), and put it all back."""
    from app.config import get_settings

    monkeypatch.setenv("HEARD_WEB_WORKERS", "1")  # `serve` sets it: restored afterwards
    monkeypatch.setenv("HEARD_SECRET_KEY", "development-secret-for-tests-0123456789")

    def use(env: str) -> None:
        monkeypatch.setenv("HEARD_ENV", env)
        get_settings.cache_clear()

    yield use
    get_settings.cache_clear()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "heard.example.org"])
def test_a_development_server_refuses_to_listen_beyond_this_machine(monkeypatch, heard_env, host):
    import uvicorn
    from typer.testing import CliRunner

    from app import cli

    started: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(k["host"]))
    heard_env("development")
    runner = CliRunner()
    refused = runner.invoke(cli.cli, ["serve", "--host", host])
    assert refused.exit_code == 2 and started == []
    assert "Refusing to listen" in refused.output and "--allow-remote-dev" in refused.output
    allowed = runner.invoke(cli.cli, ["serve", "--host", host, "--allow-remote-dev"])
    assert allowed.exit_code == 0 and started == [host]
    for local in ("127.0.0.1", "localhost", "::1"):
        assert runner.invoke(cli.cli, ["serve", "--host", local]).exit_code == 0
    # Test (or production) settings may listen anywhere: that is what a server is for.
    heard_env("test")
    assert runner.invoke(cli.cli, ["serve", "--host", host]).exit_code == 0


def test_production_refuses_to_start_without_a_mail_server():
    strong = secrets.token_urlsafe(48)
    with pytest.raises(ValueError, match="HEARD_SMTP_HOST must be set in production"):
        Settings(env="production", secret_key=strong, smtp_host=None)
    assert Settings(env="production", secret_key=strong, smtp_host="smtp.example.org")
    assert Settings(env="development", smtp_host=None)  # files in var/mail/, for trying it out


# --- 2. who attends what -------------------------------------------------------------------


def _without_tokens(html: str) -> str:
    html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
    return re.sub(r'name="csrf-token" content="[^"]*"', "", html)


def test_signing_up_again_with_someones_address_looks_exactly_like_a_new_sign_up(
    app, client, session, make_workshop
):
    workshop = make_workshop(title="A care-experienced group")
    first = sign_up_through(client, workshop, email="sky@example.org")
    with Client(app, base_url="http://testserver", follow_redirects=False) as stranger:
        again = sign_up_through(stranger, workshop, email="SKY@example.org")
        assert again.status_code == first.status_code == 303
        assert again.headers["location"] == first.headers["location"]
        assert first.headers["location"] == f"/workshops/{workshop.slug}/sign-up/sent"
        mine, theirs = (
            client.get(first.headers["location"]),
            stranger.get(again.headers["location"]),
        )
        assert mine.status_code == theirs.status_code == 200
        assert _without_tokens(mine.text) == _without_tokens(theirs.text)
        assert "Check your email" in theirs.text and "already" not in theirs.text
        # Both drafts are used up: going back shows nothing either.
        back = f"/workshops/{workshop.slug}/sign-up/check"
        assert client.get(back).headers["location"] == stranger.get(back).headers["location"]
    rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).all()
    assert len(rows) == 1
    # The owner of the address is told, by email.
    subjects = [e.subject for e in emails_to(session, "sky@example.org")]
    assert any(s.startswith("You have a place") for s in subjects)
    assert any(s.startswith("You are already signed up") for s in subjects)


# --- 3. email bombing ----------------------------------------------------------------------


def test_one_mailbox_gets_at_most_its_share_of_email_however_it_is_written(session, clock, caplog):
    outbox.limit_per_recipient("10/hour")
    spellings = ["victim@example.org", "Victim@Example.org", "victim+1@example.org"]
    with caplog.at_level(logging.WARNING, logger="heard.outbox"):
        queued = [
            outbox.queue(session, to=spellings[n % 3], subject=f"n{n}", body="x", now=clock.now)
            for n in range(15)
        ]
    assert sum(1 for q in queued if q is not None) == 10
    assert queued[10:] == [None] * 5
    # Said in the log, without the address.
    held = [r for r in caplog.records if getattr(r, "event", None) == "outbox.recipient_limit"]
    assert len(held) == 5
    assert not any("victim" in r.getMessage().lower() or "victim" in str(r.__dict__) for r in held)
    # Someone else is not affected; an hour later the victim can be emailed again.
    assert outbox.queue(session, to="other@example.org", subject="s", body="b", now=clock.now)
    later = clock.advance(minutes=61)
    assert outbox.queue(session, to="victim@example.org", subject="s", body="b", now=later)


def test_signing_someone_up_for_every_workshop_sends_them_only_their_share(
    client, session, make_workshop, app
):
    outbox.limit_per_recipient(app.state.settings.mail_rate_per_recipient)
    limit = int(app.state.settings.mail_rate_per_recipient.split("/")[0])
    workshops = [make_workshop(title=f"Workshop {n}") for n in range(limit + 3)]
    for workshop in workshops:
        client.cookies.clear()
        done = sign_up_through(client, workshop, email="victim@example.org")
        # The page is the same whether or not the email went.
        assert done.headers["location"] == f"/workshops/{workshop.slug}/sign-up/sent"
    assert len(emails_to(session, "victim@example.org")) == limit


def test_the_organisations_own_inbox_is_not_limited(client, session, settings):
    outbox.limit_per_recipient("2/hour")
    try:
        for n in range(4):
            response = client.submit("/contact", {"topic": "question", "message": f"Hi {n}"})
            assert response.status_code == 303
        assert len(emails_to(session, settings.contact_email)) == 4
    finally:
        outbox.limit_per_recipient(settings.mail_rate_per_recipient)


# --- 4. join codes -------------------------------------------------------------------------


def test_using_a_right_code_over_and_over_locks_out_only_that_address(
    app, settings, make_workshop, clock
):
    settings.join_rate_per_code = "5/minute"
    today = make_workshop(starts_at=clock.now + timedelta(minutes=10))

    def browser(address: str) -> Client:
        return Client(
            app, base_url="http://testserver", client=(address, 40000), follow_redirects=False
        )

    with browser("203.0.113.66") as pest:
        token = pest.csrf("/join")
        uses = [
            pest.post("/join", data={"code": today.join_code, "csrf_token": token}).status_code
            for _ in range(8)
        ]
        assert uses[:5] == [303] * 5 and set(uses[5:]) == {429}
    with browser("198.51.100.20") as school:  # the class, on the school's address
        token = school.csrf("/join")
        for _ in range(5):
            entry = school.post("/join", data={"code": today.join_code, "csrf_token": token})
            assert entry.status_code == 303
    with browser("198.51.100.99") as guesser:  # wrong codes from one address still count
        token = guesser.csrf("/join")
        per_ip = int(settings.join_rate_per_ip.split("/")[0])
        wrong = [
            guesser.post("/join", data={"code": "ZZZZZZ", "csrf_token": token}).status_code
            for _ in range(per_ip + 1)
        ]
        assert wrong[:per_ip] == [200] * per_ip and wrong[-1] == 429


# --- 5. bad draft values, huge ids ---------------------------------------------------------


def test_a_choice_that_is_not_one_of_the_choices_is_never_kept(client, session, make_workshop):
    workshop = make_workshop()
    base = f"/workshops/{workshop.slug}/sign-up"
    client.submit(f"{base}/name", {"display_name": "Sky"})
    bogus = client.submit(f"{base}/age", {"age_band": "bogus"})
    assert bogus.status_code == 200 and "Choose how old you are" in bogus.text
    draft = session.exec(select(SignUpDraft).where(SignUpDraft.workshop_id == workshop.id)).one()
    assert "age_band" not in draft.answers and draft.answers["display_name"] == "Sky"
    for step in [*signups.STEP_ORDER, "check"]:  # (404: a question this workshop doesn't ask)
        assert client.get(f"{base}/{step}").status_code in {200, 303, 404}, step
    # Text that needs fixing is still kept (nothing typed is lost).
    client.submit(f"{base}/contact", {"whose": "mine", "email": "not an email"})
    assert 'value="not an email"' in client.get(f"{base}/contact").text


def test_a_bad_value_already_in_a_draft_is_dropped_never_a_500(
    client, session, settings, make_workshop, clock
):
    workshop = make_workshop()
    base = f"/workshops/{workshop.slug}/sign-up"
    client.get(base + "/name")
    key = signups.browser_key(settings, client.cookies[COOKIE])
    session.add(
        SignUpDraft(
            browser_key=key,
            workshop_id=workshop.id,
            created_at=clock.now,
            answers={
                "display_name": "Sky",
                "age_band": "bogus",
                "whose": 7,
                "email": ["not", "text"],
                "agree": "yes",  # should be a list
                "made_up": "x",
            },
        )
    )
    session.commit()
    for step in [*signups.STEP_ORDER, "check"]:
        assert client.get(f"{base}/{step}").status_code in {200, 303, 404}, step
    assert client.get(f"{base}/check").headers["location"] == f"{base}/age"
    assert client.submit(f"{base}/age", {"age_band": "16_17"}).status_code == 303
    assert 'value="Sky"' in client.get(f"{base}/name").text


# Ids are INTEGER: 32 bits on PostgreSQL, 64 on SQLite. Past either, "not found".
HUGE = ["99999999999999999999", str(2**63), str(2**31), "9" * 400]


def test_ids_too_large_for_the_database_are_not_found(client, session, clock, make_workshop):
    admin = make_staff(session, Role.ADMIN)
    workshop = make_workshop()
    session.commit()
    sign_in(client, session, staff=admin, now=clock.now)
    token = client.csrf("/staff")
    for huge in HUGE:
        for path in (
            f"/staff/workshops/{huge}",
            f"/staff/workshops/{huge}/edit",
            f"/staff/people/{huge}",
        ):
            response = client.get(path)
            assert response.status_code == 404 and "Page not found" in response.text, path
        for path in (
            f"/staff/people/{huge}/deactivate",
            f"/staff/workshops/{workshop.id}/sign-ups/{huge}/check-in",
        ):
            posted = client.post(path, data={"csrf_token": token})
            assert posted.status_code == 404 and "Page not found" in posted.text, path
    # The largest id the databases hold is simply not found too.
    assert client.get(f"/staff/workshops/{2**31 - 1}").status_code == 404
    assert client.get(f"/staff/workshops/{workshop.id}").status_code == 200
    me = make_participant(session)
    session.commit()
    sign_in(client, session, participant=me, now=clock.now)
    token = client.csrf("/me")
    response = client.post(f"/me/consents/{HUGE[0]}/withdraw", data={"csrf_token": token})
    assert response.status_code == 404


# --- 6. secrets and staff sessions (OpenID Connect: tests/test_oidc.py) ------------------


@pytest.mark.parametrize(
    "secret",
    ["a" * 32, "a" * 64, "abc" * 11, "changeme" * 4, "password1234" * 3, "0123456789" * 4],
)
def test_production_refuses_a_long_but_guessable_secret(secret):
    with pytest.raises(ValueError, match="HEARD_SECRET_KEY"):
        Settings(env="production", secret_key=secret, smtp_host="smtp.example.org")


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(32)])
def test_production_takes_a_random_secret(make):
    for _ in range(50):
        assert Settings(env="production", secret_key=make(), smtp_host="smtp.example.org")


def test_a_staff_session_ends_after_its_absolute_lifetime_however_busy(
    client, session, clock, settings
):
    assert settings.staff_session_hours == 12
    member = make_staff(session, Role.MODERATOR)
    started = clock.now
    sign_in(client, session, staff=member, now=clock.now)
    while clock.now < started + timedelta(hours=11, minutes=40):
        clock.advance(minutes=20)
        assert client.get("/staff").status_code == 200, clock.now - started
    # "Stay signed in" can't go past the end: the countdown shows the real end.
    token = client.csrf("/staff")
    clock.advance(minutes=10)
    extended = client.post(
        "/staff/session/extend", headers={"X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert extended.status_code == 200
    assert extended.json()["seconds_left"] == 10 * 60
    clock.advance(minutes=10)
    response = client.get("/staff")
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/sign-in")


def test_the_absolute_end_holds_for_a_session_read_from_the_cache(client, session, clock):
    member = make_staff(session, Role.MODERATOR)
    token = sign_in(client, session, staff=member, now=clock.now)
    row = session.get(WebSession, token_hash(token))
    assert row is not None
    row.created_at = clock.now - timedelta(hours=12) + timedelta(seconds=30)
    session.add(row)
    session.commit()
    assert client.get("/staff").status_code == 200  # now in the read cache
    clock.advance(seconds=40)  # not idle, not due a touch: the cached copy would do
    assert client.get("/staff").status_code == 303


# --- 7. flash messages ---------------------------------------------------------------------


def test_what_just_happened_comes_from_the_server_never_the_address(
    client, session, clock, make_workshop
):
    admin = make_staff(session, Role.ADMIN)
    workshop = make_workshop()
    session.commit()
    sign_in(client, session, staff=admin, now=clock.now)
    page = f"/staff/workshops/{workshop.id}"
    faked = client.get(f"{page}?sent=500&reserved=given&started=1&start=refused")
    assert "on its way to" not in faked.text and "reserved place is given" not in faked.text
    assert "has started" not in faked.text and "You can start only" not in faked.text
    assert "Roles saved" not in client.get(f"/staff/people/{admin.id}?done=roles").text
    assert "Invitation sent" not in client.get(f"/staff/people/{admin.id}?invited=1").text

    sent = client.submit(
        f"{page}/message",
        {"to": "places", "subject": "See you soon", "message": "Bring a coat."},
        page=f"{page}/message",
    )
    assert sent.status_code == 303 and sent.headers["location"] == page
    shown = client.get(page)
    notice = re.search(r'<div class="flash" role="status" data-announce="([^"]+)">', shown.text)
    assert notice and notice.group(1) == "Your message is on its way to 0 people."
    assert "on its way to" not in client.get(page).text  # once

    # A message cookie made by anyone but Heard for this browser is ignored.
    client.cookies.set("heard_flash", "eyJ0IjoiaGkiLCJuIjpudWxsfQ.0000", domain="testserver.local")
    assert 'class="flash"' not in client.get(page).text


def test_a_participants_messages_are_kept_on_the_server_side_too(client, session, clock):
    me = make_participant(session)
    session.commit()
    sign_in(client, session, participant=me, now=clock.now)
    assert "Your details are saved" not in client.get("/me?done=details").text
    assert "We have stopped" not in client.get("/me?done=withdrawn").text


# --- 8. one email check --------------------------------------------------------------------

END = "Check the end of your email address, for example name@gmail.com"


def test_one_email_check_with_one_set_of_words_on_every_form(client, session, clock, make_workshop):
    workshop = make_workshop()
    contact_step = f"/workshops/{workshop.slug}/sign-up/contact"
    forms: list[tuple[str, dict[str, str]]] = [
        (contact_step, {"whose": "mine"}),
        ("/contact", {"topic": "question", "message": "Hello"}),
        ("/staff/sign-in", {}),
        ("/me/sign-in", {}),
    ]
    for path, data in forms:
        response = client.submit(path, {**data, "email": "kai@gmail"})
        assert response.status_code == 200 and END in response.text, path
        response = client.submit(path, {**data, "email": "kai"})
        assert "Enter an email address like name@example.com" in response.text, path
    admin = make_staff(session, Role.ADMIN)
    session.commit()
    sign_in(client, session, staff=admin, now=clock.now)
    invite = client.submit(
        "/staff/people/invite", {"email": "kai@gmail", "display_name": "Kai", "roles": "admin"}
    )
    assert END in invite.text
    reserved = client.submit(
        f"/staff/workshops/{workshop.id}/reserved",
        {"email": "kai@gmail", "display_name": "Kai", "age_band": "16_17", "whose": "mine"},
    )
    assert END in reserved.text


def test_there_is_one_email_check_in_the_code():
    from app import forms

    assert not hasattr(signups, "valid_email")
    root = Path(__file__).resolve().parents[1] / "app"
    for path in root.rglob("*.py"):
        text = path.read_text()
        # Imported from where it is written, never through another module.
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and "valid_email" in {a.name for a in node.names}:
                assert node.module == "app.forms", (path, node.module)
        assert "EmailStr" not in text, path
        if path.name != "forms.py":
            assert "validate_email" not in text, path
    assert forms.valid_email("Kai@Example.ORG") == "Kai@example.org"
