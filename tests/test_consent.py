"""Consent: one purpose per record, withdrawing in one click, and a parent or carer's consent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import col, select

from app.config import Settings
from app.models import (
    AgeBand,
    AuditEntry,
    Consent,
    ConsentPurpose,
    ConsentState,
    OutboxEmail,
    SignInToken,
)
from app.services import consent, participants
from tests.factories import make_participant, sign_in


def _parent_link(session, to: str) -> str:
    email = session.exec(
        select(OutboxEmail).where(OutboxEmail.to_address == to).order_by(col(OutboxEmail.id).desc())
    ).first()
    found = re.search(r"http://testserver(/parent/consent\?token=\S+)", email.body_text)
    assert found, email.body_text
    return found.group(1)


@pytest.mark.parametrize(
    ("under", "band", "needed"),
    [
        (13, AgeBand.UNDER_13, True),
        (13, AgeBand.FROM_13_TO_15, False),
        (16, AgeBand.FROM_13_TO_15, True),
        (16, AgeBand.FROM_16_TO_17, False),
        (16, AgeBand.FROM_18_TO_25, False),
        (13, None, False),
    ],
)
def test_who_needs_a_parent_or_carer(under, band, needed):
    settings = Settings(env="test", secret_key="x" * 40, parent_consent_under=under)
    assert consent.needs_parent_consent(settings, band) is needed


def test_consents_are_separate_and_withdrawing_one_leaves_the_others(session, clock):
    person = make_participant(session)
    for purpose in (ConsentPurpose.TAKE_PART, ConsentPurpose.BE_QUOTED):
        consent.give_current(session, person, purpose, clock.now)
    consent.withdraw(session, person, ConsentPurpose.BE_QUOTED, clock.now)
    assert consent.has_consent(session, person.id, ConsentPurpose.TAKE_PART)
    assert not consent.has_consent(session, person.id, ConsentPurpose.BE_QUOTED)
    record = consent.latest(session, person.id, ConsentPurpose.TAKE_PART)
    assert record.wording == consent.WORDING[ConsentPurpose.TAKE_PART][0]
    assert record.version == consent.WORDING[ConsentPurpose.TAKE_PART][1]


def test_parent_consent_journey(client, session, clock, settings):
    child = participants.create(
        session, display_name="Tia", now=clock.now, age_band=AgeBand.UNDER_13
    )
    consent.give_current(session, child, ConsentPurpose.TAKE_PART, clock.now)
    record = consent.request_parent_consent(
        session,
        settings,
        child,
        "mum@example.org",
        clock.now,
        context="a workshop on Friday 5 February",
    )
    session.commit()
    assert record.state == ConsentState.WAITING and record.given_by == "parent"
    assert "a workshop on Friday 5 February" in record.wording
    assert consent.parent_consent_status(session, child.id) == ConsentState.WAITING
    assert not consent.may_take_part(session, settings, child)
    token_row = session.exec(
        select(SignInToken).where(SignInToken.purpose == "parent_consent")
    ).one()
    assert token_row.expires_at - clock.now == timedelta(days=7)

    # The child is told, in plain words, and sees the status.
    sign_in(client, session, participant=child, now=clock.now)
    page = client.get("/me").text
    assert "We have emailed your parent or carer" in page
    assert "This page is for a child under 13 and their parent or carer" in page

    # The parent reads what they agree to; looking does not use the link.
    client.cookies.clear()
    link = _parent_link(session, "mum@example.org")
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200
        assert "Can Tia take part?" in page.text and "Friday 5 February" in page.text
    token = link.split("token=")[1]
    response = client.submit("/parent/consent", {"token": token, "answer": "yes"}, page=link)
    assert response.status_code == 303
    assert "You said yes" in client.get(response.headers["location"]).text
    session.refresh(record)
    assert record.state == ConsentState.GIVEN and record.given_at == clock.now
    assert consent.may_take_part(session, settings, child)
    # The link works once.
    again = client.submit("/parent/consent", {"token": token, "answer": "no"}, page="/")
    assert again.status_code == 400
    assert client.get(link).status_code == 400

    sign_in(client, session, participant=child, now=clock.now)
    assert "Your parent or carer said yes" in client.get("/me").text


def test_a_parent_can_say_no(client, session, clock, settings):
    child = participants.create(
        session, display_name="Uma", now=clock.now, age_band=AgeBand.UNDER_13
    )
    consent.request_parent_consent(
        session, settings, child, "dad@example.org", clock.now, context="a workshop"
    )
    session.commit()
    link = _parent_link(session, "dad@example.org")
    token = link.split("token=")[1]
    response = client.submit("/parent/consent", {"token": token, "answer": "no"}, page=link)
    assert response.status_code == 303
    record = consent.latest(session, child.id, ConsentPurpose.PARENT_CONSENT)
    assert record.state == ConsentState.WITHDRAWN and record.given_at is None
    sign_in(client, session, participant=child, now=clock.now)
    assert "Your parent or carer said no" in client.get("/me").text


def test_a_parent_link_expires_after_7_days(client, session, clock, settings):
    child = participants.create(
        session, display_name="Vi", now=clock.now, age_band=AgeBand.UNDER_13
    )
    consent.request_parent_consent(
        session, settings, child, "p@example.org", clock.now, context="x"
    )
    session.commit()
    link = _parent_link(session, "p@example.org")
    clock.advance(days=7, seconds=1)
    assert client.get(link).status_code == 400
    assert client.get("/parent/consent?token=nonsense").status_code == 400
    assert client.get("/parent/consent").status_code == 400


def test_withdrawing_is_one_click_from_my_stuff_and_recorded(client, session, clock):
    person = make_participant(session)
    record = consent.give_current(session, person, ConsentPurpose.BE_QUOTED, clock.now)
    heard: list = []
    hook = consent.on_withdraw(lambda s, p, purpose, now: heard.append((p.id, purpose)))
    try:
        sign_in(client, session, participant=person, now=clock.now)
        assert "Stop this" in client.get("/me").text
        response = client.submit(f"/me/consents/{record.id}/withdraw", page="/me")
        assert response.status_code == 303
    finally:
        consent._on_withdraw.remove(hook)
    session.refresh(record)
    assert record.state == ConsentState.WITHDRAWN and record.withdrawn_at == clock.now
    assert heard == [(person.id, ConsentPurpose.BE_QUOTED)]
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "consent.withdrawn")).one()
    assert "You said stop on" in client.get("/me").text


def test_a_participant_cannot_change_another_participants_consent(client, session, clock):
    me = make_participant(session, "Me")
    other = make_participant(session, "Other")
    theirs = consent.give_current(session, other, ConsentPurpose.BE_QUOTED, clock.now)
    sign_in(client, session, participant=me, now=clock.now)
    response = client.submit(f"/me/consents/{theirs.id}/withdraw", page="/me")
    assert response.status_code == 404
    session.refresh(theirs)
    assert theirs.state == ConsentState.GIVEN
    # Nor can they see it: their page and download only ever hold their own records.
    assert theirs.wording not in client.get("/me").text
    assert "Other" not in client.get("/me/data.json").text


def test_change_what_you_agree_to(client, session, clock):
    person = make_participant(session)
    consent.give_current(session, person, ConsentPurpose.TAKE_PART, clock.now)
    sign_in(client, session, participant=person, now=clock.now)
    page = client.get("/me/consents").text
    # Unanswered purposes start unticked; Yes and No look the same.
    assert page.count('type="radio"') == 8
    assert page.count(" checked") == 1
    response = client.submit(
        "/me/consents", {"take_part": "no", "be_quoted": "yes", "be_paid": "no"}
    )
    assert response.status_code == 303
    assert not consent.has_consent(session, person.id, ConsentPurpose.TAKE_PART)
    assert consent.has_consent(session, person.id, ConsentPurpose.BE_QUOTED)
    assert consent.latest(session, person.id, ConsentPurpose.BE_PAID) is None
    response = client.submit("/me/consents", {"take_part": "maybe"})
    assert response.status_code == 200 and "Choose yes or no" in response.text


def test_the_parent_consent_cannot_be_withdrawn_by_the_child(client, session, clock, settings):
    child = participants.create(session, display_name="W", now=clock.now, age_band=AgeBand.UNDER_13)
    record = consent.request_parent_consent(
        session, settings, child, "p@example.org", clock.now, context="x"
    )
    sign_in(client, session, participant=child, now=clock.now)
    response = client.submit(f"/me/consents/{record.id}/withdraw", page="/me")
    assert response.status_code == 404
    assert session.get(Consent, record.id).state == ConsentState.WAITING


def test_withdrawing_with_htmx_swaps_the_list_in_place(client, session, clock):
    person = make_participant(session)
    record = consent.give_current(session, person, ConsentPurpose.BE_QUOTED, clock.now)
    sign_in(client, session, participant=person, now=clock.now)
    token = client.csrf("/me")
    response = client.post(
        f"/me/consents/{record.id}/withdraw",
        headers={"X-CSRF-Token": token, "HX-Request": "true", "HX-Target": "consents-block"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="consents-block">')
    assert "<html" not in response.text
    assert "We have stopped" in response.text and "You said stop on" in response.text
