"""Reserved places: staff give a place kept back from public sign-up, with the usual email."""

from __future__ import annotations

import base64
import json

from icalendar import Calendar
from sqlmodel import select

from app.models import (
    AuditEntry,
    Consent,
    ConsentPurpose,
    ConsentState,
    OutboxEmail,
    Role,
    SignUp,
    SignUpStatus,
    WorkshopFacilitator,
    WorkshopStatus,
)
from app.services import reserved_places, signups
from app.services import workshops as workshop_service
from tests.conftest import shared_fixture
from tests.test_signup import emails_to, manage_link, sign_up_through
from tests.test_workshop_staff import as_staff

PERSON = {
    "display_name": "Robin",
    "age_band": "16_17",
    "whose": "mine",
    "email": "robin@example.org",
    "access_needs": "A quiet room",
    "agreed": "yes",
}


def url(workshop) -> str:
    return f"/staff/workshops/{workshop.id}/reserved"


def give(client, workshop, **changes):
    return client.submit(url(workshop), dict(PERSON, **changes))


def facilitator_of(client, session, workshop):
    me = as_staff(client, session, Role.FACILITATOR)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))
    session.commit()
    return me


def reserved_rows(session, workshop):
    session.expire_all()
    return list(
        session.exec(
            select(SignUp).where(SignUp.workshop_id == workshop.id, SignUp.reserved)  # type: ignore[arg-type]
        ).all()
    )


def test_staff_give_a_reserved_place_and_the_person_gets_the_usual_email(
    client, session, make_workshop
):
    workshop = make_workshop(capacity=10, reserved_places=2)
    me = facilitator_of(client, session, workshop)
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert "Reserved places: 2 of 2 left" in page.text
    assert f'href="{url(workshop)}"' in page.text and "Give a reserved place" in page.text
    form = client.get(url(workshop))
    assert form.status_code == 200 and "<h1>Give a reserved place</h1>" in form.text

    done = give(client, workshop)
    assert done.status_code == 303
    assert done.headers["location"] == f"/staff/workshops/{workshop.id}"
    after = client.get(done.headers["location"])
    assert "The reserved place is given" in after.text
    assert "Reserved places: 1 of 2 left" in after.text
    assert "Reserved place</strong>" in after.text

    [row] = reserved_rows(session, workshop)
    assert row.status == SignUpStatus.CONFIRMED and row.display_name == "Robin"
    assert row.access_needs == "A quiet room" and not row.contact_is_parent
    [email] = emails_to(session, "robin@example.org")
    assert email.subject == f"You have a place: {workshop.title}"
    assert "/calendar.ics" in email.body_text and "/cancel" in email.body_text
    ics = Calendar.from_ical(base64.b64decode(email.attachments[0]["content_b64"]))
    assert [c.get("summary") for c in ics.walk("VEVENT")] == [workshop.title]
    assert client.get(manage_link(email)).status_code == 200
    export = client.get(f"/staff/workshops/{workshop.id}/attendees.csv").text.splitlines()
    assert export[0].endswith("Reserved place") and export[1].endswith(",Yes")

    record = session.exec(
        select(Consent).where(
            Consent.participant_id == row.participant_id,
            Consent.purpose == ConsentPurpose.TAKE_PART,
        )
    ).one()
    assert record.given_by == "staff" and record.wording == reserved_places.AGREED_WORDING
    entry = session.exec(
        select(AuditEntry).where(AuditEntry.action == "sign_up.reserved_place_given")
    ).one()
    assert entry.actor_type == "staff" and entry.actor_id == me.id
    assert entry.record_id == str(row.id)
    assert entry.detail == {"workshop_id": workshop.id, "participant_id": row.participant_id}


