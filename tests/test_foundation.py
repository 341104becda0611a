"""The foundation: the form pattern, hostile input, outbox, audit, health, CLI, logs, migrations."""

from __future__ import annotations

import email
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, select
from typer.testing import CliRunner

from app import cli as heard_cli
from app.config import get_settings
from app.db import make_engine, metadata, session_factory
from app.log import JsonFormatter, request_id_var
from app.models import AuditEntry, ContactMessage, OutboxEmail, Programme, Workshop
from app.ratelimit import RateLimits
from app.services import audit, outbox
from app.timefmt import in_words
from tests.conftest import REDIS_URL, require, shared_fixture

ROOT = Path(__file__).resolve().parents[1]


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


# The one form pattern, on the contact form ------------------------------------------------


def test_contact_form_errors_keep_what_was_typed(client):
    response = client.submit("/contact", {"name": "Sam <b>", "message": ""})
    assert response.status_code == 200
    page = response.text
    assert "<title>Error: Contact us – Heard</title>" in page
    assert "There is a problem" in page
    assert '<a href="#topic">Choose what your message is about</a>' in page
    assert '<a href="#message">Enter your message</a>' in page
    assert 'value="Sam &lt;b&gt;"' in page
    assert 'aria-describedby="message-hint message-error message-count"' in page


def test_contact_form_success_is_post_redirect_get_and_queues_one_email(client, session):
    response = client.submit(
        "/contact", {"topic": "question", "message": "How do I join?", "email": "a@example.org"}
    )
    assert response.status_code == 303
    location = response.headers["location"]
    reference = location.split("reference=")[1]
    assert re.fullmatch(r"C-[A-Z2-9]{6}", reference)
    assert reference in client.get(location).text
    stored = session.exec(select(ContactMessage).where(ContactMessage.reference == reference)).one()
    queued = session.exec(select(OutboxEmail).where(OutboxEmail.subject.contains(reference))).one()
    assert stored.message == "How do I join?"
    assert queued.to_address == "team@heard.example.org"


