"""Back where you were: after signing in, a person lands on the page they asked for.

A facilitator scans an attendee's check-in QR code while signed out, signs in by emailed link
and lands on that check-in page. `next` only ever names a page of Heard: anything else, in
the sign-in form, the emailed link or the confirm button's form, is dropped.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pytest
from sqlmodel import col, select

from app.models import OutboxEmail, Role
from app.services import participants, signups
from app.services import staff as staff_service
from tests.factories import make_staff

EVIL = [
    "//evil.example",
    "https://evil.example",
    "/\\evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "/staff\r\nLocation: https://evil.example",
]


def _last_email(session, to: str) -> OutboxEmail:
    return session.exec(
        select(OutboxEmail).where(OutboxEmail.to_address == to).order_by(col(OutboxEmail.id).desc())
    ).first()


def _link(email: OutboxEmail) -> str:
    found = re.search(r"http://testserver(/\S+)", email.body_text)
    assert found, email.body_text
    return found.group(1)


def _hidden_next(page_html: str) -> str | None:
    found = re.search(r'name="next" value="([^"]*)"', page_html)
    return html.unescape(found.group(1)) if found else None


def _token(link: str) -> str:
    return re.search(r"token=([A-Za-z0-9_-]+)", link).group(1)


def _check_in_path(session, settings, workshop, now) -> str:
    answers = {
        "display_name": "Sky",
        "age_band": "16_17",
        "whose": "mine",
        "email": "sky@example.org",
        "agree": ["yes"],
    }
    outcome = signups.sign_up(session, settings, workshop.id, answers, now)
    session.commit()
    return signups.links(settings, outcome.sign_up)["check_in"].removeprefix("http://testserver")


# Being sent to sign in -----------------------------------------------------------------------


def test_a_signed_out_get_is_sent_to_sign_in_with_the_page_to_come_back_to(client):
    response = client.get("/staff/workshops?audience=young_people")
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/staff/sign-in?next=" + quote("/staff/workshops?audience=young_people", safe="")
    )
    assert client.get("/me/details").headers["location"] == "/me/sign-in?next=%2Fme%2Fdetails"


def test_the_home_page_itself_needs_no_next(client):
    assert client.get("/staff").headers["location"] == "/staff/sign-in"
    assert client.get("/me").headers["location"] == "/me/sign-in"


def test_a_signed_out_post_is_sent_to_sign_in_without_a_next(client):
    response = client.submit("/staff/session/extend", {}, page="/staff/sign-in")
    assert response.status_code == 303 and response.headers["location"] == "/staff/sign-in"


# Staff, by emailed link ----------------------------------------------------------------------


def test_a_facilitator_who_scans_a_qr_signs_in_and_lands_on_the_check_in_page(
    client, session, settings, clock, make_workshop
):
    workshop = make_workshop()
    make_staff(session, Role.ADMIN, email="fa@heard.example.org")
    session.commit()
    check_in = _check_in_path(session, settings, workshop, clock.now)

    sent = client.get(check_in)
    assert sent.status_code == 303
    sign_in_page = sent.headers["location"]
    assert sign_in_page == "/staff/sign-in?next=" + quote(check_in, safe="")
    page = client.get(sign_in_page)
    assert _hidden_next(page.text) == check_in

    # A mistake in the form keeps `next`.
    wrong = client.submit("/staff/sign-in", {"email": "not an email", "next": check_in})
    assert wrong.status_code == 200 and "Error: " in wrong.text
    assert _hidden_next(wrong.text) == check_in

    response = client.submit(
        "/staff/sign-in", {"email": "fa@heard.example.org", "next": check_in}, page=sign_in_page
    )
    assert response.status_code == 303
    check_email = response.headers["location"]
    assert check_email.startswith("/staff/sign-in/check-email?next=")
    assert f'href="{html.escape(sign_in_page)}"' in client.get(check_email).text

    link = _link(_last_email(session, "fa@heard.example.org"))
    assert link.endswith("&next=" + quote(check_in, safe=""))
    confirm = client.get(link)
    assert "Sign in" in confirm.text and _hidden_next(confirm.text) == check_in

    done = client.submit(
        "/staff/sign-in/link", {"token": _token(link), "next": check_in}, page=link
    )
    assert done.status_code == 303 and done.headers["location"] == check_in
    landed = client.get(check_in)
    assert landed.status_code == 200 and "Check in Sky" in landed.text


def test_without_a_next_staff_land_on_their_home_page(client, session):
    make_staff(session, Role.ANALYST, email="an@heard.example.org")
    session.commit()
    page = client.get("/staff/sign-in")
    assert _hidden_next(page.text) is None
    client.submit("/staff/sign-in", {"email": "an@heard.example.org"})
    link = _link(_last_email(session, "an@heard.example.org"))
    assert "next=" not in link
    done = client.submit("/staff/sign-in/link", {"token": _token(link)}, page=link)
    assert done.headers["location"] == "/staff"


def test_htmx_is_sent_back_too(client, session):
    make_staff(session, Role.ADMIN, email="hx@heard.example.org")
    session.commit()
    client.submit("/staff/sign-in", {"email": "hx@heard.example.org", "next": "/staff/people"})
    link = _link(_last_email(session, "hx@heard.example.org"))
    done = client.submit(
        "/staff/sign-in/link",
        {"token": _token(link), "next": "/staff/people"},
        page=link,
        headers={"HX-Request": "true"},
    )
    assert done.headers["HX-Redirect"] == "/staff/people"


@pytest.mark.parametrize("evil", EVIL)
def test_a_hostile_next_is_dropped_at_every_step(client, session, evil):
    make_staff(session, Role.ADMIN, email="ev@heard.example.org")
    session.commit()
    page = client.get("/staff/sign-in", params={"next": evil})
    assert page.status_code == 200 and _hidden_next(page.text) is None
    assert "evil" not in page.text

    response = client.submit("/staff/sign-in", {"email": "ev@heard.example.org", "next": evil})
    assert response.headers["location"] == "/staff/sign-in/check-email"
    link = _link(_last_email(session, "ev@heard.example.org"))
    assert "next=" not in link and "evil" not in link

    done = client.submit("/staff/sign-in/link", {"token": _token(link), "next": evil}, page=link)
    assert done.status_code == 303 and done.headers["location"] == "/staff"


@pytest.mark.parametrize("evil", EVIL)
def test_a_real_link_with_a_next_swapped_in_cannot_send_anyone_off_site(
    client, session, settings, clock, evil
):
    """Someone takes a genuine link and points its `next` elsewhere (or posts it directly)."""
    member = make_staff(session, Role.ADMIN, email="vi@heard.example.org")
    real = staff_service.issue_sign_in_link(session, settings, member, clock.now, evil)
    session.commit()
    assert "next=" not in real  # the service never writes one
    link = real.removeprefix("http://testserver") + "&next=" + quote(evil, safe="")
    confirm = client.get(link)
    assert confirm.status_code == 200
    assert _hidden_next(confirm.text) is None and "evil" not in confirm.text
    done = client.submit("/staff/sign-in/link", {"token": _token(link), "next": evil}, page=link)
    assert done.status_code == 303 and done.headers["location"] == "/staff"


# Participants, by emailed link ---------------------------------------------------------------


def test_a_participant_signs_in_and_lands_on_the_page_they_asked_for(client, session, clock):
    participants.create(session, display_name="Ash", now=clock.now, contact_email="ash@example.org")
    session.commit()
    sent = client.get("/me/details")
    assert sent.headers["location"] == "/me/sign-in?next=%2Fme%2Fdetails"
    assert _hidden_next(client.get(sent.headers["location"]).text) == "/me/details"

    wrong = client.submit("/me/sign-in", {"email": "", "next": "/me/details"})
    assert wrong.status_code == 200 and _hidden_next(wrong.text) == "/me/details"

    response = client.submit("/me/sign-in", {"email": "ash@example.org", "next": "/me/details"})
    assert response.headers["location"] == "/me/sign-in/check-email?next=%2Fme%2Fdetails"
    assert (
        'href="/me/sign-in?next=%2Fme%2Fdetails"' in client.get(response.headers["location"]).text
    )
    link = _link(_last_email(session, "ash@example.org"))
    assert link.endswith("&next=%2Fme%2Fdetails")
    confirm = client.get(link)
    assert "Carry on" in confirm.text and _hidden_next(confirm.text) == "/me/details"
    done = client.submit(
        "/me/sign-in/link", {"token": _token(link), "next": "/me/details"}, page=link
    )
    assert done.status_code == 303 and done.headers["location"] == "/me/details"
    assert client.get("/me/details").status_code == 200


@pytest.mark.parametrize("evil", EVIL)
def test_a_participants_hostile_next_is_dropped(client, session, clock, evil):
    participants.create(session, display_name="Bo", now=clock.now, contact_email="bo@example.org")
    session.commit()
    page = client.get("/me/sign-in", params={"next": evil})
    assert _hidden_next(page.text) is None and "evil" not in page.text
    response = client.submit("/me/sign-in", {"email": "bo@example.org", "next": evil})
    assert response.headers["location"] == "/me/sign-in/check-email"
    link = _link(_last_email(session, "bo@example.org"))
    assert "next=" not in link
    swapped = link + "&next=" + quote(evil, safe="")
    assert _hidden_next(client.get(swapped).text) is None
    done = client.submit("/me/sign-in/link", {"token": _token(link), "next": evil}, page=swapped)
    assert done.status_code == 303 and done.headers["location"] == "/me"