def test_a_child_needs_a_parent_email_and_the_parent_is_asked(client, session, make_workshop):
    workshop = make_workshop(reserved_places=1, audience="children", age_range="8 to 12")
    facilitator_of(client, session, workshop)
    mine = give(client, workshop, age_band="under_13", email="kid@example.org")
    assert mine.status_code == 200
    assert "Because of their age, we need their parent or carer" in mine.text
    assert not reserved_rows(session, workshop)
    done = give(client, workshop, age_band="under_13", whose="parent", email="mum@example.org")
    assert done.status_code == 303
    [row] = reserved_rows(session, workshop)
    assert row.contact_is_parent
    parent = session.exec(
        select(Consent).where(
            Consent.participant_id == row.participant_id,
            Consent.purpose == ConsentPurpose.PARENT_CONSENT,
        )
    ).one()
    assert parent.state == ConsentState.WAITING
    subjects = [e.subject for e in emails_to(session, "mum@example.org")]
    assert any("wants to take part" in s for s in subjects)
    assert any(s.startswith("Your place is kept until your parent") for s in subjects)


def test_refused_kindly_when_no_reserved_places_are_left(client, session, make_workshop):
    workshop = make_workshop(capacity=5, reserved_places=1)
    facilitator_of(client, session, workshop)
    assert give(client, workshop).status_code == 303
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert "Reserved places: 0 of 1 left" in page.text
    refused = give(client, workshop, display_name="Sam", email="sam@example.org")
    assert refused.status_code == 200
    assert "There is a problem" in refused.text
    assert "There are no reserved places left" in refused.text
    assert 'href="#reserved"' in refused.text and 'id="reserved"' in refused.text
    assert 'value="Sam"' in refused.text and 'value="sam@example.org"' in refused.text
    assert len(reserved_rows(session, workshop)) == 1
    assert not emails_to(session, "sam@example.org")


def test_only_while_published_and_before_it_starts(client, session, make_workshop, clock):
    from datetime import timedelta

    draft = make_workshop(reserved_places=2, status=WorkshopStatus.DRAFT)
    started = make_workshop(
        title="Started", reserved_places=2, starts_at=clock.now - timedelta(minutes=5)
    )
    as_staff(client, session, Role.ADMIN)
    for workshop in (draft, started):
        refused = give(client, workshop)
        assert refused.status_code == 200
        assert "only while the workshop is published and before it starts" in refused.text
        assert not reserved_rows(session, workshop)


def test_the_same_email_twice_is_already_signed_up(client, session, make_workshop):
    workshop = make_workshop(reserved_places=2)
    sign_up_through(client, workshop, email="sky@example.org")
    client.cookies.clear()
    facilitator_of(client, session, workshop)
    again = give(client, workshop, email="SKY@example.org")
    assert again.status_code == 200
    assert "Already signed up" in again.text and 'value="SKY@example.org"' in again.text
    assert give(client, workshop).status_code == 303
    twice = give(client, workshop)
    assert "Already signed up" in twice.text
    session.expire_all()
    rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).all()
    assert len(rows) == 2


def test_the_form_explains_every_problem_and_keeps_what_was_typed(client, session, make_workshop):
    workshop = make_workshop(reserved_places=1)
    facilitator_of(client, session, workshop)
    empty = client.submit(url(workshop), {})
    assert empty.status_code == 200
    assert "<title>Error: " in empty.text
    for words in (
        "Enter their name or nickname",
        "Choose how old they are",
        "Choose whose email address this is",
        "Enter an email address",
        "Tick the box to confirm they (or their parent or carer) agreed",
    ):
        assert words in empty.text
    bad = give(client, workshop, email="not an email", agreed="")
    assert 'value="not an email"' in bad.text and 'value="Robin"' in bad.text
    assert "Enter an email address like name@example.com" in bad.text
    assert not reserved_rows(session, workshop)


def test_only_the_workshops_own_staff_can_give_a_place(client, session, make_workshop):
    workshop = make_workshop(reserved_places=2)
    assert client.get(url(workshop)).status_code in {302, 303, 401, 403}
    anonymous = client.post(url(workshop), data=PERSON)
    assert anonymous.status_code in {302, 303, 401, 403}
    as_staff(client, session, Role.FACILITATOR)  # not assigned to this workshop
    assert client.get(url(workshop)).status_code == 404
    token = client.csrf("/staff/workshops")
    refused = client.post(url(workshop), data=dict(PERSON, csrf_token=token))
    assert refused.status_code == 404
    as_staff(client, session, Role.MODERATOR)
    assert client.get(url(workshop)).status_code == 403
    assert not reserved_rows(session, workshop)


