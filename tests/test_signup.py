"""Signing up for a workshop: one question a page, check answers, confirmation, emails, cancel."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, timedelta

import pytest
from icalendar import Calendar
from sqlmodel import select

from app.models import ConsentPurpose, OutboxEmail, SignUp, SignUpStatus, WorkshopStatus
from app.services import jobs, signups
from tests.conftest import shared_fixture

ANSWERS = {
    "name": {"display_name": "Sky"},
    "age": {"age_band": "16_17"},
    "contact": {"whose": "mine", "email": "sky@example.org"},
    "access": {"access_needs": "A quiet room, please"},
    "anything-else": {"anything_else": ""},
    "consent": {"agree": "yes"},
}


def sign_up_through(client, workshop, **changes):
    """Answer every page as a person would; returns the response to "Sign up"."""
    base = f"/workshops/{workshop.slug}/sign-up"
    for step, answers in ANSWERS.items():
        data = dict(answers)
        data.update({k: v for k, v in changes.items() if k in answers})
        response = client.submit(f"{base}/{step}", data)
        assert response.status_code == 303, (step, response.text[:2000])
    check = client.get(f"{base}/check")
    assert check.status_code == 200
    return client.submit(f"{base}/check", {})


def emails_to(session, address):
    return list(
        session.exec(
            select(OutboxEmail).where(OutboxEmail.to_address == address).order_by(OutboxEmail.id)  # type: ignore[arg-type]
        ).all()
    )


def manage_link(email: OutboxEmail) -> str:
    found = re.search(r"http://testserver(/sign-ups/[A-Za-z0-9_-]+)\n", email.body_text)
    assert found, email.body_text
    return found.group(1)


def place(session, address: str) -> str:
    """The link to someone's place, from the newest email that has one. (The page after
    "Sign up" only says to check your email: it must look the same for an address that is
    already signed up, so it can't show the place.)"""
    for email in reversed(emails_to(session, address)):
        if re.search(r"http://testserver/sign-ups/", email.body_text):
            return manage_link(email)
    raise AssertionError(f"no email with a place link to {address}")


def test_the_whole_journey_gives_a_place_an_email_and_a_calendar_file(
    client, session, make_workshop, clock
):
    workshop = make_workshop(title="Having your say")
    first = client.get(f"/workshops/{workshop.slug}/sign-up/name")
    assert "What should we call you?" in first.text
    assert "A first name or a nickname is fine" in first.text  # says why

    done = sign_up_through(client, workshop)
    assert done.status_code == 303
    assert done.headers["location"] == f"/workshops/{workshop.slug}/sign-up/sent"
    assert "Check your email" in client.get(done.headers["location"]).text
    page = client.get(place(session, "sky@example.org"))
    assert page.status_code == 200
    assert "You have a place" in page.text
    row = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).one()
    assert row.status == SignUpStatus.CONFIRMED
    assert row.reference in page.text
    assert row.access_needs == "A quiet room, please"

    [email] = emails_to(session, "sky@example.org")
    assert "You have a place" in email.subject
    [attachment] = email.attachments
    assert attachment["content_type"] == "text/calendar"
    event = Calendar.from_ical(base64.b64decode(attachment["content_b64"])).walk("VEVENT")[0]
    assert str(event["summary"]) == "Having your say"
    assert event.decoded("dtstart") == workshop.starts_at.astimezone(UTC)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["location"]) == "The Hive, Leeds"

    link = manage_link(email)
    ics = client.get(f"{link}/calendar.ics")
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "attachment" in ics.headers["content-disposition"]
    assert Calendar.from_ical(ics.content).walk("VEVENT")[0]["summary"] == "Having your say"
    qr = client.get(f"{link}/check-in.svg")
    assert qr.status_code == 200 and qr.content.startswith(b"<svg")
    # The take-part consent is recorded with its exact words.
    from app.services import consent

    assert consent.has_consent(session, row.participant_id, ConsentPurpose.TAKE_PART)


