"""Changing my details on "My stuff", and erasing a former member of staff.

Browser journeys for both are in tests/browser/test_identity_details.py.
"""

from __future__ import annotations

import json
import re

from markupsafe import escape
from sqlmodel import col, select

from app.forms import clean_text
from app.models import (
    AgeBand,
    AuditEntry,
    ConsentPurpose,
    ConsentState,
    OutboxEmail,
    Role,
    SignInToken,
    StaffRole,
    StaffUser,
    WebSession,
)
from app.services import consent
from tests.conftest import shared_fixture
from tests.factories import make_participant, make_staff, sign_in


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


def _entries(session, action: str) -> list[AuditEntry]:
    return list(
        session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
        )
    )


def _details(**values: str) -> dict[str, str]:
    form = {
        "display_name": "Kit",
        "age_band": "16_17",
        "whose": "",
        "contact_email": "",
        "role_words": "",
    }
    form.update(values)
    return form


def _inert(response) -> None:
    assert response.status_code in {200, 303}, response.status_code
    text = response.text
    assert "<script>alert(1)</script>" not in text
    assert "onerror=alert(1)>" not in text
    assert "<svg/onload" not in text
    assert '<div hx-get="/admin"' not in text
    assert "49" not in re.findall(r"value=\"([^\"]*)\"", text)


# Change my details ---------------------------------------------------------------------------


def test_my_stuff_links_to_the_details_form_which_shows_what_i_gave(client, session, clock):
    me = make_participant(session, "Kit", age_band=None, email="kit@example.org")
    me.role_words = "young carer"
    sign_in(client, session, participant=me, now=clock.now)
    assert 'href="/me/details"' in client.get("/me").text
    page = client.get("/me/details")
    assert page.status_code == 200
    assert "<title>Change my details – Heard</title>" in page.text
    assert 'value="Kit"' in page.text and 'value="kit@example.org"' in page.text
    assert 'value="young carer"' in page.text
    assert 'value="prefer_not" checked' in page.text  # no age given: I'd rather not say
    assert 'value="mine" checked' in page.text
    # Why each thing is asked, next to the question.
    for why in ("Other people in your group see this name", "keep you safe", "link to get back"):
        assert why in page.text


def test_changing_my_details_saves_redirects_and_audits_field_names_only(client, session, clock):
    me = make_participant(session, "Kit", age_band=AgeBand.FROM_16_TO_17)
    sign_in(client, session, participant=me, now=clock.now)
    response = client.submit(
        "/me/details",
        _details(
            display_name="  Kit   Lee ",
            age_band="18_25",
            whose="mine",
            contact_email="Kit.Lee@Example.org",
            role_words="care\nleaver",
        ),
    )
    assert response.status_code == 303 and response.headers["location"] == "/me"
    session.refresh(me)
    assert me.display_name == "Kit Lee" and me.age_band == AgeBand.FROM_18_TO_25
    assert me.contact_email == "kit.lee@example.org" and me.contact_is_parent is False
    assert me.role_words == "care leaver"
    assert "Your details are saved" in client.get("/me").text
    (entry,) = _entries(session, "participant.details_changed")
    assert entry.actor_type == "participant" and entry.actor_id == me.id
    assert entry.record_id == str(me.id)
    assert entry.detail["fields"] == [
        "display_name",
        "age_band",
        "contact_email",
        "role_words",
    ]
    assert "kit" not in json.dumps(entry.detail).lower()  # names of fields, never values


def test_i_would_rather_not_say_clears_my_age_and_an_empty_email_clears_it(client, session, clock):
    me = make_participant(session, age_band=AgeBand.FROM_13_TO_15, email="me@example.org")
    me.contact_is_parent = True
    sign_in(client, session, participant=me, now=clock.now)
    response = client.submit("/me/details", _details(age_band="prefer_not", whose="parent"))
    assert response.status_code == 303
    session.refresh(me)
    assert me.age_band is None and me.contact_email is None and me.contact_is_parent is False


def test_nothing_changed_is_not_audited(client, session, clock):
    me = make_participant(session, "Kit", age_band=AgeBand.FROM_16_TO_17)
    sign_in(client, session, participant=me, now=clock.now)
    assert client.submit("/me/details", _details()).status_code == 303
    assert _entries(session, "participant.details_changed") == []


