"""Personal-data rights from the registry alone: every person-linked table is declared, and
export, erasure and retention cover every declared table."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Table, func
from sqlmodel import SQLModel, col, select

from app.db import metadata
from app.models import (
    AuditEntry,
    ConsentPurpose,
    ContactMessage,
    OutboxEmail,
    Participant,
    Role,
    SignInToken,
    StaffUser,
    WebSession,
)
from app.personal_data import declarations, declared_models
from app.services import audit, consent, identity, my_data, outbox, retention
from app.services.identity import Identity
from tests.factories import make_participant, make_staff, sign_in

PEOPLE = {"participant": "participant", "staff_user": "staff"}


def _model_for(table: Table) -> type[SQLModel] | None:
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    return None


def test_every_table_that_points_at_a_person_declares_its_personal_data():
    missing = []
    for table in metadata.sorted_tables:
        model = _model_for(table)
        declared = {(d.subject, d.link) for d in declarations(model)} if model else set()
        links = [
            (PEOPLE[fk.column.table.name], fk.parent.name)
            for fk in table.foreign_keys
            if fk.column.table.name in PEOPLE
        ]
        if table.name in PEOPLE:
            links.append((PEOPLE[table.name], "id"))
        for subject, column in links:
            if (subject, column) not in declared:
                missing.append(f"{table.name}.{column} ({subject})")
    assert not missing, f"declare personal data for: {missing}"


def test_declarations_name_real_columns():
    for model in declared_models():
        columns = set(model.__table__.columns.keys())  # type: ignore[attr-defined]
        for decl in declarations(model):
            names = {decl.link, *decl.fields, *decl.where}
            if decl.retention is not None or decl.retention_setting:
                names.add(decl.retention_from)
            assert names <= columns, (model.__tablename__, names - columns)


def _everything_about(session, person: Participant, clock) -> None:
    """A row in every participant table Heard's own features have (others add theirs)."""
    consent.give_current(session, person, ConsentPurpose.TAKE_PART, clock.now)
    session.add(
        ContactMessage(
            reference=f"C-T{person.id:05d}"[:12],
            topic="other",
            message="Hello from me",
            email="me@example.org",
            participant_id=person.id,
        )
    )
    identity.issue_link_token(session, clock.now, timedelta(minutes=15), "x", participant=person)
    identity.start_session(
        session,
        f"tok-{person.id}-abcdefghijklmnop",
        clock.now,
        timedelta(days=1),
        participant=person,
    )
    outbox.queue(
        session, to="me@example.org", subject="s", body="b", now=clock.now, participant_id=person.id
    )
    audit.record(session, Identity(participant=person), "participant.did_something")
    session.flush()


def _linked_rows(session, person_id: int, subject: str = "participant") -> dict[str, int]:
    counts = {}
    for model in declared_models():
        for decl in declarations(model):
            if decl.subject != subject:
                continue
            query = (
                select(func.count())
                .select_from(model)
                .where(col(getattr(model, decl.link)) == person_id)
            )
            for name, value in decl.where.items():
                query = query.where(col(getattr(model, name)) == value)
            counts[model.__tablename__] = session.exec(query).one()
    return counts


def test_export_covers_every_declared_table(session, clock):
    person = make_participant(session, "Zed", email="zed@example.org")
    _everything_about(session, person, clock)
    sections = {s.table: s for s in my_data.export(session, person.id)}
    expected = {
        m.__tablename__
        for m in declared_models()
        for d in declarations(m)
        if d.subject == "participant" and d.export
    }
    assert set(sections) == expected
    assert sections["participant"].rows[0]["display_name"] == "Zed"
    assert sections["contact_message"].rows[0]["message"] == "Hello from me"
    data = my_data.export_json(session, person.id, clock.now)
    json.dumps(data)  # plain JSON all the way down
    assert data["sections"]["consent"]["records"][0]["purpose"] == "take_part"


def test_download_as_json_and_as_a_readable_page(client, session, clock):
    person = make_participant(session, "Yan", email="yan@example.org")
    _everything_about(session, person, clock)
    sign_in(client, session, participant=person, now=clock.now)
    response = client.get("/me/data.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "attachment" in response.headers["content-disposition"]
    assert response.json()["sections"]["participant"]["records"][0]["display_name"] == "Yan"
    page = client.get("/me/data")
    assert "Everything Heard keeps about you" in page.text and "Hello from me" in page.text
    saved = client.get("/me/data?download=1")
    assert "attachment" in saved.headers["content-disposition"]


def test_erasure_covers_every_declared_table_and_keeps_others_data(session, clock):
    person = make_participant(session, "Xia", email="xia@example.org")
    other = make_participant(session, "Wes", email="wes@example.org")
    _everything_about(session, person, clock)
    _everything_about(session, other, clock)
    before_other = _linked_rows(session, other.id)
    ours = _linked_rows(session, person.id)
    for table in (
        "participant",
        "consent",
        "contact_message",
        "sign_in_token",
        "web_session",
        "outbox_email",
        "audit_entry",
    ):
        assert ours[table] == 1, table
    audit_ids = [
        e.id
        for e in session.exec(
            select(AuditEntry).where(
                AuditEntry.actor_type == "participant", AuditEntry.actor_id == person.id
            )
        )
    ]
    my_data.erase(session, "participant", person.id, reason="test")
    assert not any(_linked_rows(session, person.id).values()), _linked_rows(session, person.id)
    assert session.get(Participant, person.id) is None
    assert _linked_rows(session, other.id) == before_other
    # Audit entries are kept, but no longer say who.
    for entry_id in audit_ids:
        entry = session.get(AuditEntry, entry_id)
        assert entry is not None and entry.actor_id is None
    erased = session.exec(select(AuditEntry).where(AuditEntry.action == "participant.erased")).one()
    assert erased.record_id == str(person.id) and erased.detail["reason"] == "test"


def test_erasing_staff_anonymises_them_and_keeps_the_audit_trail(session, clock):
    member = make_staff(session, Role.MODERATOR, email="leaver@heard.example.org")
    audit.record(session, Identity(staff=member), "staff.did_something")
    my_data.erase(session, "staff", member.id, reason="left")
    session.refresh(member)
    assert member.email == f"removed-{member.id}@invalid" and not member.active
    assert _linked_rows(session, member.id, "staff")["staff_role"] == 0
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "staff.did_something")).one()
    assert entry.actor_id is None and entry.actor_label is None