def test_online_joining_link_is_only_for_people_with_a_place(client, session, make_workshop):
    from app.models import WorkshopMode

    workshop = make_workshop(
        mode=WorkshopMode.ONLINE,
        place=None,
        online_link="https://video.example.org/room-1",
        capacity=1,
    )
    public = client.get(f"/workshops/{workshop.slug}")
    assert "video.example.org" not in public.text
    sign_up_through(client, workshop)
    assert "video.example.org" in client.get(place(session, "sky@example.org")).text
    [confirmed_email] = emails_to(session, "sky@example.org")
    assert "https://video.example.org/room-1" in confirmed_email.body_text
    assert "/calendar.ics" in confirmed_email.body_text
    assert "/cancel" in confirmed_email.body_text
    client.cookies.clear()
    sign_up_through(client, workshop, email="second@example.org")
    waiting_page = client.get(place(session, "second@example.org")).text
    assert "waiting list" in waiting_page
    assert "video.example.org" not in waiting_page
    [email] = emails_to(session, "second@example.org")
    assert "video.example.org" not in email.body_text


def test_answers_are_kept_between_pages_and_on_errors(client, make_workshop):
    workshop = make_workshop()
    base = f"/workshops/{workshop.slug}/sign-up"
    client.submit(f"{base}/name", {"display_name": "Sky"})
    # Coming back to the page shows what they typed.
    assert 'value="Sky"' in client.get(f"{base}/name").text
    bad = client.submit(f"{base}/contact", {"whose": "mine", "email": "not an email"})
    assert bad.status_code == 200
    assert "There is a problem" in bad.text
    assert "<title>Error: " in bad.text
    assert 'value="not an email"' in bad.text
    assert "Enter an email address like name@example.com" in bad.text
    # The typed value survives a trip away and back, too.
    assert 'value="not an email"' in client.get(f"{base}/contact").text
    missing = client.submit(f"{base}/consent", {})
    assert "Tick the box to say you want to take part" in missing.text


def test_change_links_return_to_check_your_answers(client, make_workshop):
    workshop = make_workshop()
    sign_up_base = f"/workshops/{workshop.slug}/sign-up"
    for step, answers in ANSWERS.items():
        client.submit(f"{sign_up_base}/{step}", answers)
    check = client.get(f"{sign_up_base}/check").text
    assert f'href="{sign_up_base}/name?change=1"' in check
    response = client.submit(
        f"{sign_up_base}/name?change=1", {"display_name": "River"}, page=f"{sign_up_base}/name"
    )
    assert response.headers["location"] == f"{sign_up_base}/check"
    assert "River" in client.get(f"{sign_up_base}/check").text


def test_check_page_sends_people_back_to_an_unanswered_question(client, make_workshop):
    workshop = make_workshop()
    client.submit(f"/workshops/{workshop.slug}/sign-up/name", {"display_name": "Sky"})
    response = client.get(f"/workshops/{workshop.slug}/sign-up/check")
    assert response.status_code == 303
    assert response.headers["location"].endswith("/sign-up/age")


def test_signing_up_twice_makes_no_duplicate_and_tells_only_the_owner(
    client, session, make_workshop
):
    """The page says nothing about the address (see test_security_fixes.py); its owner
    gets an email saying someone tried again."""
    workshop = make_workshop()
    first = sign_up_through(client, workshop)
    client.cookies.clear()
    again = sign_up_through(client, workshop, email="SKY@example.org ")
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert "already" not in client.get(again.headers["location"]).text
    rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).all()
    assert len(rows) == 1
    assert any("already signed up" in e.subject for e in emails_to(session, "sky@example.org"))


def test_the_unique_constraint_stops_a_duplicate_even_without_the_check(session, make_workshop):
    from sqlalchemy.exc import IntegrityError

    workshop = make_workshop()
    base = dict(
        workshop_id=workshop.id,
        display_name="A",
        age_band="16_17",
        contact_email="a@example.org",
        contact_key="a@example.org",
        status=SignUpStatus.CONFIRMED,
        token_nonce="n",
    )
    from tests.factories import make_participant

    person = make_participant(session)
    session.add(
        SignUp(
            reference="W-AAAAAA",
            participant_id=person.id,
            manage_token_hash="1",
            check_in_token_hash="2",
            **base,
        )
    )
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            SignUp(
                reference="W-BBBBBB",
                participant_id=person.id,
                manage_token_hash="3",
                check_in_token_hash="4",
                **base,
            )
        )
        session.flush()


