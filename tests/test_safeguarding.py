"""The safeguarding route: a possible disclosure becomes a concern, an urgent email reaches
every safeguarding lead (through a real SMTP server on loopback, by the worker) with no post
text, the urgent queue and the concern page (leads only, every view audited), escalation when
nobody opens it, kept past "Delete me", deleted when its period runs out, never logged."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from sqlmodel import select

from app.models import (
    AuditEntry,
    Concern,
    ConcernNote,
    ConcernStatus,
    OutboxEmail,
    Participant,
    Post,
    Programme,
    Role,
    SpaceMode,
)
from app.services import my_data, safeguarding, worker
from tests.factories import make_programme, make_programme_staff, make_staff
from tests.spaces_support import a_room, as_person, as_staff, join, post, sent_id

DISCLOSURE = "my mum's boyfriend hits me and i'm scared to go home tonight"


def _disclose(client, session, clock, **room_values):
    room = a_room(session, clock.now, **room_values)
    sky = join(session, room, "Sky", clock.now)
    as_person(client, session, sky, clock.now)
    post_id = sent_id(post(client, room, DISCLOSURE))
    concern = session.exec(select(Concern).where(Concern.post_id == post_id)).one()
    return room, sky, post_id, concern


def test_a_disclosure_emails_every_lead_who_may_see_it_without_the_text(client, session, clock):
    everywhere = make_staff(session, Role.SAFEGUARDING_LEAD, email="lead@heard.example.org")
    room = a_room(session, clock.now, title="The room")
    programme = session.get(Programme, room.workshop.programme_id)
    ours = make_programme_staff(session, Role.SAFEGUARDING_LEAD, programme, email="ours@x.org")
    theirs = make_programme_staff(
        session, Role.SAFEGUARDING_LEAD, make_programme(session), email="theirs@x.org"
    )
    session.commit()
    sky = join(session, room, "Sky", clock.now)
    as_person(client, session, sky, clock.now)
    post_id = sent_id(post(client, room, DISCLOSURE))
    concern = session.exec(select(Concern).where(Concern.post_id == post_id)).one()
    assert concern.status == ConcernStatus.NEW and concern.opened_at is None
    emails = session.exec(select(OutboxEmail)).all()
    assert sorted(e.to_address for e in emails) == sorted([everywhere.email, ours.email])
    assert theirs.email not in {e.to_address for e in emails}
    for email in emails:
        assert "Urgent" in email.subject
        assert "boyfriend" not in email.body_text and "Sky" not in email.body_text
        assert f"/safeguarding/concerns/{concern.id}" in email.body_text
    # The link needs signing in.
    client.cookies.clear()
    response = client.get(f"/safeguarding/concerns/{concern.id}")
    assert response.status_code == 303 and "/staff/sign-in" in response.headers["location"]


def test_the_urgent_email_goes_through_a_real_smtp_server_within_a_minute(
    app, client, session, clock, settings, smtp
):
    make_staff(session, Role.SAFEGUARDING_LEAD, email="lead@heard.example.org")
    session.commit()
    _disclose(client, session, clock)
    # One round of `heard worker` (it runs every 5 seconds).
    result = worker.one_round(app.state.open_session, settings, clock.now, run_jobs=False)
    assert result.emails_sent == 1
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "lead@heard.example.org"
    body = smtp.bodies()[0]
    assert "boyfriend" not in body and "/safeguarding/concerns/" in body


def test_only_safeguarding_leads_see_a_concern_and_every_view_is_audited(client, session, clock):
    _room, _, _post_id, concern = _disclose(client, session, clock)
    lead = make_staff(session, Role.SAFEGUARDING_LEAD)
    elsewhere = make_programme_staff(session, Role.SAFEGUARDING_LEAD, make_programme(session))
    moderator = make_staff(session, Role.MODERATOR)
    admin = make_staff(session, Role.ADMIN)
    session.commit()
    url = f"/safeguarding/concerns/{concern.id}"
    for member, status in ((moderator, 403), (admin, 403), (elsewhere, 404)):
        as_staff(client, session, member, clock.now)
        assert client.get(url).status_code == status
        assert "boyfriend" not in client.get("/safeguarding").text
    as_staff(client, session, lead, clock.now)
    queue = client.get("/safeguarding").text
    assert f"Concern {concern.id}" in queue and "(not opened yet)" in queue
    assert "boyfriend" not in queue  # the queue shows no text: reading it is a view
    first = client.get(url)
    assert first.status_code == 200 and "boyfriend hits me" in first.text
    assert "Your visit has been recorded" in first.text
    client.get(url)
    views = session.exec(
        select(AuditEntry).where(
            AuditEntry.action == "concern.viewed", AuditEntry.record_id == str(concern.id)
        )
    ).all()
    assert len(views) == 2 and all(v.actor_id == lead.id for v in views)
    session.refresh(concern)
    assert concern.opened_at is not None


def test_notes_actions_and_status_are_kept_and_audited(client, session, clock):
    _, _, _, concern = _disclose(client, session, clock)
    lead = make_staff(session, Role.SAFEGUARDING_LEAD)
    session.commit()
    as_staff(client, session, lead, clock.now)
    url = f"/safeguarding/concerns/{concern.id}"
    nothing = client.submit(url, {"kind": "note", "text": "", "status": "new"})
    assert nothing.status_code == 200 and "Write a note, or choose a new status" in nothing.text
    client.submit(url, {"kind": "action", "text": "Called the school's DSL", "status": "referred"})
    client.submit(url, {"kind": "note", "text": "", "status": "closed"})
    session.refresh(concern)
    assert concern.status == ConcernStatus.CLOSED and concern.closed_at is not None
    notes = session.exec(select(ConcernNote).where(ConcernNote.concern_id == concern.id)).all()
    assert [n.kind.value for n in notes] == ["action", "status", "status"]
    page = client.get(url).text
    assert "Called the school&#39;s DSL" in page and "Referred → Closed" in page
    updates = session.exec(select(AuditEntry).where(AuditEntry.action == "concern.updated")).all()
    assert len(updates) == 2 and all("DSL" not in str(u.detail) for u in updates)


def test_a_concern_nobody_opens_is_escalated_to_every_lead_once(client, session, clock, settings):
    make_staff(session, Role.SAFEGUARDING_LEAD, email="lead@heard.example.org")
    session.commit()
    _room, _, _, _concern = _disclose(client, session, clock)
    other = make_programme_staff(
        session, Role.SAFEGUARDING_LEAD, make_programme(session), email="other@x.org"
    )
    session.commit()
    assert safeguarding.escalate_unopened(session, settings, clock.now) == 0
    later = clock.now + timedelta(minutes=settings.concern_escalate_minutes)
    assert safeguarding.escalate_unopened(session, settings, later) == 1
    assert safeguarding.escalate_unopened(session, settings, later) == 0
    escalated = session.exec(
        select(OutboxEmail).where(OutboxEmail.subject.startswith("Still not opened"))
    ).all()
    assert {e.to_address for e in escalated} == {"lead@heard.example.org", other.email}
    assert all("boyfriend" not in e.body_text for e in escalated)


def test_an_opened_concern_is_not_escalated(client, session, clock, settings):
    _, _, _, concern = _disclose(client, session, clock)
    lead = make_staff(session, Role.SAFEGUARDING_LEAD)
    session.commit()
    as_staff(client, session, lead, clock.now)
    client.get(f"/safeguarding/concerns/{concern.id}")
    later = clock.now + timedelta(hours=2)
    assert safeguarding.escalate_unopened(session, settings, later) == 0


def test_escalation_and_retention_are_scheduled_jobs():
    from app.services import jobs

    names = {name for name, _ in jobs.load()}
    assert {"concern escalation", "concern retention"} <= names


def test_delete_me_keeps_the_concern_and_my_stuff_says_so(client, session, clock):
    _room, sky, post_id, concern = _disclose(client, session, clock)
    page = client.get("/me").text
    assert "Safety records" in page and "up to 25 years" in page
    assert "Deleting your stuff does not delete it" in page
    assert "A safety record stays" in client.get("/me/delete").text
    my_data.erase(session, "participant", sky.id, reason="test")
    session.commit()
    session.expire_all()
    assert session.get(Participant, sky.id) is None
    assert session.get(Post, post_id) is None
    kept = session.get(Concern, concern.id)
    assert kept is not None and kept.post_text == DISCLOSURE and kept.about_name == "Sky"
    assert kept.participant_id is None and kept.post_id is None
    assert my_data.export(session, sky.id) is not None


def test_concerns_are_deleted_when_their_period_runs_out(client, session, clock, settings):
    _, _, _, concern = _disclose(client, session, clock)
    assert safeguarding.forget_old_concerns(session, settings, clock.now) == 0
    later = clock.now + timedelta(days=settings.concern_retention_days + 1)
    assert safeguarding.forget_old_concerns(session, settings, later) == 1
    session.expire_all()
    assert session.get(Concern, concern.id) is None


def test_posts_and_concerns_never_reach_the_logs(app, client, session, clock, settings, caplog):
    caplog.set_level(logging.DEBUG)
    make_staff(session, Role.SAFEGUARDING_LEAD)
    session.commit()
    _room, _, _, _concern = _disclose(client, session, clock, mode=SpaceMode.POST_MODERATED)
    worker.one_round(app.state.open_session, settings, clock.now, run_jobs=False)
    safeguarding.escalate_unopened(session, settings, clock.now + timedelta(hours=1))
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "boyfriend" not in text and "scared" not in text


def test_a_facilitator_raises_a_concern_from_any_post(client, session, clock, settings):
    room = a_room(session, clock.now)
    sky = join(session, room, "Sky", clock.now)
    as_person(client, session, sky, clock.now)
    post_id = sent_id(post(client, room, "I'm fine really, just tired of it all"))
    stored = session.get(Post, post_id)
    if stored.state.value == "concern":  # screening already sent it: raise from a clean one
        post_id = sent_id(post(client, room, "Moving school was hard."))
    as_staff(client, session, room.admin, clock.now)
    page = client.get(f"/moderation/posts/{post_id}").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    response = client.post(
        f"/moderation/posts/{post_id}",
        data={"csrf_token": token, "version": version, "action": "concern"},
    )
    assert response.status_code == 303
    concern = session.exec(select(Concern).where(Concern.post_id == post_id)).one()
    assert concern.source.value == "staff"
    # The admin who raised it is not a safeguarding lead: it is gone from their view now.
    assert client.get(f"/moderation/posts/{post_id}").status_code == 404
