"""Programmes: the page (phases, what is open, "you said, we did"), staff writing, publishing
and emailing updates with progress, and "Keep me updated": double opt-in, one-click
unsubscribe (List-Unsubscribe headers), the same answer for every address, rate limits,
personal data (export and erasure by address, retention), and hostile input."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import quote

import pytest
from sqlmodel import select

from app.models import (
    OutboxEmail,
    Phase,
    Programme,
    ProgrammeUpdate,
    Role,
    Subscription,
    SubscriptionStatus,
)
from app.services import my_data, outbox, retention, subscriptions
from tests.conftest import shared_fixture
from tests.factories import make_participant, make_programme, make_staff, sign_in

CONFIRM_LINK = re.compile(r"http://testserver(/subscribe/confirm/[A-Za-z0-9_-]+)")
UNSUBSCRIBE_LINK = re.compile(r"http://testserver(/unsubscribe/[A-Za-z0-9_-]+)")


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


@pytest.fixture
def programme(session, clock) -> Programme:
    programme = make_programme(session, "Care review")
    for position, (name, start, end) in enumerate(
        [("Discover", -10, 10), ("Develop", 10, 40), ("Deliver", 40, 80)], start=1
    ):
        session.add(
            Phase(
                programme_id=programme.id,
                position=position,
                name=name,
                summary=f"{name} summary",
                starts_at=clock.now + timedelta(days=start),
                ends_at=clock.now + timedelta(days=end),
            )
        )
    session.commit()
    return programme


def emails_to(session, address: str) -> list[OutboxEmail]:
    return list(
        session.exec(
            select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id)  # type: ignore[arg-type]
        ).all()
    )


def subscribe(client, programme: Programme, email: str):
    page = f"/programmes/{programme.slug}"
    return client.submit(f"{page}/subscribe", {"email": email}, page=page)


def confirm_path(session, address: str) -> str:
    confirms = [e for e in emails_to(session, address) if e.subject.startswith("Confirm")]
    found = CONFIRM_LINK.search(confirms[-1].body_text) if confirms else None
    assert found, "no confirm link in the email"
    return found.group(1)


def row_for(session, programme: Programme, address: str) -> Subscription:
    session.expire_all()
    return session.exec(
        select(Subscription).where(
            Subscription.programme_id == programme.id,
            Subscription.email_key == outbox.recipient_key(address),
        )
    ).one()


def subscribed(client, session, programme: Programme, address: str) -> Subscription:
    assert subscribe(client, programme, address).status_code == 303
    path = confirm_path(session, address)
    assert client.submit(path).status_code == 303
    return row_for(session, programme, address)


def published_update(session, programme: Programme, now) -> ProgrammeUpdate:
    update = ProgrammeUpdate(
        programme_id=programme.id,
        you_said="Meetings are at school time",
        we_did="We moved them to after school",
        created_at=now,
        published_at=now,
    )
    session.add(update)
    session.commit()
    return update


# --- the programme page ----------------------------------------------------------------


def test_the_page_shows_phases_with_the_current_one_and_only_published_updates(
    client, session, programme, clock
):
    session.add(
        ProgrammeUpdate(
            programme_id=programme.id,
            you_said="Secret draft",
            we_did="Not yet",
            created_at=clock.now,
        )
    )
    published_update(session, programme, clock.now)
    page = client.get(f"/programmes/{programme.slug}").text
    assert re.search(r'aria-current="step">\s*<h3 class="card__title">Discover <strong', page)
    assert "Meetings are at school time" in page and "Secret draft" not in page
    assert "Keep me updated" in page and 'action="/programmes/' in page
    assert client.get("/programmes/no-such-programme").status_code == 404


# --- double opt-in -------------------------------------------------------------------------


def test_subscribe_then_confirm_by_the_emailed_link(client, session, programme, clock):
    response = subscribe(client, programme, "  Kai.Smith@Example.ORG ")
    assert response.status_code == 303
    assert response.headers["location"] == f"/programmes/{programme.slug}/subscribe/check-email"
    assert "Check your email" in client.get(response.headers["location"]).text
    row = row_for(session, programme, "kai.smith@example.org")
    assert row.email == "kai.smith@example.org"  # normalised
    assert row.status == SubscriptionStatus.PENDING
    path = confirm_path(session, "kai.smith@example.org")
    token = path.rsplit("/", 1)[1]
    assert row.confirm_token_hash != token and len(row.confirm_token_hash or "") == 64  # hashed
    # Opening the link (an email scanner does too) changes nothing: the button does.
    page = client.get(path)
    assert page.status_code == 200 and "Yes, send me updates" in page.text
    assert row_for(session, programme, "kai.smith@example.org").status == "pending"
    assert client.submit(path).status_code == 303
    done = client.get(path).text
    assert "You will get updates" in done
    # The way out is right there: "Stop my updates" works at once.
    stop = re.search(r'href="(/unsubscribe/[^"]+)">Stop my updates', done)
    assert stop and "Stop getting updates?" in client.get(stop.group(1)).text
    assert row_for(session, programme, "kai.smith@example.org").status == "confirmed"


def test_a_confirm_link_used_twice_or_after_it_expires(client, session, programme, clock):
    subscribe(client, programme, "twice@example.org")
    path = confirm_path(session, "twice@example.org")
    assert client.submit(path).status_code == 303
    confirmed_at = row_for(session, programme, "twice@example.org").confirmed_at
    assert client.submit(path).status_code == 303  # again: harmless, nothing changes
    assert row_for(session, programme, "twice@example.org").confirmed_at == confirmed_at
    assert "You will get updates" in client.get(path).text

    subscribe(client, programme, "late@example.org")
    late = confirm_path(session, "late@example.org")
    clock.advance(hours=48)  # exactly when it stops working
    page = client.get(late)
    assert page.status_code == 200 and "This link has expired" in page.text
    client.submit(late)
    assert row_for(session, programme, "late@example.org").status == "pending"
    # Made-up links find nothing.
    assert client.get("/subscribe/confirm/made-up").status_code == 404
    assert client.submit("/subscribe/confirm/made-up", page="/").status_code == 404


def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    client, session, programme, clock
):
    subscribed(client, session, programme, "known@example.org")
    sent_before = len(emails_to(session, "known@example.org"))
    known = subscribe(client, programme, "known@example.org")
    new = subscribe(client, programme, "new@example.org")
    assert known.status_code == new.status_code == 303
    assert known.headers["location"] == new.headers["location"]
    assert client.get(known.headers["location"]).text.replace(
        client.csrf(known.headers["location"]), ""
    ) == client.get(new.headers["location"]).text.replace(client.csrf(new.headers["location"]), "")
    # A confirmed address gets no second confirm email; it stays confirmed.
    assert len(emails_to(session, "known@example.org")) == sent_before
    assert row_for(session, programme, "known@example.org").status == "confirmed"
    # A +tag or other capitals are the same mailbox: still one row.
    subscribe(client, programme, "Known+again@example.org")
    rows = session.exec(select(Subscription).where(Subscription.programme_id == programme.id))
    assert len([r for r in rows if r.email_key == outbox.recipient_key("known@example.org")]) == 1


def test_an_invalid_address_is_explained_and_kept(client, session, programme):
    page = subscribe(client, programme, "kai@gmail")
    assert page.status_code == 200
    assert page.text.count("Check the end of your email address") == 2  # summary and field
    assert 'value="kai@gmail"' in page.text and "<title>Error: " in page.text
    empty = subscribe(client, programme, "")
    assert "Enter your email address" in empty.text
    assert not session.exec(select(Subscription)).all()


def test_subscribing_is_rate_limited_per_address_and_per_mailbox(
    app, client, session, programme, settings
):
    # Per mailbox: after 3 a day, no more confirm emails, and the page is just the same.
    for tag in ("", "+a", "+b", "+c", "+d"):
        assert subscribe(client, programme, f"busy{tag}@example.org").status_code == 303
    sent = [e for e in session.exec(select(OutboxEmail)) if e.to_address.startswith("busy")]
    assert len(sent) == 3
    # Per address (IP): a 429 page past the limit.
    app.state.rate_limits.reset()
    settings.subscribe_rate_per_ip = "2/hour"
    assert subscribe(client, programme, "a@example.org").status_code == 303
    assert subscribe(client, programme, "b@example.org").status_code == 303
    assert subscribe(client, programme, "c@example.org").status_code == 429


# --- unsubscribing -------------------------------------------------------------------------


def _send_and_get_email(client, session, programme, clock, address: str) -> OutboxEmail:
    update = published_update(session, programme, clock.now)
    admin = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=admin, now=clock.now)
    path = f"/staff/programmes/{programme.id}/updates/{update.id}/send"
    assert client.submit(path, page=f"/staff/programmes/{programme.id}").status_code == 303
    client.cookies.clear()
    return next(e for e in emails_to(session, address) if e.subject.startswith("Update:"))


def test_every_update_email_has_one_click_unsubscribe_link_and_headers(
    client, session, programme, clock, settings
):
    subscribed(client, session, programme, "reader@example.org")
    email = _send_and_get_email(client, session, programme, clock, "reader@example.org")
    link = UNSUBSCRIBE_LINK.search(email.body_text)
    assert link, "no unsubscribe link in the body"
    message = outbox.build_message(settings, email)
    assert message["List-Unsubscribe"] == f"<http://testserver{link.group(1)}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The page asks first (a GET changes nothing), then one press stops it.
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Stop my updates" in page.text
    assert row_for(session, programme, "reader@example.org").status == "confirmed"
    assert client.submit(link.group(1)).status_code == 303
    assert "You will not get any more updates" in client.get(link.group(1)).text
    row = row_for(session, programme, "reader@example.org")
    assert row.status == "unsubscribed" and row.unsubscribed_at == clock.now
    # The old confirm link never signs them up again.
    old = confirm_path(session, "reader@example.org")
    assert "This link no longer works" in client.get(old).text
    client.submit(old)
    assert row_for(session, programme, "reader@example.org").status == "unsubscribed"
    # "Delete my email address now": gone at once, not in 30 days.
    gone = client.submit(f"{link.group(1)}/forget", page=link.group(1))
    assert gone.status_code == 303 and gone.headers["location"] == f"/programmes/{programme.slug}"
    assert "We have deleted your email address" in client.get(gone.headers["location"]).text
    assert not session.exec(select(Subscription)).all()
    assert client.get(link.group(1)).status_code == 404


def test_a_mail_programs_one_click_post_needs_no_cookie_or_csrf_token(
    client, session, programme, clock
):
    subscribed(client, session, programme, "oneclick@example.org")
    email = _send_and_get_email(client, session, programme, clock, "oneclick@example.org")
    path = UNSUBSCRIBE_LINK.search(email.body_text).group(1)  # type: ignore[union-attr]
    client.cookies.clear()
    response = client.post(
        path,
        data={"List-Unsubscribe": "One-Click"},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://mail.example.com"},
    )
    assert response.status_code == 200 and "You will not get any more updates" in response.text
    assert row_for(session, programme, "oneclick@example.org").status == "unsubscribed"
    again = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # twice is harmless
    assert (
        client.post("/unsubscribe/made-up", data={"List-Unsubscribe": "One-Click"}).status_code
        == 404
    )
    assert client.get("/unsubscribe/made-up").status_code == 404


# --- staff: write, publish, send, progress ---------------------------------------------------


def test_staff_write_publish_and_send_an_update_with_progress(
    client, session, programme, clock, settings, app
):
    for n in range(3):
        subscribed(client, session, programme, f"fan{n}@example.org")
    subscribe(client, programme, "pending@example.org")  # never confirmed: gets nothing
    admin = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=admin, now=clock.now)
    base = f"/staff/programmes/{programme.id}"
    assert "Care review" in client.get("/staff/programmes").text
    assert "3 people have confirmed" in client.get(base).text
    missing = client.submit(f"{base}/updates", {"you_said": "", "we_did": "x" * 2001}, page=base)
    assert missing.status_code == 200 and "Enter what people said" in missing.text
    assert "x" * 2001 in missing.text  # kept
    saved = client.submit(
        f"{base}/updates", {"you_said": "Too many forms", "we_did": "We cut them"}, page=base
    )
    assert saved.status_code == 303
    update = session.exec(
        select(ProgrammeUpdate).where(ProgrammeUpdate.programme_id == programme.id)
    ).one()
    assert update.published_at is None
    assert "Too many forms" not in client.get(f"/programmes/{programme.slug}").text
    # A draft can't be sent.
    client.submit(f"{base}/updates/{update.id}/send", page=base)
    assert not [e for e in session.exec(select(OutboxEmail)) if e.subject.startswith("Update:")]
    assert client.submit(f"{base}/updates/{update.id}/publish", page=base).status_code == 303
    client.cookies.clear()
    assert "Too many forms" in client.get(f"/programmes/{programme.slug}").text
    sign_in(client, session, staff=admin, now=clock.now)
    sent = client.submit(f"{base}/updates/{update.id}/send", page=base)
    assert sent.status_code == 303 and sent.headers["location"] == f"{base}/updates/{update.id}"
    assert "Sent 0 of 3" in client.get(sent.headers["location"]).text
    # Pressing Send again reaches nobody twice.
    client.submit(f"{base}/updates/{update.id}/send", page=base)
    updates = [e for e in session.exec(select(OutboxEmail)) if e.subject.startswith("Update:")]
    assert sorted(e.to_address for e in updates) == [f"fan{n}@example.org" for n in range(3)]
    outbox.send_due_blocking(app.state.open_session, settings, clock.now)
    progress = client.get(
        f"{base}/updates/{update.id}", headers={"HX-Request": "true", "HX-Target": "progress"}
    )
    assert "Sent 3 of 3. Done." in progress.text and "<html" not in progress.text
    assert 'hx-trigger="every' not in progress.text  # done: the polling stops


def test_staff_pages_are_for_admins_of_the_programme(client, session, programme, clock):
    other = make_programme(session, "Other")
    from tests.factories import make_programme_staff

    theirs = make_programme_staff(session, Role.ADMIN, other)
    sign_in(client, session, staff=theirs, now=clock.now)
    assert client.get(f"/staff/programmes/{programme.id}").status_code == 404
    assert client.get(f"/staff/programmes/{other.id}").status_code == 200
    update = published_update(session, programme, clock.now)
    assert client.get(f"/staff/programmes/{other.id}/updates/{update.id}").status_code == 404


def test_extra_headers_are_only_the_allowed_ones_and_one_line(session, clock, settings):
    with pytest.raises(ValueError):
        outbox.queue(
            session, to="a@example.org", subject="s", body="b", now=clock.now,
            headers={"Bcc": "everyone@example.org"},
        )  # fmt: skip
    email = outbox.queue(
        session, to="a@example.org", subject="s", body="b", now=clock.now,
        headers={"List-Unsubscribe": "<http://x/u>\r\nBcc: everyone@example.org"},
    )  # fmt: skip
    assert email is not None
    email.headers["Bcc"] = "sneaked@example.org"  # a row written some other way
    message = outbox.build_message(settings, email)
    assert message["Bcc"] is None
    assert "\n" not in message["List-Unsubscribe"]
    assert b"\r\nBcc:" not in message.as_bytes()


# --- personal data -------------------------------------------------------------------------


def test_export_and_erase_by_address_and_with_a_participant(client, session, programme, clock):
    subscribed(client, session, programme, "mine@example.org")
    other = make_programme(session, "Another")
    subscribe(client, other, "Mine+x@example.org")
    rows = subscriptions.export_for_address(session, "MINE@example.org")
    assert {r["programme"] for r in rows} == {"Care review", "Another"}
    assert subscriptions.erase_address(session, "mine@example.org") == 2
    assert not session.exec(select(Subscription)).all()
    # Someone signed in: their download and "Delete me" include it.
    person = make_participant(session)
    sign_in(client, session, participant=person, now=clock.now)
    subscribe(client, programme, "signed@example.org")
    sections = {s.table: s for s in my_data.export(session, person.id)}
    assert sections["programme_subscription"].rows[0]["email"] == "signed@example.org"
    my_data.erase(session, "participant", person.id, reason="test")
    assert not session.exec(select(Subscription)).all()


def test_retention_after_unsubscribing_and_for_never_confirmed(
    client, session, programme, clock, settings
):
    stays = subscribed(client, session, programme, "stays@example.org")
    leaves = subscribed(client, session, programme, "leaves@example.org")
    subscriptions.unsubscribe(session, leaves, clock.now)
    subscribe(client, programme, "never@example.org")
    session.commit()
    retention.enforce(session, settings, clock.now + timedelta(days=6))
    assert len(session.exec(select(Subscription)).all()) == 3
    retention.enforce(session, settings, clock.now + timedelta(days=8))
    left = {r.email for r in session.exec(select(Subscription))}
    assert left == {"stays@example.org", "leaves@example.org"}  # pending gone after 7 days
    retention.enforce(session, settings, clock.now + timedelta(days=31))
    assert {r.email for r in session.exec(select(Subscription))} == {stays.email}


# --- hostile input -------------------------------------------------------------------------


def _inert(response) -> None:
    assert response.status_code in {200, 303, 404, 429}, response.status_code
    text = response.text
    assert "<script>alert(1)</script>" not in text
    assert "onerror=alert(1)>" not in text and "<svg/onload" not in text
    assert '<div hx-get="/admin"' not in text


def test_hostile_input_in_every_field(client, app, session, programme, clock):
    page = f"/programmes/{programme.slug}"
    for value in hostile_inputs():
        app.state.rate_limits.reset()
        _inert(client.submit_raw(f"{page}/subscribe", {"email": value}, page=page))
        token = quote(value[:300].encode("utf-8", "replace").decode(), safe="")
        _inert(client.get(f"/subscribe/confirm/{token}x"))
        _inert(client.get(f"/unsubscribe/{token}x"))
        one_click = {"List-Unsubscribe": value[:300].encode("utf-8", "replace").decode()}
        _inert(client.post(f"/unsubscribe/{token}x", data=one_click))
    admin = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=admin, now=clock.now)
    base = f"/staff/programmes/{programme.id}"
    for value in hostile_inputs():
        _inert(
            client.submit_raw(f"{base}/updates", {"you_said": value, "we_did": value}, page=base)
        )
    kept = client.submit(
        f"{base}/updates", {"you_said": "<script>alert(1)</script>", "we_did": "ok"}, page=base
    )
    assert kept.status_code == 303
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(base).text


def test_the_demo_adds_a_draft_update_once(session, clock):
    from app.services import demo

    programme = demo.load(session, clock.now)
    demo.load(session, clock.now)
    drafts = session.exec(
        select(ProgrammeUpdate).where(
            ProgrammeUpdate.programme_id == programme.id,
            ProgrammeUpdate.you_said == demo.DRAFT_YOU_SAID,
        )
    ).all()
    assert len(drafts) == 1 and drafts[0].published_at is None


def test_open_recruitment_rounds_are_on_the_programme_page(client, session, programme, clock):
    from app.models.rounds import Group, Round, RoundStatus

    group = Group(slug="experts", name="Experts by experience", created_at=clock.now)
    session.add(group)
    session.flush()
    for slug, status in (("open-round", RoundStatus.OPEN), ("draft-round", RoundStatus.DRAFT)):
        session.add(
            Round(
                group_id=group.id,
                slug=slug,
                title=f"Join us ({slug})",
                summary="A group that advises the review",
                time_asked="Two hours a month",
                in_return="Vouchers",
                who_can_apply="Care-experienced",
                how_info_used="Only to choose",
                opens_at=clock.now - timedelta(days=1),
                closes_at=clock.now + timedelta(days=3),
                status=status,
            )
        )
    session.commit()
    page = client.get(f"/programmes/{programme.slug}").text
    assert 'href="/rounds/open-round"' in page and "Applications: Closes in 3 days" in page
    assert "draft-round" not in page


def test_staff_look_up_and_erase_an_address(client, session, programme, clock):
    subscribed(client, session, programme, "asker@example.org")
    admin = make_staff(session, Role.ADMIN)
    sign_in(client, session, staff=admin, now=clock.now)
    assert "Look up an email address" in client.get("/staff/programmes").text
    bad = client.submit("/staff/subscriptions", {"email": "nope"})
    assert "<title>Error: " in bad.text and 'value="nope"' in bad.text
    found = client.submit("/staff/subscriptions", {"email": "ASKER+x@example.org"})
    assert found.status_code == 200 and "asker@example.org" in found.text
    assert "Care review" in found.text and "Confirmed" in found.text
    assert "asker" not in client.get("/staff/audit").text  # the address is never audited
    gone = client.submit("/staff/subscriptions/erase", {"email": "asker@example.org"})
    assert gone.status_code == 303
    assert "Deleted 1 subscription." in client.get("/staff/subscriptions").text
    assert not session.exec(select(Subscription)).all()
    nothing = client.submit("/staff/subscriptions", {"email": "asker@example.org"})
    assert "We hold nothing for this address" in nothing.text
    for value in hostile_inputs():
        _inert(client.submit_raw("/staff/subscriptions", {"email": value}, page="/staff"))
    # An admin of one programme only can't look across programmes.
    from tests.factories import make_programme_staff

    theirs = make_programme_staff(session, Role.ADMIN, programme)
    sign_in(client, session, staff=theirs, now=clock.now)
    assert client.get("/staff/subscriptions").status_code == 404
    assert "Look up an email address" not in client.get("/staff/programmes").text


def test_a_large_send_is_queued_in_batches_by_the_worker(
    client, session, programme, clock, settings, app
):
    from app.services import jobs

    for n in range(5):
        subscribed(client, session, programme, f"many{n}@example.org")
    update = published_update(session, programme, clock.now)
    settings.update_emails_per_minute = 2
    assert subscriptions.send_update(session, settings, programme, update, clock.now) == 2
    session.commit()
    assert subscriptions.progress(session, update) == subscriptions.Progress(5, 0, 0)
    outbox.send_due_blocking(app.state.open_session, settings, clock.now)
    session.expire_all()
    assert subscriptions.progress(session, update) == subscriptions.Progress(5, 2, 0)
    # The worker's job, once a minute: two more, then the last one, then nothing.
    for expected in (2, 1, 0):
        report = jobs.run_due(
            app.state.open_session,
            settings,
            clock.advance(minutes=1),
            jobs=[("programme_update_emails", subscriptions.queue_update_emails)],
        )
        assert report.counts["programme_update_emails"] == expected
    outbox.send_due_blocking(app.state.open_session, settings, clock.now)
    session.expire_all()
    done = subscriptions.progress(session, session.get(ProgrammeUpdate, update.id))
    assert done == subscriptions.Progress(5, 5, 0) and done.done
    updates = [e for e in session.exec(select(OutboxEmail)) if e.subject.startswith("Update:")]
    assert sorted(e.to_address for e in updates) == [f"many{n}@example.org" for n in range(5)]