def test_under_13s_give_a_parent_email_and_the_parent_is_asked(client, session, make_workshop):
    workshop = make_workshop(audience="children", age_range="8 to 12")
    base = f"/workshops/{workshop.slug}/sign-up"
    client.submit(f"{base}/name", {"display_name": "Kit"})
    client.submit(f"{base}/age", {"age_band": "under_13"})
    page = client.get(f"{base}/contact").text
    assert "parent or carer" in page
    refused = client.submit(f"{base}/contact", {"whose": "mine", "email": "kit@example.org"})
    assert "Because of your age, we need your parent or carer" in refused.text
    assert 'value="kit@example.org"' in refused.text
    done = sign_up_through(
        client,
        workshop,
        age_band="under_13",
        whose="parent",
        email="mum@example.org",
        display_name="Kit",
    )
    assert done.status_code == 303
    subjects = [e.subject for e in emails_to(session, "mum@example.org")]
    assert any("wants to take part" in s for s in subjects)
    assert any("Your place is kept until your parent or carer says yes" in s for s in subjects)
    assert "parent or carer" in client.get(place(session, "mum@example.org")).text


def test_full_workshop_puts_people_on_the_waiting_list_and_cancelling_promotes_them(
    client, session, make_workshop
):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="first@example.org")
    client.cookies.clear()
    assert "Full – join the waiting list" in client.get("/workshops").text
    assert "Join the waiting list" in client.get(f"/workshops/{workshop.slug}").text
    sign_up_through(client, workshop, email="second@example.org")
    page = client.get(place(session, "second@example.org")).text
    assert "You&#39;re on the waiting list, number 1" in page

    cancel_url = place(session, "first@example.org") + "/cancel"
    confirm = client.get(cancel_url)
    assert "Can't come any more?" in confirm.text
    assert (
        session.exec(select(SignUp).where(SignUp.contact_key == "first@example.org")).one().status
        == SignUpStatus.CONFIRMED
    )  # GET changes nothing
    done = client.submit(cancel_url, {})
    assert done.status_code == 303
    session.expire_all()
    rows = {r.contact_key: r for r in session.exec(select(SignUp)).all()}
    assert rows["first@example.org"].status == SignUpStatus.CANCELLED
    assert rows["second@example.org"].status == SignUpStatus.CONFIRMED
    promoted = emails_to(session, "second@example.org")[-1]
    assert "you have a place" in promoted.subject.lower()
    assert "/cancel" in promoted.body_text  # they can decline
    # Declining (the same link) gives the place back.
    decline = manage_link(promoted) + "/cancel"
    client.submit(decline, {}, page=decline)
    session.expire_all()
    assert session.get(SignUp, rows["second@example.org"].id).status == SignUpStatus.CANCELLED


def test_someone_elses_or_a_made_up_token_finds_nothing(client, make_workshop):
    for path in (
        "/sign-ups/not-a-real-token",
        "/sign-ups/not-a-real-token/cancel",
        "/sign-ups/x/calendar.ics",
    ):
        response = client.get(path)
        assert response.status_code == 404
        assert "Page not found" in response.text
    post = client.submit("/sign-ups/not-a-real-token/cancel", {}, page="/")
    assert post.status_code == 404


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"status": WorkshopStatus.CANCELLED}, "cancelled"),
        ({"status": WorkshopStatus.DRAFT}, None),
        ({"sign_up_closes_at": "past"}, "Sign-up has closed"),
        ({"sign_up_opens_at": "future"}, "Sign-up opens"),
        ({"starts_at": "past"}, "started or finished"),
    ],
)
def test_sign_up_is_refused_kindly_when_it_is_not_open(
    client, clock, make_workshop, change, expected
):
    values = dict(change)
    for key, value in list(values.items()):
        if value == "past":
            values[key] = clock.now - timedelta(hours=1)
        if value == "future":
            values[key] = clock.now + timedelta(days=1)
    workshop = make_workshop(**values)
    page = client.get(f"/workshops/{workshop.slug}")
    if expected is None:
        assert page.status_code == 404
        return
    assert expected in page.text
    assert "/sign-up/name" not in page.text
    step = client.get(f"/workshops/{workshop.slug}/sign-up/name")
    assert step.status_code == 303


