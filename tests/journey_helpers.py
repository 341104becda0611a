"""What the journey tests share (answering a call, applying to a round): answer a page, answer
them all, send, the link in a "saved" email, hostile input, and the app committing for real."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from app.deps import get_now
from app.main import create_app
from app.models import Call, OutboxEmail, Round
from app.ratelimit import RateLimits
from tests.conftest import Client, shared_fixture

LONDON = ZoneInfo("Europe/London")
SECOND = timedelta(seconds=1)


def home(journey: Call | Round) -> str:
    """The journey's start page: /calls/{slug} or /rounds/{slug}."""
    return f"/calls/{journey.slug}" if isinstance(journey, Call) else f"/rounds/{journey.slug}"


def step_address(journey: Call | Round, step: str) -> str:
    return f"{home(journey)}/{'answer' if isinstance(journey, Call) else 'apply'}/{step}"


def answer(client: Client, journey: Call | Round, step: str, data: dict[str, Any], query: str = ""):
    return client.submit(f"{step_address(journey, step)}{query}", data, page="/")


def answer_each(client: Client, journey: Call | Round, answers: dict[str, dict[str, Any]]) -> None:
    """Every page in turn, each answer taken (a 303 to the next page)."""
    for step, data in answers.items():
        response = answer(client, journey, step, data)
        assert response.status_code == 303, (step, response.text[:3000])


def submit_token(client: Client, journey: Call | Round) -> str:
    """The repeat-submit token on the last page ("before you send")."""
    page = client.get(f"{home(journey)}/send")
    assert page.status_code == 200, page.headers
    found = re.search(r'name="submit_token" value="([^"]*)"', page.text)
    assert found, page.text[:3000]
    return found.group(1)


def send(client: Client, journey: Call | Round, ticks: dict[str, str], token: str | None = None):
    """Press send on the last page with these boxes ticked: (response, the token sent)."""
    token = token or submit_token(client, journey)
    data = {"submit_token": token, **ticks}
    return client.submit(f"{home(journey)}/send", data, page="/"), token


def emails_to(session: Session, address: str, part: str = "") -> list[OutboxEmail]:
    """Emails queued for an address whose subject has `part` in it, oldest first."""
    query = select(OutboxEmail).where(OutboxEmail.to_address == address)
    return [e for e in session.exec(query.order_by(col(OutboxEmail.id))) if part in e.subject]


def resume_link(session: Session, journey: Call | Round, address: str, part: str = "saved") -> str:
    """The "come back to your answers" link in the latest such email: to this journey only."""
    found = emails_to(session, address, part)
    assert found, f"no email to {address} about {part!r}"
    body = found[-1].body_text
    link = re.search(rf"http://testserver({re.escape(home(journey))}/resume\?token=[\w-]+)", body)
    assert link, body
    return link.group(1)


def hostile_inputs() -> list[str]:
    return json.loads(shared_fixture("hostile_inputs.json").read_text())["inputs"]


def inert(response) -> None:
    """Hostile input came back harmless: never a 500, never markup or a template run."""
    assert response.status_code in {200, 303, 400, 404, 413}, response.status_code
    text = response.text
    assert "<script>alert(1)</script>" not in text
    assert "onerror=alert(1)>" not in text and "<svg/onload" not in text
    assert '<div hx-get="/admin"' not in text
    assert "49" not in re.findall(r"value=\"([^\"]*)\"", text)  # {{7*7}} was never run


def committing_app(settings, engine, clock):
    """The app committing for real to the test database (for concurrent requests)."""
    app = create_app(settings, engine=engine)
    app.state.rate_limits = RateLimits(None)
    app.dependency_overrides[get_now] = clock
    return app
