"""Magic links through a real SMTP server on loopback: ask, send the outbox, follow the link."""

from __future__ import annotations

import re

from app.models import Role
from app.services import outbox, participants
from tests.factories import make_staff


def _send(app, settings, clock) -> None:
    sent, failed = outbox.send_due_blocking(app.state.open_session, settings, clock.now)
    assert failed == 0 and sent >= 1


def test_a_participant_gets_back_in_through_a_real_smtp_server(
    client, app, session, settings, clock, smtp
):
    participants.create(session, display_name="Mo", now=clock.now, contact_email="mo@example.org")
    session.commit()
    assert client.submit("/me/sign-in", {"email": "mo@example.org"}).status_code == 303
    _send(app, settings, clock)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "mo@example.org"
    link = re.search(r"http://testserver(/me/sign-in/link\?token=\S+)", smtp.bodies()[0]).group(1)
    response = client.submit("/me/sign-in/link", {"token": link.split("token=")[1]}, page=link)
    assert response.status_code == 303
    assert "Hello, Mo." in client.get("/me").text


def test_staff_get_in_through_a_real_smtp_server(client, app, session, settings, clock, smtp):
    make_staff(session, Role.REVIEWER, email="rev@heard.example.org")
    session.commit()
    client.submit("/staff/sign-in", {"email": "rev@heard.example.org"})
    _send(app, settings, clock)
    body = smtp.bodies()[0]
    link = re.search(r"http://testserver(/staff/sign-in/link\?token=\S+)", body).group(1)
    response = client.submit("/staff/sign-in/link", {"token": link.split("token=")[1]}, page=link)
    assert response.status_code == 303
    assert client.get("/staff").status_code == 200