def test_delete_me_confirms_then_erases_and_signs_out(client, session, clock):
    person = make_participant(session, "Vic", email="vic@example.org")
    person_id = person.id
    _everything_about(session, person, clock)
    sign_in(client, session, participant=person, now=clock.now)
    page = client.get("/me/delete")
    assert "Are you sure you want to delete everything?" in page.text
    assert session.get(Participant, person.id) is not None  # looking deletes nothing
    response = client.submit("/me/delete", page="/me/delete")
    assert response.status_code == 303 and response.headers["location"] == "/me/deleted"
    assert "Everything has been deleted" in client.get("/me/deleted").text
    assert client.get("/me").status_code == 303
    session.expire_all()
    assert session.get(Participant, person_id) is None
    assert not any(_linked_rows(session, person_id).values())


def test_retention_erases_inactive_participants_and_old_rows(session, clock, settings):
    stale = make_participant(session, "Stale")
    fresh = make_participant(session, "Fresh")
    stale.last_active_at = clock.now - timedelta(days=settings.participant_inactive_days + 1)
    fresh.last_active_at = clock.now - timedelta(days=settings.participant_inactive_days - 1)
    session.add_all([stale, fresh])
    _everything_about(session, stale, clock)
    old = audit.record(session, None, "system.old_thing")
    old.at = clock.now - timedelta(days=800)
    old.actor_label = "someone@heard.example.org"
    old.actor_type, old.actor_id = "staff", 12345
    session.add(old)
    old_mail = outbox.queue(
        session, to="x@example.org", subject="s", body="b", now=clock.now - timedelta(days=31)
    )
    session.flush()
    changed = retention.enforce(session, settings, clock.now)
    assert changed > 0
    session.expire_all()
    assert session.get(Participant, stale.id) is None
    assert session.get(Participant, fresh.id) is not None
    assert session.get(OutboxEmail, old_mail.id) is None
    kept = session.get(AuditEntry, old.id)
    assert kept is not None and kept.actor_label is None and kept.actor_id is None
    assert (
        session.exec(select(AuditEntry).where(AuditEntry.action == "participant.erased"))
        .one()
        .detail["reason"]
        == "retention"
    )
    # Running it again changes nothing more.
    assert retention.enforce(session, settings, clock.now) == 0


def test_the_retention_period_is_configurable(session, clock, settings):
    person = make_participant(session, "Short")
    person.last_active_at = clock.now - timedelta(days=40)
    session.add(person)
    session.flush()
    retention.enforce(session, settings, clock.now)
    assert session.get(Participant, person.id) is not None
    settings.participant_inactive_days = 30
    retention.enforce(session, settings, clock.now)
    assert session.get(Participant, person.id) is None


def test_retention_is_registered_with_heard_jobs_run():
    from app.services import jobs

    assert ("retention", retention.enforce) in jobs.REGISTERED


def test_expired_sessions_and_used_links_go(session, clock, settings):
    person = make_participant(session)
    identity.start_session(
        session, "t" * 30, clock.now - timedelta(days=100), timedelta(days=90), participant=person
    )
    identity.issue_link_token(
        session, clock.now - timedelta(days=8), timedelta(minutes=15), "x", participant=person
    )
    member = make_staff(session, Role.ADMIN)
    identity.start_session(
        session, "s" * 30, clock.now - timedelta(days=2), timedelta(minutes=30), staff=member
    )
    session.flush()
    retention.enforce(session, settings, clock.now)
    assert session.exec(select(func.count()).select_from(WebSession)).one() == 0
    assert session.exec(select(func.count()).select_from(SignInToken)).one() == 0
    assert session.get(StaffUser, member.id) is not None


def test_heard_jobs_run_enforces_retention(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from app.cli import upgrade_database

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade_database(url)
    heard = Path(sys.executable).with_name("heard")
    env = {
        **os.environ,
        "HEARD_DATABASE_URL": url,
        "HEARD_ENV": "test",
        "HEARD_MAIL_DIR": str(tmp_path / "mail"),
    }
    result = subprocess.run(
        [str(heard), "jobs", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "retention: 0" in result.stdout
