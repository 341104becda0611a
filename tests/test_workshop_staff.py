"""Workshops for staff: creating them, the join code, attendees, check-in, messages, cancel."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from sqlmodel import select

from app.models import (
    AuditEntry,
    OutboxEmail,
    Role,
    SignUp,
    SignUpStatus,
    Workshop,
    WorkshopFacilitator,
    WorkshopStatus,
)
from app.services import signups
from tests.conftest import shared_fixture
from tests.factories import make_staff, sign_in
from tests.test_signup import sign_up_through

FORM = {
    "title": "Making care better",
    "description": "We talk in small groups about care.",
    "audience": "young_people",
    "mode": "both",
    "place": "Town hall, Leeds",
    "access_info": "Step-free.",
    "online_link": "https://video.example.org/abc",
    "starts_at": "2026-12-05T16:30",
    "ends_at": "2026-12-05T18:30",
    "capacity": "20",
    "reserved_places": "2",
    "sign_up_opens_at": "",
    "sign_up_closes_at": "2026-12-04T23:59",
    "status": "published",
}


def form_in(workshop, **changes):
    """The staff form, filled in for a new workshop in `workshop`'s programme."""
    return dict(FORM, programme_id=str(workshop.programme_id), **changes)


def as_staff(client, session, *roles):
    staff = make_staff(session, *roles)
    sign_in(client, session, staff=staff)
    return staff


def test_a_facilitator_creates_a_workshop_in_uk_time_and_runs_it(client, session, make_workshop):
    existing = make_workshop()  # makes sure a programme exists
    me = as_staff(client, session, Role.FACILITATOR)
    response = client.submit("/staff/workshops/new", form_in(existing))
    assert response.status_code == 303, response.text[:3000]
    workshop = session.exec(select(Workshop).where(Workshop.title == "Making care better")).one()
    assert workshop.starts_at.hour == 16 and workshop.starts_at.utcoffset() == timedelta(0)  # GMT
    assert workshop.age_range == "13 to 17"
    assert len(workshop.join_code) == 6
    assert (
        session.exec(
            select(WorkshopFacilitator).where(WorkshopFacilitator.workshop_id == workshop.id)
        )
        .one()
        .staff_id
        == me.id
    )
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert page.status_code == 200
    assert workshop.join_code in page.text
    public = client.get("/workshops").text
    assert "Making care better" in public and "18 places left" in public


def test_summer_time_is_read_as_uk_time(client, session, make_workshop):
    existing = make_workshop()
    as_staff(client, session, Role.ADMIN)
    form = form_in(
        existing, starts_at="2027-06-05T16:30", ends_at="2027-06-05T18:30", sign_up_closes_at=""
    )
    client.submit("/staff/workshops/new", form)
    workshop = session.exec(select(Workshop).where(Workshop.title == "Making care better")).one()
    assert workshop.starts_at.hour == 15  # 4:30pm BST is 3:30pm UTC


def test_the_form_explains_every_problem_and_keeps_what_was_typed(client, session, make_workshop):
    existing = make_workshop()
    as_staff(client, session, Role.ADMIN)
    bad = form_in(
        existing,
        mode="in_person",
        place="",
        capacity="ten",
        ends_at="2026-12-05T15:00",
        title="Kept title",
    )
    response = client.submit("/staff/workshops/new", bad)
    assert response.status_code == 200
    assert "There is a problem" in response.text
    assert "Capacity must be a whole number" in response.text
    assert 'value="Kept title"' in response.text
    bad = form_in(existing, reserved_places="30", capacity="20", mode="in_person", place="")
    response = client.submit("/staff/workshops/new", bad)
    assert "Enter where the workshop is" in response.text
    assert "Reserved places can" in response.text
    bad = form_in(existing, starts_at="5th December", online_link="javascript:alert(1)")
    response = client.submit("/staff/workshops/new", bad)
    assert "Enter a date and time like" in response.text
    assert "Enter a joining link that starts with https://" in response.text


def test_hostile_inputs_in_the_staff_form_are_never_a_500(client, session, make_workshop):
    existing = make_workshop()
    as_staff(client, session, Role.ADMIN)
    inputs = json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]
    for value in inputs:
        data = {name: value for name in form_in(existing)}
        response = client.submit_raw("/staff/workshops/new", data)
        if len(value) * len(data) > 1_000_000:
            # Over the body cap (HEARD_MAX_BODY_BYTES): refused before it is read, kindly.
            assert response.status_code == 413 and "too big" in response.text, value[:40]
        else:
            assert response.status_code == 200, value
        assert "<script>alert(1)</script>" not in response.text
        data = form_in(existing, title=value[:200], description=value, place=value[:300])
        response = client.submit_raw("/staff/workshops/new", data)
        assert response.status_code in {200, 303}, value
    for workshop in session.exec(select(Workshop)).all():
        page = client.get(f"/workshops/{workshop.slug}")
        assert page.status_code in {200, 404}
        assert "<script>alert(1)</script>" not in page.text