def test_errors_are_kind_keep_what_was_typed_and_change_nothing(client, session, clock):
    me = make_participant(session, "Kit")
    sign_in(client, session, participant=me, now=clock.now)
    response = client.submit(
        "/me/details",
        _details(
            display_name="x" * 61,
            age_band="",
            contact_email="not an email",
            role_words="y" * 121,
        ),
    )
    assert response.status_code == 200
    text = response.text
    assert "<title>Error: Change my details – Heard</title>" in text
    assert "There is a problem" in text
    for message in (
        "Your name must be 60 characters or fewer",
        "Choose how old you are, or choose I&#39;d rather not say",
        "Enter an email address like name@example.com",
        "Words about you must be 120 characters or fewer",
    ):
        assert message in text
    assert f'value="{"x" * 61}"' in text and 'value="not an email"' in text
    assert client.submit("/me/details", _details(display_name="   ")).status_code == 200
    assert (
        "Enter the name you want to use"
        in client.submit("/me/details", _details(display_name="")).text
    )
    missing_whose = client.submit("/me/details", _details(contact_email="me@example.org"))
    assert "Choose whose email address it is" in missing_whose.text
    session.refresh(me)
    assert me.display_name == "Kit"


def test_with_htmx_an_error_swaps_the_form_block_and_success_redirects(client, session, clock):
    me = make_participant(session, "Kit")
    sign_in(client, session, participant=me, now=clock.now)
    headers = {"HX-Request": "true", "HX-Target": "details-form"}
    token = client.csrf("/me/details")
    bad = client.post(
        "/me/details",
        data={"csrf_token": token, **_details(display_name="")},
        headers={**headers, "X-CSRF-Token": token},
    )
    assert bad.status_code == 200
    assert bad.text.lstrip().startswith('<div id="details-form"')
    assert "<html" not in bad.text and "Enter the name you want to use" in bad.text
    assert "HX-Request" in bad.headers["vary"]
    good = client.post(
        "/me/details",
        data={"csrf_token": token, **_details(display_name="Kai")},
        headers={**headers, "X-CSRF-Token": token},
    )
    assert good.status_code == 204 and good.headers["hx-redirect"] == "/me"


def test_changing_details_needs_the_csrf_token(client, session, clock):
    me = make_participant(session, "Kit")
    sign_in(client, session, participant=me, now=clock.now)
    response = client.post("/me/details", data=_details(display_name="Evil"))
    assert response.status_code == 403
    session.refresh(me)
    assert me.display_name == "Kit"


def test_only_my_own_record_changes(client, session, clock):
    me = make_participant(session, "Kit")
    other = make_participant(session, "Other")
    sign_in(client, session, participant=me, now=clock.now)
    # An id smuggled into the form is ignored: the record is always the signed-in person's.
    for extra in ({"id": str(other.id)}, {"participant_id": str(other.id)}):
        client.submit("/me/details", {**_details(display_name="Changed"), **extra})
    assert client.get(f"/me/details/{other.id}").status_code == 404
    session.refresh(other)
    session.refresh(me)
    assert other.display_name == "Other" and me.display_name == "Changed"


def test_signed_out_people_are_sent_to_sign_in(client):
    assert client.get("/me/details").headers["location"] == "/me/sign-in?next=%2Fme%2Fdetails"
    response = client.submit("/me/details", _details(), page="/me/sign-in")
    assert response.status_code == 303 and response.headers["location"] == "/me/sign-in"


def test_becoming_under_13_asks_for_a_parent_and_never_skips_them(client, session, clock):
    me = make_participant(session, "Kit", age_band=AgeBand.FROM_13_TO_15, email="kit@example.org")
    consent.give_current(session, me, ConsentPurpose.TAKE_PART, clock.now)
    sign_in(client, session, participant=me, now=clock.now)
    settings = client.app.state.settings
    assert consent.may_take_part(session, settings, me)

    # My own email will not do: nobody could say yes for me.
    response = client.submit(
        "/me/details", _details(age_band="under_13", whose="mine", contact_email="kit@example.org")
    )
    assert response.status_code == 200
    assert "give your parent or carer&#39;s email address" in response.text
    session.refresh(me)
    assert me.age_band == AgeBand.FROM_13_TO_15

    response = client.submit(
        "/me/details",
        _details(age_band="under_13", whose="parent", contact_email="carer@example.org"),
    )
    assert response.status_code == 303
    session.refresh(me)
    assert me.age_band == AgeBand.UNDER_13 and me.contact_is_parent is True
    assert consent.parent_consent_status(session, me.id) == ConsentState.WAITING
    assert not consent.may_take_part(session, settings, me)
    email = session.exec(
        select(OutboxEmail).where(OutboxEmail.to_address == "carer@example.org")
    ).one()
    assert "/parent/consent?token=" in email.body_text
    assert "We have emailed your parent or carer" in client.get("/me").text
    (entry,) = _entries(session, "participant.details_changed")
    assert entry.detail["parent_asked"] is True

    # Saving again does not email the parent twice.
    client.submit(
        "/me/details",
        _details(age_band="under_13", whose="parent", contact_email="carer@example.org"),
    )
    assert len(session.exec(select(OutboxEmail)).all()) == 1