def test_closing_while_someone_is_on_check_answers_keeps_their_answers(
    client, session, clock, make_workshop
):
    workshop = make_workshop(sign_up_closes_at=clock.now + timedelta(minutes=5))
    base = f"/workshops/{workshop.slug}/sign-up"
    for step, answers in ANSWERS.items():
        client.submit(f"{base}/{step}", answers)
    token = client.csrf(f"{base}/check")
    clock.advance(minutes=10)
    response = client.post(f"{base}/check", data={"csrf_token": token})
    assert response.status_code == 200
    assert "sign up for this workshop any more" in response.text
    assert "Sky" in response.text  # nothing lost


def test_capacity_zero_is_a_waiting_list_only(client, session, make_workshop):
    workshop = make_workshop(capacity=0)
    assert "Full – join the waiting list" in client.get(f"/workshops/{workshop.slug}").text
    sign_up_through(client, workshop)
    assert "waiting list" in client.get(place(session, "sky@example.org")).text


def test_reserved_places_are_kept_back(client, make_workshop):
    make_workshop(capacity=8, reserved_places=2)
    assert "6 places left" in client.get("/workshops").text


def test_hostile_inputs_in_every_field_are_stored_or_refused_never_run(
    client, session, make_workshop
):
    inputs = json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]
    workshop = make_workshop(capacity=500)
    base = f"/workshops/{workshop.slug}/sign-up"
    for index, value in enumerate(inputs):
        client.cookies.clear()
        for step, field in (
            ("name", "display_name"),
            ("access", "access_needs"),
            ("anything-else", "anything_else"),
        ):
            response = client.submit_raw(f"{base}/{step}", {field: value})
            assert response.status_code in {200, 303}, (step, value)
            assert "<script>alert(1)</script>" not in response.text
        response = client.submit_raw(f"{base}/contact", {"whose": value, "email": value})
        assert response.status_code == 200
        assert "There is a problem" in response.text
        response = client.submit_raw(f"{base}/age", {"age_band": value})
        assert response.status_code == 200
        client.submit(f"{base}/name", {"display_name": f"ok {index}"})
        for step in ("age", "contact", "consent"):
            data = dict(ANSWERS[step])
            if step == "contact":
                data["email"] = f"person{index}@example.org"
            client.submit(f"{base}/{step}", data)
        check = client.get(f"{base}/check")
        assert check.status_code in {200, 303}
        assert "<script>alert(1)</script>" not in check.text
    assert client.get("/workshops?audience=<script>").status_code == 200
    assert client.get("/workshops/%3Cscript%3E").status_code == 404
    assert client.get(f"{base}/nonsense").status_code == 404


def test_reminders_are_queued_two_days_and_two_hours_before_exactly_once(
    client, session, clock, settings, make_workshop
):
    workshop = make_workshop(starts_at=clock.now + timedelta(days=3))
    sign_up_through(client, workshop)

    def reminders():
        return [
            e for e in emails_to(session, "sky@example.org") if e.subject.startswith("Reminder")
        ]

    assert signups.send_reminders(session, settings, clock.now) == 0
    clock.advance(days=1, minutes=1)  # 2 days before
    assert signups.send_reminders(session, settings, clock.now) == 1
    assert signups.send_reminders(session, settings, clock.now) == 0  # the job ran twice
    clock.advance(days=1, hours=21, minutes=59)  # 2 hours before
    assert signups.send_reminders(session, settings, clock.now) == 1
    assert signups.send_reminders(session, settings, clock.now) == 0
    assert [r.subject for r in reminders()] == [
        "Reminder: Having your say is in 2 days",
        "Reminder: Having your say is in 2 hours",
    ]
    assert ("workshop reminders", signups.send_reminders) in jobs.REGISTERED