def test_only_the_workshops_own_staff_see_its_attendees(client, session, make_workshop):
    workshop = make_workshop()
    sign_up_through(client, workshop, access_needs="Wheelchair space")
    as_staff(client, session, Role.FACILITATOR)  # not assigned to it
    assert client.get(f"/staff/workshops/{workshop.id}").status_code == 404
    assert client.get(f"/staff/workshops/{workshop.id}/attendees.csv").status_code == 404
    assert workshop.title not in client.get("/staff/workshops").text
    as_staff(client, session, Role.MODERATOR)
    assert client.get(f"/staff/workshops/{workshop.id}").status_code == 403
    assigned = as_staff(client, session, Role.FACILITATOR)
    session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=assigned.id))
    session.commit()
    page = client.get(f"/staff/workshops/{workshop.id}")
    assert page.status_code == 200
    assert "Wheelchair space" in page.text
    as_staff(client, session, Role.ADMIN)
    assert client.get(f"/staff/workshops/{workshop.id}").status_code == 200


def test_check_in_works_without_javascript_and_with_htmx(client, session, make_workshop, clock):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10))  # on the day
    sign_up_through(client, workshop)
    row = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).one()
    as_staff(client, session, Role.ADMIN)
    url = f"/staff/workshops/{workshop.id}/sign-ups/{row.id}/check-in"
    plain = client.submit(url, {"here": "yes"}, page=f"/staff/workshops/{workshop.id}")
    assert plain.status_code == 303
    session.expire_all()
    assert session.get(SignUp, row.id).checked_in_at is not None
    token = client.csrf(f"/staff/workshops/{workshop.id}")
    swapped = client.post(
        url,
        data={"here": "no", "csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": "attendees"},
    )
    assert swapped.status_code == 200
    assert swapped.text.lstrip().startswith('<section id="attendees"')
    assert "is no longer checked in" in swapped.text
    session.expire_all()
    assert session.get(SignUp, row.id).checked_in_at is None
    other = make_workshop(title="Another")
    wrong = client.submit(
        f"/staff/workshops/{other.id}/sign-ups/{row.id}/check-in",
        {"here": "yes"},
        page="/staff/workshops",
    )
    assert wrong.status_code == 404


def test_scanning_an_attendees_qr_opens_a_staff_check_in_page(
    client, session, settings, make_workshop, clock
):
    workshop = make_workshop(starts_at=clock.now + timedelta(minutes=10))  # on the day
    sign_up_through(client, workshop)
    row = session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id)).one()
    url = signups.links(settings, row)["check_in"].removeprefix("http://testserver")
    client.cookies.clear()
    assert client.get(url).status_code == 303  # staff sign in first
    as_staff(client, session, Role.ADMIN)
    page = client.get(url)
    assert page.status_code == 200 and "Check in Sky" in page.text
    assert client.submit(url, {}).status_code == 303
    session.expire_all()
    assert session.get(SignUp, row.id).checked_in_at is not None
    assert client.get("/staff/check-in/made-up-token").status_code == 404