def test_hostile_inputs_are_never_a_500_and_come_back_escaped(client, session, make_workshop):
    workshop = make_workshop(capacity=60, reserved_places=50)
    facilitator_of(client, session, workshop)
    inputs = json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]
    for n, value in enumerate(inputs):
        every = {name: value for name in PERSON}
        response = client.submit_raw(url(workshop), every)
        assert response.status_code == 200, value
        assert "<script>alert(1)</script>" not in response.text
        data = dict(PERSON, display_name=value[:60], access_needs=value, email=f"h{n}@example.org")
        response = client.submit_raw(url(workshop), data)
        assert response.status_code in {200, 303}, value
        assert "<script>alert(1)</script>" not in response.text
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_reserved_places_never_use_up_public_places(
    client, session, settings, make_workshop, clock
):
    workshop = make_workshop(capacity=3, reserved_places=1)  # 2 public places
    facilitator_of(client, session, workshop)
    assert give(client, workshop).status_code == 303
    assert workshop_service.confirmed_count(session, workshop.id) == 0
    client.cookies.clear()
    assert "2 places left" in client.get(f"/workshops/{workshop.slug}").text
    sign_up_through(client, workshop, email="a@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="b@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="c@example.org")  # full: waiting list
    session.expire_all()
    by_email = {r.contact_key: r for r in session.exec(select(SignUp)).all()}
    assert by_email["a@example.org"].status == SignUpStatus.CONFIRMED
    assert by_email["b@example.org"].status == SignUpStatus.CONFIRMED
    assert by_email["c@example.org"].status == SignUpStatus.WAITING
    assert "Full" in client.get(f"/workshops/{workshop.slug}").text

    # Cancelling the reserved place frees a reserved place, not a public one.
    assert signups.cancel(session, settings, by_email["robin@example.org"], clock.now)
    session.commit()
    session.expire_all()
    assert session.get(SignUp, by_email["c@example.org"].id).status == SignUpStatus.WAITING
    assert reserved_places.left(session, workshop) == 1

    # Cancelling a public place promotes the person waiting, into a public place.
    row = session.get(SignUp, by_email["a@example.org"].id)
    assert signups.cancel(session, settings, row, clock.now)
    session.commit()
    session.expire_all()
    promoted = session.get(SignUp, by_email["c@example.org"].id)
    assert promoted.status == SignUpStatus.CONFIRMED and not promoted.reserved
    assert reserved_places.left(session, workshop) == 1
    assert session.exec(select(OutboxEmail).where(OutboxEmail.to_address == "c@example.org")).all()


def test_reserved_and_public_places_stay_exact_when_everyone_presses_at_once(engine, settings):
    """Commits for real: each thread is one request's unit of work."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlmodel import Session

    from app.db import session_factory
    from app.services.identity import Identity
    from tests.test_signup_concurrency import NOW, _answers, _tidy, build_workshop

    with Session(engine) as session:
        workshop = build_workshop(session, NOW, capacity=8, reserved_places=3, title="Race")
        session.commit()
        workshop_id = workshop.id
    open_session = session_factory(engine)
    people = list(range(24))
    barrier = threading.Barrier(len(people))

    def one(n: int) -> str:
        barrier.wait()
        with open_session(True) as session:
            if n % 2:
                form = reserved_places.ReservedPlaceForm.model_validate(
                    dict(PERSON, email=f"staffgiven{n}@example.org", agreed=["yes"])
                )
                outcome = reserved_places.give(
                    session, settings, workshop_id, form, NOW, Identity()
                ).result
            else:
                outcome = signups.sign_up(session, settings, workshop_id, _answers(n), NOW).result
            session.commit()
            return outcome

    try:
        with ThreadPoolExecutor(max_workers=len(people)) as pool:
            results = list(pool.map(one, people))
        assert results.count("given") == 3 and results.count("none_left") == 9
        assert results.count("confirmed") == 5 and results.count("waiting") == 7
        with Session(engine) as session:
            rows = session.exec(select(SignUp).where(SignUp.workshop_id == workshop_id)).all()
            confirmed = [r for r in rows if r.status == SignUpStatus.CONFIRMED]
            assert len(confirmed) == 8 and sum(r.reserved for r in confirmed) == 3
    finally:
        _tidy(engine, workshop_id)