def test_changing_my_age_never_steps_round_a_parent_who_was_asked(client, session, clock):
    settings = client.app.state.settings
    me = make_participant(session, "Kit", age_band=AgeBand.UNDER_13, email="carer@example.org")
    me.contact_is_parent = True
    consent.give_current(session, me, ConsentPurpose.TAKE_PART, clock.now)
    consent.request_parent_consent(
        session, settings, me, "carer@example.org", clock.now, context="x"
    )
    sign_in(client, session, participant=me, now=clock.now)
    parent = {"whose": "parent", "contact_email": "carer@example.org"}
    for older in ("13_15", "18_25", "prefer_not"):
        response = client.submit("/me/details", _details(age_band=older, **parent))
        assert response.status_code == 200
        assert "you cannot change your age here" in response.text
    session.refresh(me)
    assert me.age_band == AgeBand.UNDER_13 and not consent.may_take_part(session, settings, me)
    # Other details still change.
    ok = client.submit("/me/details", _details(age_band="under_13", display_name="Kat", **parent))
    assert ok.status_code == 303
    # Once the parent has said yes, a corrected age is fine.
    record = consent.latest(session, me.id, ConsentPurpose.PARENT_CONSENT)
    record.state, record.given_at = ConsentState.GIVEN, clock.now
    session.commit()
    assert client.submit("/me/details", _details(age_band="13_15", **parent)).status_code == 303


def test_an_under_13_with_no_parent_asked_is_told_how_to_ask(client, session, clock):
    me = make_participant(session, "Kit", age_band=AgeBand.UNDER_13)
    sign_in(client, session, participant=me, now=clock.now)
    page = client.get("/me").text
    assert "We have not asked them yet" in page and 'href="/me/details"' in page
    # Already under 13 (joined with a code): other details still change without an email.
    assert client.submit("/me/details", _details(age_band="under_13")).status_code == 303


def test_hostile_input_to_the_details_form(client, session, clock):
    me = make_participant(session, "Kit")
    sign_in(client, session, participant=me, now=clock.now)
    for value in hostile_inputs():
        # Every field hostile: the age band is never valid, so the form comes back.
        everything = {name: value for name in _details()}
        response = client.submit_raw("/me/details", everything)
        _inert(response)
        assert response.status_code == 200 and "There is a problem" in response.text
        shown = clean_text(value)
        if shown.strip() and len(shown) <= 60 and "\\ud83d" not in ascii(shown):
            assert f'value="{escape(shown)}"' in response.text, value
        # Saved where it is valid (a name is any words), then shown escaped everywhere.
        saved = client.submit_raw("/me/details", _details(display_name=value, role_words=value))
        _inert(saved)
        _inert(client.get("/me"))
        _inert(client.get("/me/details"))
        _inert(client.get("/me/data"))
    session.refresh(me)
    assert len(me.display_name) <= 60 and "\n" not in me.display_name


# Erasing a former member of staff -------------------------------------------------------------


def _admin(client, session, clock) -> StaffUser:
    admin = make_staff(session, Role.ADMIN, email="boss@heard.example.org")
    sign_in(client, session, staff=admin, now=clock.now)
    return admin


def test_an_admin_erases_a_switched_off_member_of_staff(client, session, clock):
    from datetime import timedelta

    from app.services import audit, identity
    from app.services.identity import Identity

    admin = _admin(client, session, clock)
    member = make_staff(session, Role.MODERATOR, email="gone@heard.example.org")
    audit.record(session, Identity(staff=member), "post.approved", record_type="post", record_id=7)
    member.active = False
    identity.start_session(session, "their-browser", clock.now, timedelta(minutes=30), staff=member)
    session.commit()
    page = client.get(f"/staff/people/{member.id}")
    assert f'href="/staff/people/{member.id}/erase"' in page.text
    confirm = client.get(f"/staff/people/{member.id}/erase")
    assert confirm.status_code == 200
    assert "Are you sure you want to remove gone&#39;s details?" in confirm.text
    assert "Yes, remove their details" in confirm.text

    response = client.submit(f"/staff/people/{member.id}/erase")
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/people"
    listing = client.get("/staff/people").text
    assert "Their details have been removed" in listing and "gone@heard" not in listing

    session.expire_all()
    member = session.get(StaffUser, member.id)
    assert member.email == f"removed-{member.id}@invalid"
    assert member.display_name == "Former staff member" and member.active is False
    assert session.exec(select(StaffRole).where(StaffRole.staff_id == member.id)).all() == []
    assert session.exec(select(WebSession).where(WebSession.staff_id == member.id)).all() == []
    assert session.exec(select(SignInToken).where(SignInToken.staff_id == member.id)).all() == []
    (their_work,) = _entries(session, "post.approved")
    assert their_work.actor_id is None and their_work.actor_label is None
    (erased,) = _entries(session, "staff.erased")
    assert erased.actor_id == admin.id and erased.actor_label == "boss@heard.example.org"
    assert erased.record_id == str(member.id) and "gone" not in json.dumps(erased.detail)
    person = client.get(f"/staff/people/{member.id}").text
    assert "details have been removed" in person and "Switch account back on" not in person