def test_join_code_page_shows_a_qr_that_opens_the_join_page(
    client, session, settings, make_workshop
):
    workshop = make_workshop()
    as_staff(client, session, Role.ADMIN)
    page = client.get(f"/staff/workshops/{workshop.id}/code")
    assert workshop.join_code in page.text
    svg = client.get(f"/staff/workshops/{workshop.id}/code.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"style=" not in svg.content
    # The QR code is exactly the one for the join page with this code filled in.
    from app.services import workshops as workshop_service

    expected = workshop_service.qr_svg(f"http://testserver/join?code={workshop.join_code}")
    assert svg.content == expected
    old = workshop.join_code
    assert (
        client.submit(
            f"/staff/workshops/{workshop.id}/code/rotate",
            {},
            page=f"/staff/workshops/{workshop.id}/code",
        ).status_code
        == 303
    )
    session.expire_all()
    assert session.get(Workshop, workshop.id).join_code != old


def test_qr_encodes_the_join_url():
    import segno  # noqa: F401

    from app.services import workshops as workshop_service

    svg = workshop_service.qr_svg("http://testserver/join?code=ABCDEF")
    assert svg.startswith(b"<svg") and b"<path" in svg


def test_message_everyone_and_export_is_audited(client, session, make_workshop):
    workshop = make_workshop()
    sign_up_through(client, workshop, email="one@example.org", anything_else='=HYPERLINK("x")')
    as_staff(client, session, Role.ADMIN)
    empty = client.submit(f"/staff/workshops/{workshop.id}/message", {"subject": "", "message": ""})
    assert "Enter a subject" in empty.text
    sent = client.submit(
        f"/staff/workshops/{workshop.id}/message",
        {"to": "places", "subject": "Bring a coat", "message": "It's cold."},
    )
    assert sent.status_code == 303
    assert session.exec(
        select(OutboxEmail).where(
            OutboxEmail.to_address == "one@example.org",
            OutboxEmail.subject.startswith("Bring a coat"),
        )
    ).first()  # type: ignore[union-attr]
    export = client.get(f"/staff/workshops/{workshop.id}/attendees.csv")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.text)))
    assert rows[0][0] == "Reference" and rows[1][1] == "Sky"
    assert rows[1][7].startswith("'=")  # a formula is made plain text
    assert session.exec(
        select(AuditEntry).where(AuditEntry.action == "workshop.attendees_exported")
    ).first()


def test_cancelling_a_workshop_emails_everyone(client, session, make_workshop):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="a@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="b@example.org")
    as_staff(client, session, Role.ADMIN)
    unsure = client.submit(f"/staff/workshops/{workshop.id}/cancel", {"reason": "Snow"})
    assert "Tick the box to confirm" in unsure.text
    done = client.submit(
        f"/staff/workshops/{workshop.id}/cancel", {"reason": "Snow", "confirm": "yes"}
    )
    assert done.status_code == 303
    session.expire_all()
    assert session.get(Workshop, workshop.id).status == WorkshopStatus.CANCELLED
    for address in ("a@example.org", "b@example.org"):
        email = session.exec(
            select(OutboxEmail).where(
                OutboxEmail.to_address == address, OutboxEmail.subject.startswith("Cancelled")
            )  # type: ignore[union-attr]
        ).one()
        assert "Snow" in email.body_text
    statuses = {
        r.status for r in session.exec(select(SignUp).where(SignUp.workshop_id == workshop.id))
    }
    assert statuses == {SignUpStatus.WORKSHOP_CANCELLED}
    assert "has been cancelled" in client.get(f"/workshops/{workshop.slug}").text
    assert workshop.title not in client.get("/workshops").text


def test_raising_capacity_gives_places_to_people_waiting(client, session, settings, make_workshop):
    workshop = make_workshop(capacity=1)
    sign_up_through(client, workshop, email="a@example.org")
    client.cookies.clear()
    sign_up_through(client, workshop, email="b@example.org")
    as_staff(client, session, Role.ADMIN)
    form = client.get(f"/staff/workshops/{workshop.id}/edit")
    assert form.status_code == 200 and 'value="Having your say"' in form.text
    values = {
        "programme_id": str(workshop.programme_id),
        "title": workshop.title,
        "description": workshop.description,
        "audience": "young_people",
        "mode": "in_person",
        "place": "The Hive, Leeds",
        "starts_at": "2026-12-03T10:00",
        "ends_at": "2026-12-03T12:00",
        "capacity": "2",
        "reserved_places": "0",
        "status": "published",
    }
    assert client.submit(f"/staff/workshops/{workshop.id}/edit", values).status_code == 303
    session.expire_all()
    b = session.exec(select(SignUp).where(SignUp.contact_key == "b@example.org")).one()
    assert b.status == SignUpStatus.CONFIRMED


# --- programme-scoped roles ------------------------------------------------------------


def _two_programmes(session, make_workshop):
    """Programme A (with a workshop) and programme B (with one), for a B facilitator."""
    from tests.factories import make_programme

    in_a = make_workshop(title="Only for A")
    b = make_programme(session, "Programme B")
    in_b = make_workshop(title="Another in B", programme_id=b.id)
    session.commit()
    return in_a, b, in_b