def test_signing_up_again_after_cancelling_reuses_the_same_record(client, session, make_workshop):
    workshop = make_workshop()
    sign_up_through(client, workshop)
    cancel_url = place(session, "sky@example.org") + "/cancel"
    client.submit(cancel_url, {})
    client.cookies.clear()
    again = sign_up_through(client, workshop)
    assert again.status_code == 303
    assert "You have a place" in client.get(place(session, "sky@example.org")).text
    session.expire_all()
    [row] = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).all()
    assert row.status == SignUpStatus.CONFIRMED
    # The old links stop working: each sign-up gets new ones.
    assert client.get(cancel_url).status_code == 404


def test_a_sign_up_is_in_my_data_export_and_erased_with_its_person(
    client, session, clock, make_workshop
):
    from app.services import my_data

    workshop = make_workshop()
    sign_up_through(client, workshop)
    row = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).one()
    exported = json.dumps(my_data.export_json(session, row.participant_id, clock.now))
    assert row.reference in exported
    assert "A quiet room, please" in exported
    my_data.erase(session, "participant", row.participant_id, reason="asked")
    session.flush()
    session.expire_all()
    assert session.get(SignUp, row.id) is None


def test_erasing_someone_with_a_place_gives_it_to_the_next_person(
    client, session, clock, make_workshop
):
    from app.services import my_data

    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="gone@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="next@example.org")
    gone = session.exec(select(SignUp).where(SignUp.contact_key == "gone@example.org")).one()
    my_data.erase(session, "participant", gone.participant_id, reason="asked")
    session.flush()
    session.expire_all()
    following = session.exec(select(SignUp).where(SignUp.contact_key == "next@example.org")).one()
    assert following.status == SignUpStatus.CONFIRMED


def test_withdrawing_consent_to_take_part_gives_the_place_to_the_next_person(
    client, session, make_workshop, clock
):
    from app.models import ConsentPurpose, Participant
    from app.services import consent

    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="first@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="second@example.org")
    session.expire_all()
    rows = {r.contact_key: r for r in session.exec(select(SignUp)).all()}
    first = session.get(Participant, rows["first@example.org"].participant_id)
    assert first is not None

    consent.withdraw(session, first, ConsentPurpose.TAKE_PART, clock.now)
    session.expire_all()
    assert session.get(SignUp, rows["first@example.org"].id).status == SignUpStatus.CANCELLED
    assert session.get(SignUp, rows["second@example.org"].id).status == SignUpStatus.CONFIRMED
    # Withdrawing another purpose (being quoted) leaves places alone.
    second = session.get(Participant, rows["second@example.org"].participant_id)
    consent.give_current(session, second, ConsentPurpose.BE_QUOTED, clock.now)
    consent.withdraw(session, second, ConsentPurpose.BE_QUOTED, clock.now)
    session.expire_all()
    assert session.get(SignUp, rows["second@example.org"].id).status == SignUpStatus.CONFIRMED


def test_what_was_typed_on_a_page_is_kept_when_sign_up_closes_meanwhile(
    client, session, clock, make_workshop
):
    from app.models import SignUpDraft

    workshop = make_workshop(sign_up_closes_at=clock.now + timedelta(minutes=5))
    base = f"/workshops/{workshop.slug}/sign-up"
    token = client.csrf(f"{base}/name")
    clock.advance(minutes=10)
    response = client.post(f"{base}/name", data={"csrf_token": token, "display_name": "Rowan"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/workshops/{workshop.slug}"
    session.expire_all()
    drafts = session.exec(select(SignUpDraft)).all()
    assert any("Rowan" in str(d.answers) for d in drafts)
