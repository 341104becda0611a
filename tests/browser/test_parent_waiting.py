"""A child whose parent or carer has not said yes yet: a kind waiting page, then the room.

Real Chromium at 320 px, JavaScript on and off, axe-clean at every step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.db import utcnow
from tests.browser.harness import check_page
from tests.browser.test_workshop_journeys import _n, new_workshop, press

pytestmark = pytest.mark.browser


def test_a_child_waits_kindly_for_their_parent_then_joins(phone: Any, live_server: Any) -> None:
    n = next(_n)
    workshop = new_workshop(
        live_server,
        title=f"Young voices {n}",
        starts_at=utcnow() + timedelta(minutes=5),
        audience="children",
        age_range="8 to 12",
    )
    from app.models import ConsentPurpose, ConsentState
    from app.services import consent, signups

    with live_server.db() as session:
        answers = {
            "display_name": f"Kit {n}",
            "age_band": "under_13",
            "whose": "parent",
            "email": f"parent{n}@example.org",
            "agree": ["yes"],
        }
        outcome = signups.sign_up(session, live_server.settings, workshop.id, answers, utcnow())
        token = outcome.manage_token
        child_id = outcome.sign_up.participant_id

    phone.goto(f"/sign-ups/{token}")
    check_page(phone)
    main = phone.locator("main").inner_text()
    assert "Your place is kept until your parent or carer says yes" in main
    assert phone.get_by_role("button", name="Join the room").count() == 0  # not yet (issue 10)
    with phone.expect_navigation():
        phone.get_by_role("link", name="What to do now").click()
    check_page(phone)
    assert phone.locator("h1").inner_text() == (
        "We are waiting for your parent or carer to say yes"
    )
    assert phone.get_by_role("heading", name="What happens next").count() == 1
    assert phone.get_by_role("link", name="Need to talk?").count() >= 1

    # The parent or carer says yes (from their email: that page has its own browser test).
    with live_server.db() as session:
        record = consent.latest(session, child_id, ConsentPurpose.PARENT_CONSENT)
        assert record is not None
        record.state, record.given_at = ConsentState.GIVEN, utcnow()
        session.add(record)

    with phone.expect_navigation():
        phone.get_by_role("link", name="Back to your place").click()
    check_page(phone)
    press(phone, "Join the room")
    assert phone.locator("h1").inner_text() == workshop.title
    assert f"Hello Kit {n}" in phone.locator("main").inner_text()
