"""Issue 10: workshops as families and facilitators really use them.

Each test names the bug or the feature it covers; every bug test failed before the fix.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import timedelta

from icalendar import Calendar
from sqlmodel import col, select

from app.models import (
    AuditEntry,
    ConsentPurpose,
    ConsentState,
    OutboxEmail,
    Participant,
    Role,
    SignUp,
    SignUpStatus,
    Workshop,
    WorkshopFacilitator,
    WorkshopMode,
)
from app.services import consent, signups
from tests.conftest import shared_fixture
from tests.factories import make_staff, sign_in
from tests.test_join import join_with
from tests.test_signup import emails_to, manage_link, sign_up_through
from tests.test_workshop_staff import as_staff, form_in


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


def rows_of(session, workshop) -> list[SignUp]:
    session.expire_all()
    return list(session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).all())


def answer(client, workshop, steps: dict[str, dict[str, str]]) -> None:
    """Answer these pages of the sign-up, each of which must move on."""
    for step, data in steps.items():
        response = client.submit(f"/workshops/{workshop.slug}/sign-up/{step}", data)
        assert response.status_code == 303, (step, response.text[:1500])


def staff_page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.text[:1000]
    return response.text


# --- safety and correctness ---------------------------------------------------------------


def test_an_adult_cannot_take_a_place_on_a_workshop_for_13_to_17_year_olds(
    client, session, make_workshop
):
    workshop = make_workshop(title="For teenagers")  # young people aged 13 to 17
    make_workshop(title="For parents", audience="parents", age_range="parents")
    base = f"/workshops/{workshop.slug}/sign-up"
    client.submit(f"{base}/name", {"display_name": "Sam"})
    chose = client.submit(f"{base}/age", {"age_band": "26_plus"})
    assert chose.headers["location"] == f"{base}/not-for-you"
    page = client.get(f"{base}/not-for-you").text
    assert "This workshop is for young people aged 13 to 17" in page
    assert "For parents" in page  # the workshops that are for them
    assert f"/workshops/{workshop.slug}/family/children" in page  # a parent signs up a child
    # Going round it: answering every later page still ends on the kind page, with no place.
    for step, data in {
        "contact": {"whose": "mine", "email": "sam@example.org"},
        "access": {"access_needs": ""},
        "anything-else": {"anything_else": ""},
        "consent": {"agree": "yes"},
    }.items():
        client.submit(f"{base}/{step}", data)
    assert client.get(f"{base}/check").headers["location"] == f"{base}/not-for-you"
    assert client.submit(f"{base}/check", {}, page=f"{base}/name").headers["location"] == (
        f"{base}/not-for-you"
    )
    answers = {
        "display_name": "Sam",
        "age_band": "26_plus",
        "whose": "mine",
        "email": "sam@example.org",
        "agree": ["yes"],
    }
    from app.config import get_settings

    outcome = signups.sign_up(session, get_settings(), workshop.id, answers, workshop.created_at)
    assert outcome.result == "unavailable"
    assert rows_of(session, workshop) == []
    assert emails_to(session, "sam@example.org") == []
    # Someone the right age is welcome, of course.
    client.cookies.clear()
    assert sign_up_through(client, workshop, email="teen@example.org").status_code == 303
    assert [r.contact_key for r in rows_of(session, workshop)] == ["teen@example.org"]


def test_staff_give_a_reserved_place_to_anyone_with_a_reason_recorded(
    client, session, make_workshop
):
    workshop = make_workshop(reserved_places=1)
    as_staff(client, session, Role.ADMIN)
    url = f"/staff/workshops/{workshop.id}/reserved"
    person = {
        "display_name": "Jo",
        "age_band": "26_plus",
        "whose": "mine",
        "email": "jo@example.org",
        "agreed": "yes",
    }
    refused = client.submit(url, person)
    assert refused.status_code == 200
    assert "Say why you are giving a place to someone of another age" in refused.text
    given = client.submit(url, dict(person, reason="Peer ambassador, helps run it"))
    assert given.status_code == 303
    [row] = rows_of(session, workshop)
    assert row.reserved and row.reserved_reason == "Peer ambassador, helps run it"
    assert "Peer ambassador, helps run it" in staff_page(client, f"/staff/workshops/{workshop.id}")
    # Other modules commit for real (concurrency tests): look for this place's entry only.
    entry = session.exec(
        select(AuditEntry)
        .where(AuditEntry.action == "sign_up.reserved_place_given")
        .order_by(col(AuditEntry.id).desc())
    ).first()
    assert entry is not None and entry.record_id == str(row.id)
    assert entry.detail["outside_audience"] is True


def test_check_in_works_only_on_the_day_and_the_scanned_page_says_when(
    client, session, settings, make_workshop, clock
):
    workshop = make_workshop(starts_at=clock.now + timedelta(days=12))
    sign_up_through(client, workshop)
    [row] = rows_of(session, workshop)
    as_staff(client, session, Role.ADMIN)
    scanned = signups.links(settings, row)["check_in"].removeprefix("http://testserver")
    page = staff_page(client, scanned)
    assert "This code is for Saturday 5 December at 10am" in page
    assert "You can check people in on the day" in page
    assert "Mark as here" not in page
    refused = client.submit(scanned, {})
    assert refused.status_code == 303
    assert rows_of(session, workshop)[0].checked_in_at is None
    listed = staff_page(client, f"/staff/workshops/{workshop.id}")
    assert "Mark as here" not in listed and "You can check people in on the day" in listed
    direct = client.submit(
        f"/staff/workshops/{workshop.id}/sign-ups/{row.id}/check-in",
        {"here": "yes"},
        page=f"/staff/workshops/{workshop.id}",
    )
    assert direct.status_code == 303
    assert rows_of(session, workshop)[0].checked_in_at is None
    # On the day, in the join code's window, it works.
    clock.advance(days=12, minutes=-10)
    sign_in(client, session, staff=make_staff(session, Role.ADMIN), now=clock.now)
    assert "Mark as here" in staff_page(client, scanned)
    client.submit(scanned, {})
    assert rows_of(session, workshop)[0].checked_in_at is not None


def test_a_code_for_another_workshop_says_so(client, session, settings, make_workshop, clock):
    on_now = make_workshop(title="On now", starts_at=clock.now + timedelta(minutes=10))
    later = make_workshop(title="Next week", starts_at=clock.now + timedelta(days=7))
    sign_up_through(client, later)
    [row] = rows_of(session, later)
    me = as_staff(client, session, Role.FACILITATOR)
    for workshop in (on_now, later):
        session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))
    session.commit()
    scanned = signups.links(settings, row)["check_in"].removeprefix("http://testserver")
    page = staff_page(client, scanned)
    assert "This code is for another workshop" in page and "On now" in page


def test_people_who_joined_with_the_code_are_on_the_list_counted_and_in_the_csv(
    client, session, make_workshop, clock
):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10))
    sign_up_through(client, workshop)  # Sky signs up; not here yet
    for name in ("Ali", "Bo"):
        client.cookies.clear()
        assert join_with(client, workshop.join_code, name).status_code == 303
    as_staff(client, session, Role.ADMIN)
    page = staff_page(client, f"/staff/workshops/{workshop.id}")
    assert "2 of 3 here" in page
    assert "2 joined with the code" in page
    assert page.count('<strong class="tag">Joined with the code</strong>') == 2
    export = client.get(f"/staff/workshops/{workshop.id}/attendees.csv").text
    rows = list(csv.reader(io.StringIO(export)))
    joined = [r for r in rows if r[2] == "Joined with the code"]
    assert [r[1] for r in joined] == ["Ali", "Bo"] and all(r[8] for r in joined)


def test_capacity_below_the_places_taken_warns_and_asks_to_confirm(client, session, make_workshop):
    workshop = make_workshop(capacity=3)
    for n in range(3):
        client.cookies.clear()
        sign_up_through(client, workshop, email=f"p{n}@example.org")
    as_staff(client, session, Role.ADMIN)
    edit = f"/staff/workshops/{workshop.id}/edit"
    values = dict(
        form_in(workshop),
        mode="in_person",
        online_link="",
        capacity="2",
        reserved_places="0",
        starts_at="2026-12-03T10:00",
        ends_at="2026-12-03T12:00",
        sign_up_closes_at="",
    )
    warned = client.submit(edit, values)
    assert warned.status_code == 200
    assert "3 people already have a place, which is more than 2" in warned.text
    assert "Yes, keep the new capacity" in warned.text
    session.expire_all()
    assert session.get(Workshop, workshop.id).capacity == 3
    kept = client.submit(edit, dict(values, capacity_confirmed="yes"))
    assert kept.status_code == 303
    session.expire_all()
    assert session.get(Workshop, workshop.id).capacity == 2
    assert {r.status for r in rows_of(session, workshop)} == {SignUpStatus.CONFIRMED}


def test_a_start_in_the_past_is_refused(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    past = dict(form_in(workshop), starts_at="2026-11-20T10:00", ends_at="2026-11-20T12:00")
    created = client.submit("/staff/workshops/new", dict(past, sign_up_closes_at=""))
    assert created.status_code == 200
    assert "The start must be in the future" in created.text
    changed = client.submit(
        f"/staff/workshops/{workshop.id}/edit", dict(past, sign_up_closes_at="")
    )
    assert "The start must be in the future" in changed.text


def test_dates_say_the_year_when_it_is_not_this_year(client, session, make_workshop, clock):
    from datetime import UTC, datetime

    this_year = make_workshop(title="This year")
    next_year = make_workshop(title="Next year", starts_at=datetime(2027, 1, 14, 16, tzinfo=UTC))
    as_staff(client, session, Role.ADMIN)
    assert "Thursday 14 January 2027 at 4pm" in staff_page(
        client, f"/staff/workshops/{next_year.id}"
    )
    assert (
        "2026" not in staff_page(client, f"/staff/workshops/{this_year.id}").split("When")[1][:80]
    )
    client.cookies.clear()
    sign_up_through(client, next_year, email="jan@example.org")
    [email] = emails_to(session, "jan@example.org")
    assert "Thursday 14 January 2027 at 4pm" in email.body_text


def test_changing_the_date_emails_everyone_what_changed_with_a_new_calendar_file(
    client, session, make_workshop
):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="has@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="waits@example.org")
    as_staff(client, session, Role.ADMIN)
    values = dict(
        form_in(workshop),
        mode="in_person",
        online_link="",
        place="The Hive, Leeds",
        capacity="1",
        reserved_places="0",
        starts_at="2026-12-04T15:00",
        ends_at="2026-12-04T17:00",
        sign_up_closes_at="",
    )
    done = client.submit(f"/staff/workshops/{workshop.id}/edit", values)
    assert done.status_code == 303
    [has] = [e for e in emails_to(session, "has@example.org") if e.subject.startswith("Changed")]
    [waits] = [
        e for e in emails_to(session, "waits@example.org") if e.subject.startswith("Changed")
    ]
    assert "It is now Friday 4 December at 3pm" in has.body_text
    assert "Thursday 3 December at 10am" in has.body_text  # what it was
    event = Calendar.from_ical(base64.b64decode(has.attachments[0]["content_b64"])).walk("VEVENT")[
        0
    ]
    assert event.decoded("dtstart").hour == 15
    assert waits.attachments == []  # no calendar file until the place is theirs
    assert "It is now Friday 4 December at 3pm" in waits.body_text
    # Saving again without a change emails nobody.
    client.submit(f"/staff/workshops/{workshop.id}/edit", values)
    assert (
        len(
            session.exec(select(OutboxEmail).where(OutboxEmail.subject.startswith("Changed"))).all()
        )
        == 2
    )  # type: ignore[union-attr]


def test_the_waiting_list_is_told_its_number_and_gets_no_calendar_file(
    client, session, make_workshop
):
    workshop = make_workshop(capacity=1)
    for n in range(3):
        client.cookies.clear()
        sign_up_through(client, workshop, email=f"w{n}@example.org")
    [email] = emails_to(session, "w2@example.org")
    assert email.subject.startswith("You're on the waiting list, number 2")
    assert email.attachments == []
    assert "calendar" not in email.body_text.lower()
    assert "Take your name off the waiting list" in email.body_text
    link = manage_link(email)
    page = client.get(link).text
    assert "You&#39;re on the waiting list, number 2" in page
    assert "calendar" not in page.lower() and "Give up your place" not in page
    assert 'class="panel"' not in page  # no green success box
    assert client.get(f"{link}/calendar.ics").status_code == 303


def test_an_online_only_workshop_shows_no_check_in_code(client, session, make_workshop):
    workshop = make_workshop(
        mode=WorkshopMode.ONLINE, place=None, online_link="https://video.example.org/r"
    )
    sign_up_through(client, workshop)
    [email] = emails_to(session, "sky@example.org")
    assert "check-in code" not in email.body_text
    page = client.get(manage_link(email)).text
    assert "check-in.svg" not in page and "On the day" not in page


def test_the_parent_done_page_without_an_answer_says_neither_yes_nor_no(client):
    page = client.get("/parent/consent/done").text
    assert "You said no" not in page and "You said yes" not in page
    assert "You said no" in client.get("/parent/consent/done?answer=no").text


def test_admins_have_an_audit_log_and_nobody_else_does(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    client.submit(f"/staff/workshops/{workshop.id}/code/rotate", {}, page="/staff")
    page = staff_page(client, "/staff/audit")
    assert "workshop.code_rotated" in page
    assert "Audit log" in staff_page(client, "/staff")
    assert "workshop.code_rotated" in staff_page(client, "/staff/audit?action=workshop.")
    assert "workshop.code_rotated" not in staff_page(client, "/staff/audit?action=consent.")
    for hostile in hostile_inputs()[:12]:
        assert (
            client.get("/staff/audit", params={"action": hostile, "before": hostile}).status_code
            == 200
        )
    as_staff(client, session, Role.FACILITATOR)
    assert client.get("/staff/audit").status_code == 403


def test_page_not_found_keeps_the_staff_menu(client, session):
    as_staff(client, session, Role.ADMIN)
    missing = client.get("/staff/no-such-page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert 'href="/staff"' in missing.text and "Sign out" in missing.text


def test_a_facilitator_sees_their_workshops_and_others_are_run_by_someone_else(
    client, session, make_workshop
):
    workshop = make_workshop()
    as_staff(client, session, Role.FACILITATOR)
    home = staff_page(client, "/staff")
    assert 'href="/staff/workshops"' in home
    assert "You don't run any workshops yet" in staff_page(client, "/staff/workshops")
    theirs = client.get(f"/staff/workshops/{workshop.id}")
    assert theirs.status_code == 404
    assert "This workshop is run by someone else" in theirs.text
    nothing = client.get("/staff/workshops/999999")
    assert nothing.status_code == 404 and "Page not found" in nothing.text


def test_a_deleted_persons_old_link_says_the_account_was_deleted(
    client, session, settings, make_workshop
):
    workshop = make_workshop()
    sign_up_through(client, workshop)
    [email] = emails_to(session, "sky@example.org")
    link = manage_link(email)
    [row] = rows_of(session, workshop)
    scanned = signups.links(settings, row)["check_in"].removeprefix("http://testserver")
    sign_in(client, session, participant=session.get(Participant, row.participant_id))
    assert client.submit("/me/delete", {}, page="/me/delete").status_code == 303
    gone = client.get(link)
    assert gone.status_code == 404
    assert "This link no longer works because the account was deleted" in gone.text
    assert "deleted" in client.get(f"{link}/cancel").text
    as_staff(client, session, Role.ADMIN)
    assert "account was deleted" in client.get(scanned).text
    assert "Page not found" in client.get("/sign-ups/never-was-a-link").text


def test_stop_taking_part_asks_first_and_says_which_places_go(client, session, make_workshop):
    workshop = make_workshop(title="Care day")
    sign_up_through(client, workshop)
    [row] = rows_of(session, workshop)
    me = session.get(Participant, row.participant_id)
    sign_in(client, session, participant=me)
    take_part = consent.latest(session, me.id, ConsentPurpose.TAKE_PART)
    page = staff_page(client, "/me")
    assert f'href="/me/consents/{take_part.id}/withdraw"' in page
    confirm = staff_page(client, f"/me/consents/{take_part.id}/withdraw")
    assert "Stop taking part?" in confirm and "Care day" in confirm
    # One tap from an old page (no confirmation) changes nothing: it goes to the question.
    one_tap = client.submit(f"/me/consents/{take_part.id}/withdraw", {}, page="/me")
    assert one_tap.headers["location"] == f"/me/consents/{take_part.id}/withdraw"
    assert consent.has_consent(session, me.id, ConsentPurpose.TAKE_PART)
    sure = client.submit(f"/me/consents/{take_part.id}/withdraw", {"confirm": "yes"}, page="/me")
    assert sure.status_code == 303
    session.expire_all()
    assert not consent.has_consent(session, me.id, ConsentPurpose.TAKE_PART)
    assert rows_of(session, workshop)[0].status == SignUpStatus.CANCELLED


# --- facilitators -----------------------------------------------------------------------


def test_the_staff_list_shows_places_waiting_access_needs_and_whats_new(
    client, session, make_workshop, clock
):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="a@example.org")  # has "A quiet room, please"
    staff = as_staff(client, session, Role.ADMIN)
    page = staff_page(client, "/staff/workshops")
    assert "1 of 1 taken" in page and "You have not looked at it yet" in page
    assert "1 person told us what they need" in page
    staff_page(client, f"/staff/workshops/{workshop.id}")  # looked now
    clock.advance(minutes=5)
    client.cookies.clear()
    sign_up_through(client, workshop, email="b@example.org")
    sign_in(client, session, staff=staff, now=clock.now)
    page = staff_page(client, "/staff/workshops")
    assert "1 new since you last looked" in page
    assert "<dt>Waiting list</dt><dd>1</dd>" in page


def test_the_attendee_list_searches_filters_and_sorts(client, session, make_workshop, clock):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10), capacity=2)
    for name, email in (
        ("Zoe", "z@example.org"),
        ("Adam", "a@example.org"),
        ("Max", "m@example.org"),
    ):
        client.cookies.clear()
        sign_up_through(client, workshop, display_name=name, email=email)
        clock.advance(minutes=1)
    as_staff(client, session, Role.ADMIN)
    base = f"/staff/workshops/{workshop.id}"
    zoe = next(r for r in rows_of(session, workshop) if r.display_name == "Zoe")
    client.submit(f"{base}/sign-ups/{zoe.id}/check-in", {"here": "yes"}, page=base)

    def names(query: str) -> list[str]:
        text = staff_page(client, f"{base}?{query}")
        return re.findall(r'<h3 class="card__title" hx-disable>([^<]+)</h3>', text)

    assert names("") == ["Zoe", "Adam", "Max"]  # places first, then the waiting list
    assert names("sort=name") == ["Adam", "Max", "Zoe"]
    assert names("sort=signed_up") == ["Zoe", "Adam", "Max"]
    assert names("show=here") == ["Zoe"]
    assert names("show=not_here") == ["Adam"]
    assert names("show=waiting") == ["Max"]
    assert names("q=ad") == ["Adam"]
    assert "1 of 2 here" in staff_page(client, base)
    # HTMX: the list (and its live stream, with the same filter) swap in place.
    swapped = client.get(
        f"{base}?show=here", headers={"HX-Request": "true", "HX-Target": "attendees-live"}
    )
    assert swapped.text.lstrip().startswith('<div id="attendees-live"')
    assert "show=here" in swapped.text  # the live stream keeps the filter
    for hostile in hostile_inputs()[:20]:
        assert (
            client.get(base, params={"q": hostile, "show": hostile, "sort": hostile}).status_code
            == 200
        )


def test_the_projector_view_shows_the_code_qr_address_and_time_and_nothing_else(
    client, session, make_workshop, clock
):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10))
    as_staff(client, session, Role.ADMIN)
    page = staff_page(client, f"/staff/workshops/{workshop.id}/code/projector")
    assert workshop.join_code in page
    assert f"/staff/workshops/{workshop.id}/code.svg" in page
    assert "testserver/join" in page
    assert "Works until 1:10pm" in page  # an hour after it ends
    for absent in ("site-header", "exit-this-page", "help-box", "Need to talk?", "<footer"):
        assert absent not in page


def test_staff_message_the_waiting_list_everyone_or_only_those_here(
    client, session, make_workshop, clock
):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10), capacity=1)
    sign_up_through(client, workshop, email="here@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="waits@example.org")
    as_staff(client, session, Role.ADMIN)
    base = f"/staff/workshops/{workshop.id}"
    [here] = [r for r in rows_of(session, workshop) if r.status == SignUpStatus.CONFIRMED]
    client.submit(f"{base}/sign-ups/{here.id}/check-in", {"here": "yes"}, page=base)
    form = staff_page(client, f"{base}/message")
    assert "Everyone on the waiting list (1)" in form and "Only the people who are here" in form

    def send(to: str, subject: str) -> set[str]:
        assert (
            client.submit(
                f"{base}/message", {"to": to, "subject": subject, "message": "Hi"}
            ).status_code
            == 303
        )
        sent = session.exec(
            select(OutboxEmail).where(OutboxEmail.subject.startswith(subject))
        ).all()  # type: ignore[union-attr]
        return {e.to_address for e in sent}

    assert send("waiting", "Waiting news") == {"waits@example.org"}
    assert send("here", "Room news") == {"here@example.org"}
    assert send("everyone", "All news") == {"here@example.org", "waits@example.org"}
    missing = client.submit(f"{base}/message", {"subject": "", "message": ""})
    assert "Choose who to email" in missing.text and "Enter a subject" in missing.text


def test_staff_record_a_parents_yes_given_in_person(client, session, make_workshop, clock):
    workshop = make_workshop(audience="children", age_range="8 to 12")
    sign_up_through(
        client,
        workshop,
        age_band="under_13",
        whose="parent",
        email="mum@example.org",
        display_name="Kit",
    )
    [row] = rows_of(session, workshop)
    staff = as_staff(client, session, Role.ADMIN)
    base = f"/staff/workshops/{workshop.id}"
    assert f"{base}/sign-ups/{row.id}/parent-yes" in staff_page(client, base)
    url = f"{base}/sign-ups/{row.id}/parent-yes"
    both_missing = client.submit(url, {})
    assert "Choose how the parent or carer said yes" in both_missing.text
    assert "Tick the box to confirm" in both_missing.text  # every problem at once
    done = client.submit(url, {"how": "on_paper", "confirm": "yes"})
    assert done.status_code == 303
    record = consent.latest(session, row.participant_id, ConsentPurpose.PARENT_CONSENT)
    assert record.state == ConsentState.GIVEN and record.given_at == clock.now
    assert record.given_how == "on_paper" and record.recorded_by_staff_id == staff.id
    assert "Needs a parent&#39;s yes</strong>" not in staff_page(client, base)
    assert (
        session.exec(select(AuditEntry).where(AuditEntry.action == "consent.parent_yes_recorded"))
        .one()
        .detail["how"]
        == "on_paper"
    )


def test_confirmations_after_actions(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    values = dict(form_in(workshop), sign_up_closes_at="")
    created = client.submit("/staff/workshops/new", values)
    assert created.status_code == 303
    assert "Workshop created." in client.get(created.headers["location"]).text
    changed = client.submit(created.headers["location"] + "/edit", values)
    assert "Workshop changed." in client.get(changed.headers["location"]).text
    cancelled = client.submit(
        f"/staff/workshops/{workshop.id}/cancel", {"reason": "", "confirm": "yes"}
    )
    assert "The workshop is cancelled" in client.get(cancelled.headers["location"]).text


def test_every_form_error_is_reported_at_once(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    bad = dict(
        form_in(workshop),
        title="",
        mode="both",
        place="",
        online_link="",
        starts_at="2026-12-05T16:30",
        ends_at="2026-12-05T15:00",
        capacity="x",
        reserved_places="3",
        sign_up_closes_at="",
    )
    page = client.submit("/staff/workshops/new", bad).text
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    for words in (
        "Enter a title",
        "Enter where the workshop is",
        "Enter the joining link",
        "The end must be after the start",
        "Capacity must be a whole number",
    ):
        assert words in summary, words


def test_dangerous_buttons_look_dangerous(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    page = staff_page(client, f"/staff/workshops/{workshop.id}")
    assert 'class="button button--warning" href="/staff/workshops/' in page
    code = staff_page(client, f"/staff/workshops/{workshop.id}/code")
    assert 'button--warning" type="submit">Make a new code' in code


def test_the_csv_says_statuses_in_words(client, session, make_workshop):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="a@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="b@example.org")
    as_staff(client, session, Role.ADMIN)
    rows = list(
        csv.reader(io.StringIO(client.get(f"/staff/workshops/{workshop.id}/attendees.csv").text))
    )
    assert [r[2] for r in rows[1:]] == ["Has a place", "On the waiting list"]
    assert {r[5] for r in rows[1:]} == {"No"} and {r[11] for r in rows[1:]} == {"Not needed"}


# --- families ---------------------------------------------------------------------------


def family_journey(client, workshop, **extra: dict[str, str]):
    base = f"/workshops/{workshop.slug}/family"
    steps = {
        "children": {
            "child_name": "Ava",
            "child_age": "under_13",
            "second_name": "Sam",
            "second_age": "under_13",
        },
        "contact": {"email": "parent@example.org"},
        "access": {"access_needs": "Ava uses a wheelchair", "second_access_needs": ""},
        "consent": {"parent_agree": "yes"},
    }
    for step, data in {**steps, **extra}.items():
        response = client.submit(f"{base}/{step}", data)
        assert response.status_code == 303, (step, response.text[:2000])
    return client.submit(f"{base}/check", {}, page=f"{base}/children")


def test_a_parent_signs_up_two_children_says_yes_on_the_way_and_gets_one_email(
    client, session, make_workshop
):
    workshop = make_workshop(audience="children", age_range="8 to 12", capacity=1)
    detail = client.get(f"/workshops/{workshop.slug}").text
    assert "I'm a parent or carer signing up my child" in detail
    first = client.get(f"/workshops/{workshop.slug}/family/children").text
    assert "Your child&#39;s first name or nickname" in first  # the questions speak to the parent
    check = family_journey(client, workshop)
    assert check.headers["location"] == f"/workshops/{workshop.slug}/family/sent"
    assert "Check your email" in client.get(check.headers["location"]).text
    rows = sorted(rows_of(session, workshop), key=lambda r: r.id)
    assert [(r.display_name, r.status) for r in rows] == [
        ("Ava", SignUpStatus.CONFIRMED),
        ("Sam", SignUpStatus.WAITING),
    ]
    assert all(r.contact_is_parent and r.contact_email == "parent@example.org" for r in rows)
    assert rows[0].access_needs == "Ava uses a wheelchair" and rows[1].access_needs is None
    [email] = emails_to(session, "parent@example.org")  # one email, no "please approve"
    assert "Ava has a place" in email.body_text
    assert "Sam is on the waiting list, number 1" in email.body_text
    assert len(email.attachments) == 1
    for row in rows:
        record = consent.latest(session, row.participant_id, ConsentPurpose.PARENT_CONSENT)
        assert record.state == ConsentState.GIVEN and record.given_how == "sign_up"
        assert "Ava and Sam" in record.wording
        assert not signups.waits_for_parent(
            session, __import__("app.config", fromlist=["x"]).get_settings(), row
        )
    # Each child's page shows the other, and Ava (with a place) is not "kept" for a parent.
    page = client.get(manage_link(email)).text
    assert "Also signed up with this email" in page and "Sam" in page
    assert "Your place is kept" not in page


def test_the_parent_journey_refuses_a_child_outside_the_age_and_reports_everything_at_once(
    client, make_workshop
):
    workshop = make_workshop()  # 13 to 17
    page = client.submit(
        f"/workshops/{workshop.slug}/family/children",
        {"child_name": "", "child_age": "under_13", "second_name": "Sam"},
    ).text
    assert "Enter your child&#39;s first name or nickname" in page  # a message: escaped
    assert "This workshop is for young people aged 13 to 17" in page
    assert "Choose how old your second child is" in page
    for hostile in hostile_inputs():
        response = client.submit_raw(
            f"/workshops/{workshop.slug}/family/children",
            {"child_name": hostile, "child_age": hostile, "second_name": hostile},
        )
        assert response.status_code in (200, 303)
    for_adults = make_workshop(audience="young_adults", age_range="18 to 25")
    assert client.get(f"/workshops/{for_adults.slug}/family/children").status_code == 404


def test_the_parent_consent_page_says_when_where_and_what_the_child_will_do(
    client, session, make_workshop
):
    workshop = make_workshop(audience="children", age_range="8 to 12", title="Draw it")
    sign_up_through(
        client,
        workshop,
        age_band="under_13",
        whose="parent",
        email="mum@example.org",
        display_name="Kit",
    )
    [asked] = [
        e for e in emails_to(session, "mum@example.org") if "wants to take part" in e.subject
    ]
    link = re.search(r"http://testserver(/parent/consent\?token=\S+)", asked.body_text).group(1)
    page = client.get(link).text
    assert "Thursday 3 December at 10am until midday" in page
    assert "The Hive, Leeds" in page
    assert "Two hours with other young people" in page  # what they will do
    assert "Everything they write is checked" not in page


def test_sign_up_asks_in_person_or_online_and_about_travel_when_it_matters(
    client, session, make_workshop
):
    workshop = make_workshop(
        mode=WorkshopMode.BOTH, online_link="https://video.example.org/x", pays_travel=True
    )
    base = f"/workshops/{workshop.slug}/sign-up"
    answer(
        client,
        workshop,
        {
            "name": {"display_name": "Sky"},
            "age": {"age_band": "16_17"},
            "contact": {"whose": "mine", "email": "sky@example.org"},
        },
    )
    assert "Will you come in person or join online?" in client.get(f"{base}/how").text
    assert (
        client.submit(f"{base}/how", {"attend_mode": "in_person"}).headers["location"]
        == f"{base}/travel"
    )
    assert "Do you want us to pay for your travel?" in client.get(f"{base}/travel").text
    answer(
        client,
        workshop,
        {
            "travel": {"travel": "yes"},
            "access": {"access_needs": ""},
            "anything-else": {"anything_else": ""},
            "consent": {"agree": "yes"},
        },
    )
    check = client.get(f"{base}/check").text
    assert "How you will come" in check and "Pay for your travel" in check
    client.submit(f"{base}/check", {})
    [row] = rows_of(session, workshop)
    assert row.attend_mode == "in_person" and row.wants_travel_costs is True
    # Online: no travel question. A workshop in one place only asks neither.
    client.cookies.clear()
    answer(
        client,
        workshop,
        {
            "name": {"display_name": "Jo"},
            "age": {"age_band": "16_17"},
            "contact": {"whose": "mine", "email": "jo@example.org"},
        },
    )
    assert (
        client.submit(f"{base}/how", {"attend_mode": "online"}).headers["location"]
        == f"{base}/access"
    )
    plain = make_workshop(title="Plain")
    assert client.get(f"/workshops/{plain.slug}/sign-up/how").status_code == 404
    assert client.get(f"/workshops/{plain.slug}/sign-up/travel").status_code == 404


def test_an_email_without_its_ending_gets_a_helpful_message(client, make_workshop):
    workshop = make_workshop()
    answer(client, workshop, {"name": {"display_name": "Kai"}, "age": {"age_band": "16_17"}})
    page = client.submit(
        f"/workshops/{workshop.slug}/sign-up/contact", {"whose": "mine", "email": "kai@gmail"}
    ).text
    assert "Check the end of your email address, for example name@gmail.com" in page
    assert 'value="kai@gmail"' in page


def test_a_code_for_another_day_says_when_it_works(client, make_workshop, clock):
    workshop = make_workshop(starts_at=clock.now + timedelta(days=20, hours=6))
    page = client.submit("/join", {"code": workshop.join_code}).text
    assert "This code works on Sunday 13 December from 3:30pm" in page
    assert workshop.title not in page


def test_a_name_that_looks_like_a_full_name_gets_a_gentle_nudge(client, make_workshop):
    workshop = make_workshop()
    base = f"/workshops/{workshop.slug}/sign-up"
    nudged = client.submit(f"{base}/name", {"display_name": "Sky Brown"})
    assert nudged.status_code == 200
    assert "Is that your full name?" in nudged.text
    assert "Error:" not in nudged.text.split("<title>")[1].split("</title>")[0]
    assert 'value="Sky Brown"' in nudged.text
    kept = client.submit(f"{base}/name", {"display_name": "Sky Brown", "nudged": "Sky Brown"})
    assert kept.headers["location"] == f"{base}/age"
    for fine in ("Sky", "Sky B", "Person 12"):
        assert client.submit(f"{base}/name", {"display_name": fine}).status_code == 303


def test_back_to_your_workshop_on_the_home_page(client, session, make_workshop, clock):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10))
    assert "Back to your workshop" not in client.get("/").text
    join_with(client, workshop.join_code, "Sky")
    home = client.get("/").text
    assert "Back to your workshop" in home and f"/workshops/{workshop.slug}/room" in home
    client.cookies.clear()
    assert "Back to your workshop" not in client.get("/").text  # the shared page never has it


def test_the_room_says_who_runs_it_what_happens_and_where_things_are(
    client, session, make_workshop, clock
):
    workshop = make_workshop(
        starts_at=clock.now + timedelta(minutes=10),
        today_plan="We start with a game.\nThen we talk in small groups.",
        toilets="Down the corridor, on the left",
        quiet_space="The green room, next door",
    )
    staff = make_staff(session, Role.FACILITATOR)
    staff.display_name = "Priya Shah"
    session.add(staff)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=staff.id))
    session.commit()
    join_with(client, workshop.join_code, "Sky")
    room = client.get(f"/workshops/{workshop.slug}/room").text
    assert "<dt>Who is running it</dt><dd>Priya</dd>" in room and "Shah" not in room
    assert "We start with a game." in room and "Then we talk in small groups." in room
    assert "Down the corridor, on the left" in room and "The green room, next door" in room


def test_staff_write_the_rooms_words_in_the_workshop_form(client, session, make_workshop):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    values = dict(
        form_in(workshop),
        sign_up_closes_at="",
        today_plan="A game, then groups",
        toilets="Ground floor",
        quiet_space="Room 2",
        pays_travel="yes",
    )
    created = client.submit("/staff/workshops/new", values)
    assert created.status_code == 303
    made = session.exec(select(Workshop).where(Workshop.today_plan == "A game, then groups")).one()
    assert (made.toilets, made.quiet_space, made.pays_travel) == ("Ground floor", "Room 2", True)


def test_my_stuff_reads_like_a_page(client, session, make_workshop):
    workshop = make_workshop(title="Care day")
    sign_up_through(client, workshop)
    [row] = rows_of(session, workshop)
    sign_in(client, session, participant=session.get(Participant, row.participant_id))
    page = staff_page(client, "/me")
    summary = page.split('id="summary"')[1].split("</section>")[0]
    assert "16 or 17" in summary and "sky@example.org" in summary
    assert "16_17" not in page and "Workshop id" not in page
    assert 'href="/sign-ups/' in page and ">Care day</a>" in page
    assert "Using your words in reports (without your name): not asked" in page
    assert page.index('id="summary"') < page.index("Show everything we hold")
    assert "<details" in page


def test_hostile_inputs_never_break_the_new_forms(client, session, make_workshop, clock):
    workshop = make_workshop(
        audience="children", age_range="8 to 12", starts_at=clock.now + timedelta(minutes=10)
    )
    sign_up_through(
        client,
        workshop,
        age_band="under_13",
        whose="parent",
        email="mum@example.org",
        display_name="Kit",
    )
    [row] = rows_of(session, workshop)
    as_staff(client, session, Role.ADMIN)
    base = f"/staff/workshops/{workshop.id}"
    for hostile in hostile_inputs():
        for path, data in (
            (f"{base}/sign-ups/{row.id}/parent-yes", {"how": hostile, "confirm": hostile}),
            (f"{base}/message", {"to": hostile, "subject": hostile, "message": hostile}),
            (
                f"{base}/reserved",
                {"display_name": hostile, "age_band": "26_plus", "reason": hostile},
            ),
            (
                f"/workshops/{workshop.slug}/sign-up/name",
                {"display_name": hostile, "nudged": hostile},
            ),
            (f"/workshops/{workshop.slug}/sign-up/how", {"attend_mode": hostile}),
            ("/staff/workshops/new", dict(form_in(workshop), today_plan=hostile, toilets=hostile)),
        ):
            response = client.submit_raw(path, data, page=base)
            assert response.status_code < 500, (path, hostile)