def test_a_programme_facilitator_creates_workshops_only_in_their_programme(
    client, session, make_workshop
):
    from tests.factories import make_programme_staff

    in_a, b, _ = _two_programmes(session, make_workshop)
    me = make_programme_staff(session, Role.FACILITATOR, b)
    sign_in(client, session, staff=me)
    home = client.get("/staff").text
    assert '<a href="/staff/workshops">Workshops</a>' in home  # the menu leads to their pages

    page = client.get("/staff/workshops/new")
    assert page.status_code == 200
    assert "Programme B" in page.text and "Test programme" not in page.text
    assert f'name="programme_id" type="radio" value="{b.id}" checked' in page.text  # the only one

    refused = client.submit("/staff/workshops/new", form_in(in_a, title="Kept title"))
    assert refused.status_code == 200
    summary = refused.text.split('class="error-summary"')[1].split("</div>")[0]
    assert "Choose one of the programmes you run" in summary
    assert 'value="Kept title"' in refused.text
    assert not session.exec(select(Workshop).where(Workshop.title == "Kept title")).first()

    made = client.submit("/staff/workshops/new", dict(FORM, programme_id=str(b.id)))
    assert made.status_code == 303
    mine = session.exec(select(Workshop).where(Workshop.title == FORM["title"])).one()
    assert mine.programme_id == b.id
    assert client.get(made.headers["location"]).status_code == 200  # and they run it


def test_a_programme_facilitator_cannot_move_a_workshop_out_of_their_programme(
    client, session, make_workshop
):
    from tests.factories import make_programme_staff

    in_a, b, in_b = _two_programmes(session, make_workshop)
    me = make_programme_staff(session, Role.FACILITATOR, b)
    session.add(WorkshopFacilitator(workshop_id=in_b.id, staff_id=me.id))
    session.commit()
    sign_in(client, session, staff=me)
    edit = f"/staff/workshops/{in_b.id}/edit"
    form = client.get(edit)
    radio = 'name="programme_id" type="radio" value="{}"'
    assert radio.format(b.id) + " checked" in form.text
    assert radio.format(in_a.programme_id) not in form.text
    moved = client.submit(edit, form_in(in_a, title="Moved"))
    assert moved.status_code == 200 and "Choose one of the programmes you run" in moved.text
    session.expire_all()
    assert session.get(Workshop, in_b.id).programme_id == b.id


def test_a_programme_facilitator_never_sees_other_programmes_workshops(
    client, session, make_workshop
):
    from tests.factories import make_programme_staff

    in_a, b, in_b = _two_programmes(session, make_workshop)
    mine = make_workshop(title="Mine in B", programme_id=b.id)
    me = make_programme_staff(session, Role.FACILITATOR, b)
    # Assigned to a workshop in A too (by mistake): still not theirs to run.
    for workshop in (mine, in_a):
        session.add(WorkshopFacilitator(workshop_id=workshop.id, staff_id=me.id))
    session.commit()
    sign_in(client, session, staff=me)
    listed = client.get("/staff/workshops").text
    assert "Mine in B" in listed
    assert in_a.title not in listed and in_b.title not in listed
    assert client.get(f"/staff/workshops/{mine.id}").status_code == 200
    for workshop in (in_a, in_b):
        assert client.get(f"/staff/workshops/{workshop.id}").status_code == 404


def test_a_programme_admin_runs_every_workshop_of_their_programme_only(
    client, session, make_workshop
):
    from tests.factories import make_programme_staff

    in_a, b, in_b = _two_programmes(session, make_workshop)
    sign_in(client, session, staff=make_programme_staff(session, Role.ADMIN, b))
    listed = client.get("/staff/workshops").text
    assert in_b.title in listed and in_a.title not in listed
    assert client.get(f"/staff/workshops/{in_b.id}").status_code == 200
    assert client.get(f"/staff/workshops/{in_a.id}").status_code == 404
    refused = client.submit("/staff/workshops/new", form_in(in_a))
    assert "Choose one of the programmes you run" in refused.text


def test_a_facilitator_everywhere_chooses_any_programme(client, session, make_workshop):
    in_a, _, in_b = _two_programmes(session, make_workshop)
    as_staff(client, session, Role.FACILITATOR)
    page = client.get("/staff/workshops/new").text
    assert "Programme B" in page and "Test programme" in page
    assert " checked" not in page.split('name="programme_id"')[1]  # two: nothing chosen yet
    missing = client.submit("/staff/workshops/new", FORM)
    assert "Choose which programme the workshop is part of" in missing.text
    for workshop, title in ((in_a, "In A"), (in_b, "In B")):
        made = client.submit("/staff/workshops/new", form_in(workshop, title=title))
        assert made.status_code == 303
        assert client.get(made.headers["location"]).status_code == 200
    listed = client.get("/staff/workshops").text
    assert "In A" in listed and "In B" in listed
    assert in_a.title not in listed  # still only the ones they are assigned to
