"""Joining on the day with a code: no email, no password, and no way to find codes by guessing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from app.models import (
    ConsentPurpose,
    SignUp,
    SignUpStatus,
    WorkshopAttendance,
    WorkshopStatus,
)
from app.ratelimit import RateLimits
from app.services import consent, join_codes
from app.services import workshops as workshop_service
from tests.conftest import Client

DIDNT_WORK = "That code didn&#39;t work. Check it with your facilitator."


@pytest.fixture
def today(make_workshop, clock):
    """A workshop that starts in 10 minutes: its code works now."""
    return make_workshop(starts_at=clock.now + timedelta(minutes=10), title="Today's workshop")


def join_with(client, code: str, name: str = "Sky", **extra: str):
    first = client.submit("/join", {"code": code})
    assert first.status_code == 303, first.text[:500]
    you = client.get(first.headers["location"])
    assert you.status_code == 200
    assert "Choose a name for today" in you.text
    ticket = re.search(r'name="ticket" value="([^"]+)"', you.text).group(1)
    data = {"ticket": ticket, "display_name": name, "agree": "yes", **extra}
    return client.submit("/join/you", data, page=first.headers["location"])


def test_a_code_lets_you_into_the_room_with_just_a_name(client, session, today):
    code = today.join_code
    typed = f"  {code[:3].lower()} {code[3:].lower()} "  # case and spaces don't matter
    done = join_with(client, typed)
    assert done.status_code == 303
    assert done.headers["location"] == f"/workshops/{today.slug}/room"
    room = client.get(done.headers["location"])
    assert room.status_code == 200
    assert "You are in the workshop" in room.text
    assert "Hello Sky" in room.text
    [attendance] = session.exec(
        select(WorkshopAttendance).where(WorkshopAttendance.workshop_id == today.id)
    ).all()
    assert consent.has_consent(session, attendance.participant_id, ConsentPurpose.TAKE_PART)


def test_the_join_page_and_house_rules_say_what_happens(client, today):
    first = client.submit("/join", {"code": today.join_code})
    page = client.get(first.headers["location"]).text
    assert "What happens to what you say" in page
    assert "House rules" in page
    ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)
    refused = client.submit("/join/you", {"ticket": ticket, "display_name": "Sky"}, page="/join")
    assert "Tick the box to say you agree to the house rules" in refused.text
    assert 'value="Sky"' in refused.text


def test_the_qr_code_link_fills_the_code_in(client, today):
    page = client.get(f"/join?code={today.join_code}")
    assert f'value="{today.join_code}"' in page.text


@pytest.mark.parametrize(
    "when", ["too_early", "too_late", "draft", "cancelled", "wrong", "rotated"]
)
def test_a_wrong_or_expired_code_never_says_which_workshop(client, session, clock, today, when):
    code = today.join_code
    if when == "too_early":
        clock.advance(minutes=-31)  # 41 minutes before the start; codes open 30 minutes before
    elif when == "too_late":
        clock.advance(hours=3, minutes=11)  # 61 minutes after the end
    elif when in {"draft", "cancelled"}:
        today.status = WorkshopStatus(when)
        session.add(today)
        session.commit()
    elif when == "wrong":
        code = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    elif when == "rotated":
        workshop_service.rotate_code(session, today, identity_none())
        session.commit()
    response = client.submit("/join", {"code": code})
    assert response.status_code == 200
    if when == "too_early":  # issue 10: a code for another day says when it works
        assert "This code works on Monday 23 November from 9:40am" in response.text
    elif when == "too_late":
        assert "This code has stopped working because its workshop has finished" in response.text
    else:
        assert DIDNT_WORK in response.text
    assert today.title not in response.text  # never says which workshop it is


def identity_none():
    from app.services.identity import Identity

    return Identity()


def test_codes_have_no_look_alikes_and_a_typo_gets_a_kind_message(client):
    assert not set("01OIL") & set(join_codes.ALPHABET)
    assert all(set(join_codes.new_code()) <= set(join_codes.ALPHABET) for _ in range(200))
    short = client.submit("/join", {"code": "AB3"})
    assert "Codes have 6 letters and numbers" in short.text


def test_a_ticket_cannot_be_forged_or_reused_after_the_code_changes(client, session, today):
    first = client.submit("/join", {"code": today.join_code})
    location = first.headers["location"]
    forged = location[:-4] + "abcd"
    assert DIDNT_WORK in client.get(forged).text
    workshop_service.rotate_code(session, today, identity_none())
    session.commit()
    assert DIDNT_WORK in client.get(location).text


def _signed_up(client, session, workshop, email="linked@example.org"):
    """Sign up as a person would; returns (their sign-up, their manage link), cookies cleared."""
    from tests.test_signup import emails_to, manage_link, sign_up_through

    sign_up_through(client, workshop, email=email)
    row = session.exec(select(SignUp).where(SignUp.contact_key == email)).one()
    link = manage_link(emails_to(session, email)[0])
    client.cookies.clear()
    return row, link


def test_a_reference_and_email_never_sign_you_in_as_someone_else(client, session, today):
    """References are not secret (staff see them; they are in exports): they prove nothing."""
    victim, _ = _signed_up(client, session, today)
    page = client.get(client.submit("/join", {"code": today.join_code}).headers["location"])
    assert 'name="reference"' not in page.text and 'name="email"' not in page.text
    assert "Signed up before? Open the link in your email to join with your place." in page.text
    done = join_with(
        client,
        today.join_code,
        name="Sky",
        reference=victim.reference,
        email="linked@example.org",
    )
    assert done.status_code == 303
    session.expire_all()
    attendance = session.exec(
        select(WorkshopAttendance).where(WorkshopAttendance.workshop_id == today.id)
    ).one()
    assert attendance.participant_id != victim.participant_id  # a new person for today
    assert attendance.sign_up_id is None
    assert session.get(SignUp, victim.id).checked_in_at is None
    me = client.get("/me")
    assert "linked@example.org" not in me.text
    assert "A quiet room, please" not in me.text


def test_the_link_in_your_email_lets_you_join_the_room_and_marks_you_here(client, session, today):
    row, link = _signed_up(client, session, today)
    page = client.get(link)
    assert "Join the room" in page.text
    assert f'action="{link}/join"' in page.text
    done = client.submit(f"{link}/join", {}, page=link)
    assert done.status_code == 303
    assert done.headers["location"] == f"/workshops/{today.slug}/room"
    room = client.get(done.headers["location"])
    assert room.status_code == 200
    assert "Hello Sky" in room.text
    session.expire_all()
    assert session.get(SignUp, row.id).checked_in_at is not None
    attendance = session.exec(
        select(WorkshopAttendance).where(WorkshopAttendance.workshop_id == today.id)
    ).one()
    assert attendance.participant_id == row.participant_id
    assert attendance.sign_up_id == row.id
    # This browser is now that person: their own page is theirs to see.
    assert "linked@example.org" in client.get("/me").text
    # Pressing it again changes nothing and makes no second attendance.
    client.submit(f"{link}/join", {}, page=link)
    assert len(session.exec(select(WorkshopAttendance)).all()) == 1


def test_join_the_room_needs_a_post_with_csrf(client, session, today):
    _, link = _signed_up(client, session, today)
    client.get(link)
    refused = client.post(f"{link}/join", data={})
    assert refused.status_code in {400, 403}
    assert client.get(f"{link}/join").status_code in {404, 405}
    assert session.exec(select(WorkshopAttendance)).all() == []


def test_a_made_up_or_someone_elses_token_cannot_join(client, session, settings, today):
    from app.services import signups

    row, link = _signed_up(client, session, today)
    check_in_token = signups.check_in_token(settings, row)  # a real secret, but not this one
    real = link.split("/")[-1]
    one_off = real[:-1] + ("x" if real[-1] != "x" else "y")
    for token in ("not-a-real-token", "A" * 43, check_in_token, one_off):
        page = f"/sign-ups/{token}"
        assert client.get(page).status_code == 404
        assert client.submit(f"{page}/join", {}, page="/").status_code == 404
    assert session.exec(select(WorkshopAttendance)).all() == []
    session.expire_all()
    assert session.get(SignUp, row.id).checked_in_at is None


@pytest.mark.parametrize("when", ["too_early", "too_late", "waiting_list", "cancelled"])
def test_join_the_room_only_works_with_a_place_while_the_code_works(
    client, session, clock, make_workshop, today, when
):
    row, link = _signed_up(client, session, today)
    if when == "too_early":
        clock.advance(minutes=-31)  # codes open 30 minutes before the start
    elif when == "too_late":
        clock.advance(hours=3, minutes=11)
    elif when == "waiting_list":
        row.status = SignUpStatus.WAITING
        session.add(row)
        session.commit()
    elif when == "cancelled":
        client.submit(f"{link}/cancel", {}, page=f"{link}/cancel")
        client.cookies.clear()
    assert "Join the room" not in client.get(link).text
    refused = client.submit(f"{link}/join", {}, page=link)
    assert refused.status_code == 303
    assert refused.headers["location"] == link
    assert session.exec(select(WorkshopAttendance)).all() == []
    assert client.get(f"/workshops/{today.slug}/room").status_code == 303  # not signed in


def test_the_room_is_only_for_people_in_it(client, session, make_workshop, today):
    from tests.factories import make_participant, sign_in

    assert client.get(f"/workshops/{today.slug}/room").status_code == 303  # sign in first
    sign_in(client, session, participant=make_participant(session))
    assert client.get(f"/workshops/{today.slug}/room").status_code == 404


def test_rate_limit_per_address_stops_guessing_long_before_a_code_is_found(client, app, settings):
    """31^6 = 887,503,681 codes. At 20 tries a minute from one address, finding one live code
    takes about 42 years on average (half the codes). The limiter refuses the 21st try."""
    assert len(join_codes.ALPHABET) ** join_codes.CODE_LENGTH == 887_503_681
    per_minute = int(settings.join_rate_per_ip.split("/")[0])
    assert join_codes.brute_force_years(per_minute) > 40
    token = client.csrf("/join")
    statuses = []
    for n in range(per_minute + 5):
        guess = join_codes.new_code()
        statuses.append(client.post("/join", data={"code": guess, "csrf_token": token}).status_code)
    assert statuses[:per_minute] == [200] * per_minute
    assert set(statuses[per_minute:]) == {429}


def test_a_whole_class_on_one_address_gets_in_and_guessing_is_still_stopped(
    client, settings, today
):
    """Right codes don't use up the address's allowance; wrong ones do."""
    per_minute = int(settings.join_rate_per_ip.split("/")[0])
    token = client.csrf("/join")
    for _ in range(per_minute + 10):  # 30 young people on the school's Wi-Fi
        response = client.post("/join", data={"code": today.join_code, "csrf_token": token})
        assert response.status_code == 303
    wrong = [
        client.post("/join", data={"code": "ZZZZZZ", "csrf_token": token}).status_code
        for _ in range(per_minute + 2)
    ]
    assert wrong[:per_minute] == [200] * per_minute
    assert set(wrong[per_minute:]) == {429}


def test_rate_limit_per_code_counts_each_address_on_its_own(client, app, settings):
    """Right codes count per code and address: one address can't use up a class's code
    (see test_security_fixes.py for the whole request)."""
    limits: RateLimits = app.state.rate_limits
    per_code = int(settings.join_rate_per_code.split("/")[0])
    results = [
        limits.hit(settings.join_rate_per_code, "join-code", "ABCDEF", "one-address")
        for _ in range(per_code + 1)
    ]
    assert results[:per_code] == [True] * per_code
    assert results[-1] is False
    assert limits.hit(settings.join_rate_per_code, "join-code", "ABCDEF", "another-address")


def test_rate_limits_are_shared_through_redis(settings):
    import os
    import uuid

    from tests.conftest import require

    if not os.environ.get("HEARD_REDIS_URL"):
        require("Redis", "HEARD_REDIS_URL is not set")  # a failure under HEARD_REQUIRE_ALL=1

    namespace = f"test-{uuid.uuid4().hex}"
    one = RateLimits(os.environ["HEARD_REDIS_URL"], namespace=namespace)
    two = RateLimits(os.environ["HEARD_REDIS_URL"], namespace=namespace)
    hits = [one.hit("3/minute", "join-ip", "x"), two.hit("3/minute", "join-ip", "x")]
    hits += [one.hit("3/minute", "join-ip", "x"), two.hit("3/minute", "join-ip", "x")]
    assert hits == [True, True, True, False]


def test_hostile_inputs_on_the_join_pages_are_never_a_500(client, today):
    import json

    from tests.conftest import shared_fixture

    inputs = json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]
    first = client.submit("/join", {"code": today.join_code})
    page = client.get(first.headers["location"]).text
    ticket = re.search(r'name="ticket" value="([^"]+)"', page).group(1)
    for value in inputs:
        for data in (
            {"ticket": ticket, "display_name": value, "reference": value, "email": value},
            {"ticket": value, "display_name": value, "agree": "yes"},
        ):
            response = client.submit_raw("/join/you", data, page="/join")
            assert response.status_code in {200, 303}, value
            assert "<script>alert(1)</script>" not in response.text
        safe = value[:50].encode("utf-8", "replace").decode()
        assert client.get("/join/you", params={"ticket": safe}).status_code == 200


def test_a_borrowed_phone_never_hands_over_the_last_persons_identity(client, session, today):
    join_with(client, today.join_code, name="Sky")
    first = session.exec(select(WorkshopAttendance)).all()
    join_with(client, today.join_code, name="Sky")  # the same person again: no duplicate
    assert len(session.exec(select(WorkshopAttendance)).all()) == len(first)
    join_with(client, today.join_code, name="River")  # someone else on the same phone
    rows = session.exec(
        select(WorkshopAttendance).where(WorkshopAttendance.workshop_id == today.id)
    ).all()
    assert len(rows) == 2
    assert "Hello River" in client.get(f"/workshops/{today.slug}/room").text


def test_a_room_renders_once_for_everyone_in_it_but_each_phone_gets_its_own_name(
    app, client, session, today
):
    """300 phones open the room at once: it is rendered once and shared through the read
    cache, with each person's own name (escaped) and own CSRF token put in their copy."""
    assert join_with(client, today.join_code, name="Sky").status_code == 303
    first = client.get(f"/workshops/{today.slug}/room")
    with Client(app, base_url="http://testserver", follow_redirects=False) as other:
        assert join_with(other, today.join_code, name="<b>Robin</b>").status_code == 303
        second = other.get(f"/workshops/{today.slug}/room")
    assert first.status_code == second.status_code == 200
    assert "Hello Sky." in first.text and "Robin" not in first.text
    assert "Hello &lt;b&gt;Robin&lt;/b&gt;." in second.text and "<b>Robin" not in second.text
    token = re.compile(r'name="csrf-token" content="([^"]+)"')
    mine, theirs = token.search(first.text), token.search(second.text)
    assert mine and theirs and mine.group(1) != theirs.group(1)
    assert "stand-in" not in first.text + second.text
    # The same page but for the name and the token: the second was the first's copy.
    same = first.text.replace("Sky", "NAME").replace(mine.group(1), "TOKEN")
    assert same == second.text.replace("&lt;b&gt;Robin&lt;/b&gt;", "NAME").replace(
        theirs.group(1), "TOKEN"
    )
    # It was shared as the copy for this room's participants; staff never get such a copy.
    assert ("participants", "room", today.id, "soon") in {
        key[-1] for key in app.state.read_cache._entries if key[0] == "page"
    }
    from app.models import Participant, StaffUser, WebSession
    from app.services.identity import Identity
    from app.templating import _sharing

    web = WebSession(id="x", expires_at=today.starts_at, created_at=today.starts_at)
    person, staff = Participant(display_name="Sky"), StaffUser(email="s@example.org", name="S")
    assert _sharing(Identity(web_session=web, participant=person), False, ("room",))
    assert (
        _sharing(Identity(web_session=web, participant=person, staff=staff), False, ("room",))
        is None
    )
    assert _sharing(Identity(web_session=web, participant=person), True, None) is None