def test_a_second_or_replayed_erase_is_a_kind_already_removed_page(client, session, clock):
    _admin(client, session, clock)
    member = make_staff(session, Role.ANALYST)
    member.active = False
    session.commit()
    token = client.csrf(f"/staff/people/{member.id}/erase")
    first = client.post(f"/staff/people/{member.id}/erase", data={"csrf_token": token})
    assert first.status_code == 303
    again = client.post(f"/staff/people/{member.id}/erase", data={"csrf_token": token})
    assert again.status_code == 200
    assert "These details have already been removed" in again.text
    assert "already been removed" in client.get(f"/staff/people/{member.id}/erase").text
    assert len(_entries(session, "staff.erased")) == 1
    # An erased account cannot be switched back on.
    client.submit(f"/staff/people/{member.id}/reactivate", page=f"/staff/people/{member.id}")
    session.refresh(member)
    assert member.active is False


def test_you_cannot_erase_yourself_or_an_account_still_switched_on(client, session, clock):
    admin = _admin(client, session, clock)
    active = make_staff(session, Role.FACILITATOR, email="still@heard.example.org")
    session.commit()
    mine = client.get(f"/staff/people/{admin.id}/erase")
    assert "You cannot remove your own details" in mine.text and "Yes, remove" not in mine.text
    assert "Remove boss" not in client.get(f"/staff/people/{admin.id}").text
    refused = client.submit(f"/staff/people/{admin.id}/erase")
    assert refused.status_code == 200 and "Ask another admin" in refused.text
    on = client.get(f"/staff/people/{active.id}/erase")
    assert "Switch off their account first" in on.text and "Yes, remove" not in on.text
    refused = client.submit(f"/staff/people/{active.id}/erase")
    assert refused.status_code == 200 and "Switch off their account first" in refused.text
    session.expire_all()
    assert session.get(StaffUser, admin.id).email == "boss@heard.example.org"
    assert session.get(StaffUser, active.id).email == "still@heard.example.org"
    assert _entries(session, "staff.erased") == []


def test_only_admins_everywhere_may_erase_staff(client, session, clock):
    member = make_staff(session, Role.ANALYST)
    member.active = False
    for role in (Role.FACILITATOR, Role.MODERATOR, Role.SAFEGUARDING_LEAD):
        sign_in(client, session, staff=make_staff(session, role), now=clock.now)
        assert client.get(f"/staff/people/{member.id}/erase").status_code == 403
        response = client.submit(f"/staff/people/{member.id}/erase", page="/staff")
        assert response.status_code == 403
    sign_in(client, session, participant=make_participant(session), now=clock.now)
    assert client.submit(f"/staff/people/{member.id}/erase", page="/me").status_code == 403
    session.refresh(member)
    assert member.email.endswith("@heard.example.org")


def test_erase_without_the_csrf_token_is_refused(client, session, clock):
    _admin(client, session, clock)
    member = make_staff(session, Role.ANALYST)
    member.active = False
    session.commit()
    response = client.post(f"/staff/people/{member.id}/erase", data={})
    assert response.status_code == 403
    session.refresh(member)
    assert not member.email.startswith("removed-")


def test_hostile_erase_requests(client, session, clock):
    admin = _admin(client, session, clock)
    member = make_staff(session, Role.ANALYST)
    member.display_name = hostile_inputs()[0]
    member.active = False
    session.commit()
    _inert(client.get(f"/staff/people/{member.id}/erase"))
    for value in hostile_inputs()[:12]:
        response = client.submit_raw(f"/staff/people/{member.id}/erase", {"confirm": value})
        _inert(response)
    for path in ("/staff/people/abc/erase", "/staff/people/-1/erase", "/staff/people/0/erase"):
        assert client.get(path).status_code in {404, 422}
        assert client.submit_raw(path, {}, page="/staff/people").status_code in {404, 422}
    assert len(_entries(session, "staff.erased")) == 1
    assert admin.id is not None