def test_htmx_errors_swap_only_the_form_block(client):
    token = client.csrf("/contact")
    response = client.post(
        "/contact",
        data={"message": ""},
        headers={"X-CSRF-Token": token, "HX-Request": "true", "HX-Target": "contact-form"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="contact-form"')
    assert "<html" not in response.text
    assert "There is a problem" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_a_whole_page_for_htmx_requests_without_a_known_target(client):
    response = client.get("/contact", headers={"HX-Request": "true", "HX-Target": "elsewhere"})
    assert "<html" in response.text


def test_too_long_message_is_explained_and_kept(client):
    text = "a" * 2500
    response = client.submit("/contact", {"topic": "other", "message": text})
    assert "Your message must be 2,000 characters or fewer" in response.text
    assert text in response.text
    assert "You have 500 characters too many" in response.text


@pytest.mark.parametrize("path", ["/contact", "/join", "/staff/sign-in"])
def test_hostile_input_is_never_a_500_and_is_shown_back_escaped(client, path):
    fields = {"/contact": ["name", "email", "message"], "/join": ["code"]}.get(path, ["email"])
    for value in hostile_inputs():
        data = {name: value for name in fields}
        data["topic"] = value  # a wrong value for a radio
        response = client.submit_raw(path, data)
        assert response.status_code in {200, 303, 429}, (path, value, response.status_code)
        assert "<script>alert(1)</script>" not in response.text
        assert "onerror=alert(1)>" not in response.text
        assert '<div hx-get="/admin"' not in response.text
        assert "49" not in re.findall(r"value=\"([^\"]*)\"", response.text)


def test_wrong_types_and_missing_fields_get_kind_messages(client):
    response = client.submit("/contact", {"topic": ["question", "other"], "message": ["a", "b"]})
    assert response.status_code in {200, 303}
    response = client.submit("/contact", {})
    assert "Choose what your message is about" in response.text


def test_a_replayed_form_does_not_break(client):
    data = {"topic": "question", "message": "Same message twice"}
    first = client.submit("/contact", data)
    second = client.submit("/contact", data)
    assert first.status_code == second.status_code == 303


def test_control_characters_and_nul_bytes_are_removed(client, session):
    response = client.submit("/contact", {"topic": "other", "message": "null\x00byte \u202eevil"})
    assert response.status_code == 303
    reference = response.headers["location"].split("reference=")[1]
    stored = session.exec(select(ContactMessage).where(ContactMessage.reference == reference)).one()
    assert stored.message == "nullbyte evil"


def test_every_post_form_in_every_template_carries_a_csrf_token():
    missing = []
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        text = template.read_text()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, flags=re.S | re.I):
            opening = form[: form.index(">") + 1].lower()
            if 'method="post"' in opening and "csrf" not in form:
                missing.append(template.name)
    assert not missing, f"POST forms without {{{{ csrf() }}}}: {missing}"


def test_no_inline_script_style_or_handlers_in_templates():
    for template in (ROOT / "app" / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\sstyle=\"", text), template
        assert not re.search(r"\son[a-z]+=\"", text), template
        assert "|safe" not in text.replace(" ", ""), template


# Outbox -----------------------------------------------------------------------------------


def _open(session: Session):
    """Sessions on the test's own connection, as the app's sender opens them."""
    connection = session.connection()

    def open_session(write: bool) -> Session:
        return Session(bind=connection, join_transaction_mode="create_savepoint")

    return open_session


def _reload(session: Session, row: OutboxEmail) -> OutboxEmail:
    session.expire_all()
    found = session.get(OutboxEmail, row.id)
    assert found is not None
    return found


def test_outbox_writes_eml_files_when_no_smtp_host(session, settings):
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    queued = outbox.queue(
        session,
        to="a@example.org",
        subject="Hello",
        body="Body text",
        now=now,
        attachments=(outbox.Attachment("w.ics", "text/calendar", b"BEGIN:VCALENDAR"),),
    )
    session.commit()
    sent, failed = outbox.send_due_blocking(_open(session), settings, now)
    assert (sent, failed) == (1, 0)
    assert queued is not None
    path = Path(settings.mail_dir) / f"{queued.id:08d}.eml"
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "a@example.org"
    assert message["Subject"] == "Hello"
    names = [part.get_filename() for part in message.walk() if part.get_filename()]
    assert names == ["w.ics"]
    assert _reload(session, queued).status == "sent"
    # Running again sends nothing more.
    assert outbox.send_due_blocking(_open(session), settings, now) == (0, 0)


def test_outbox_retries_with_backoff_then_gives_up(session, settings, monkeypatch):
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    queued = outbox.queue(session, to="a@example.org", subject="S", body="B", now=now)
    session.commit()
    assert queued is not None

    async def broken(*args: object) -> None:
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(outbox, "deliver", broken)
    assert outbox.send_due_blocking(_open(session), settings, now) == (0, 1)
    queued = _reload(session, queued)
    assert queued.status == "pending"
    assert queued.next_attempt_at == now + timedelta(minutes=1)
    assert queued.last_error == "ConnectionRefusedError"
    # Not due again until the backoff has passed.
    assert outbox.send_due_blocking(_open(session), settings, now) == (0, 0)
    when = now
    for _ in range(outbox.MAX_ATTEMPTS - 1):
        when += timedelta(days=1)
        outbox.send_due_blocking(_open(session), settings, when)
    queued = _reload(session, queued)
    assert queued.status == "failed"
    assert queued.attempts == outbox.MAX_ATTEMPTS


def test_backoff_doubles_and_is_capped():
    assert [outbox.backoff(n).total_seconds() / 60 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert outbox.backoff(30) == timedelta(days=1)


def test_outbox_dedupe_key_queues_once(session):
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    first = outbox.queue(
        session, to="a@example.org", subject="S", body="B", now=now, dedupe_key="k"
    )
    again = outbox.queue(
        session, to="a@example.org", subject="S", body="B", now=now, dedupe_key="k"
    )
    assert first is not None and again is None


# Audit ----------------------------------------------------------------------------------------


def test_audit_entries_record_who_what_which_and_the_request(session):
    token = request_id_var.set("req-123")
    try:
        entry = audit.record(session, None, "thing.done", record_type="workshop", record_id=7, n=1)
    finally:
        request_id_var.reset(token)
    stored = session.get(AuditEntry, entry.id)
    assert stored is not None
    assert (stored.actor_type, stored.action, stored.record_type, stored.record_id) == (
        "system",
        "thing.done",
        "workshop",
        "7",
    )
    assert stored.request_id == "req-123"
    assert stored.detail == {"n": 1}


def test_staff_sign_in_and_out_are_audited(client, session):
    from app.models import Role
    from tests.factories import make_staff, sign_in

    member = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=member)
    client.submit("/staff/sign-out", page="/staff")
    actions = session.exec(select(AuditEntry.action).where(AuditEntry.actor_id == member.id)).all()
    assert "staff.signed_out" in actions


# Health ---------------------------------------------------------------------------------------


def test_health_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok"}


def test_readyz_says_when_the_database_is_unreachable(app, client, tmp_path):
    app.state.engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


# Logs -----------------------------------------------------------------------------------------


def test_logs_are_json_with_a_request_id_and_drop_personal_extras():
    record = logging.LogRecord("heard", logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update(path="/contact", status=200, email="a@example.org", body="secret")
    token = request_id_var.set("abc")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "abc"
    assert line["path"] == "/contact"
    assert "email" not in line and "body" not in line


def test_request_logs_never_hold_form_bodies_or_emails(client, caplog):
    caplog.set_level(logging.INFO)
    client.submit("/contact", {"topic": "other", "message": "private words", "email": "x@y.org"})
    text = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "private words" not in text
    assert "x@y.org" not in text


# Rate limits through Redis ---------------------------------------------------------------------


def test_rate_limits_are_shared_between_processes_through_redis():
    if not REDIS_URL:
        require("Redis", "HEARD_REDIS_URL is not set")
    namespace = f"heard-test-{datetime.now(UTC).timestamp()}"
    try:
        first = RateLimits(REDIS_URL, namespace=namespace)
        second = RateLimits(REDIS_URL, namespace=namespace)
        first.reset()
    except Exception as exc:
        require("Redis", f"it could not be reached ({type(exc).__name__})")
    assert first.hit("3/minute", "join", "k")
    assert second.hit("3/minute", "join", "k")
    assert first.hit("3/minute", "join", "k")
    assert not second.hit("3/minute", "join", "k")


# Times in words -------------------------------------------------------------------------------


def test_times_are_in_words_in_uk_time():
    assert in_words(datetime(2027, 2, 5, 23, 59, tzinfo=UTC)) == "Friday 5 February at 11:59pm"
    assert in_words(datetime(2026, 7, 1, 11, 0, tzinfo=UTC)) == "Wednesday 1 July at midday"


# Migrations -----------------------------------------------------------------------------------


def test_migrations_match_the_models(engine):
    """`alembic check` on every backend: the schema is exactly what the models say."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"}
        )
        diff = compare_metadata(context, metadata)
    assert diff == []


# The heard command ----------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("HEARD_DATABASE_URL", url)
    monkeypatch.setenv("HEARD_ENV", "development")
    monkeypatch.setenv("HEARD_SECRET_KEY", "cli-test-secret-" + "x" * 40)
    monkeypatch.setenv("HEARD_MAIL_DIR", str(tmp_path / "mail"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_cli_upgrade_demo_create_staff_and_jobs(cli_env):
    runner = CliRunner()
    assert runner.invoke(heard_cli.cli, ["db", "upgrade"]).exit_code == 0
    for _ in range(2):
        result = runner.invoke(heard_cli.cli, ["demo"])
        assert result.exit_code == 0, result.output
    with session_factory(make_engine(cli_env))(False) as session:
        assert len(session.exec(select(Programme)).all()) == 1
        assert len(session.exec(select(Workshop)).all()) >= 1
    result = runner.invoke(
        heard_cli.cli, ["create-staff", "lead@example.org", "--role", "safeguarding_lead"]
    )
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/staff/sign-in/link\?token=[\w-]{43}", last)
    result = runner.invoke(heard_cli.cli, ["jobs", "run"])
    assert result.exit_code == 0, result.output
    assert "emails sent" in result.output


def test_static_files_are_compressed_and_pages_are_not(client):
    headers = {"Accept-Encoding": "gzip"}
    assert (
        client.get("/static/css/heard.css", headers=headers).headers["content-encoding"] == "gzip"
    )
    assert "content-encoding" not in client.get("/", headers=headers).headers


def test_demo_loads_once_and_keeps_the_drop_in_joinable(session):
    from app.services import demo

    first = datetime(2026, 11, 23, 10, tzinfo=UTC)
    demo.load(session, first)
    counts = {m: len(session.exec(select(m)).all()) for m in (Programme, Workshop)}
    later = first + timedelta(days=3)
    demo.load(session, later)
    assert {m: len(session.exec(select(m)).all()) for m in (Programme, Workshop)} == counts
    drop_in = session.exec(select(Workshop).where(Workshop.slug == demo.DROP_IN_SLUG)).one()
    assert later < drop_in.starts_at <= later + timedelta(minutes=15)


@pytest.mark.parametrize("path", ["/me/sign-in", "/staff/sign-in"])
def test_sign_in_links_to_one_address_are_limited_silently(client, session, path):
    from app.models import Role
    from tests.factories import make_participant, make_staff

    make_staff(session, Role.ADMIN, email="lee@example.org")
    make_participant(session, email="lee@example.org")
    session.commit()
    pages = set()
    for _ in range(8):
        response = client.submit(path, {"email": "Lee@Example.org"})
        assert response.status_code == 303
        pages.add(response.headers["location"])
    assert len(pages) == 1  # the same page whether or not an email went
    sent = session.exec(
        select(OutboxEmail).where(OutboxEmail.to_address == "lee@example.org")
    ).all()
    assert len(sent) == 5


def test_pages_show_times_in_the_timezone_people_read_them_in(app, client, session):
    from app.models import Call

    app.state.settings.timezone = "America/New_York"
    call = session.exec(select(Call)).first()
    if call is None:
        from app.services import demo

        demo.load(session, datetime(2026, 11, 23, 10, tzinfo=UTC))
        session.commit()
        call = session.exec(select(Call)).one()
    page = client.get("/").text
    assert f"Open until {in_words(call.closes_at, 'America/New_York')}" in page
