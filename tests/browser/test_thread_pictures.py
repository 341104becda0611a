"""A picture with a thread's prompt, in real Chromium at 320 px, JavaScript on and off: staff
choose one, forget to describe it and are asked to (the picture is kept), then describe it;
a young person in the room sees it with its description. axe-clean at every step."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.db import utcnow
from app.models import Role
from app.services import spaces_staff
from app.services.identity import Identity
from tests.browser.harness import check_page, press
from tests.conftest import build_workshop
from tests.factories import make_staff

pytestmark = pytest.mark.browser
_n = itertools.count(1)


def test_staff_add_a_described_picture_and_young_people_see_it(
    phone: Any, open_page: Any, live_server: Any, tmp_path: Path
) -> None:
    n = next(_n)
    with live_server.db() as session:
        workshop = build_workshop(
            session,
            utcnow(),
            title=f"Pictures room {n}",
            starts_at=utcnow() + timedelta(minutes=10),
        )
        admin = make_staff(session, Role.ADMIN)
        space = spaces_staff.open_for_workshop(
            session, workshop, Identity(staff=admin, roles={(Role.ADMIN, None)}), utcnow()
        )
        session.flush()
        space_id, code = space.id, workshop.join_code
    photo = tmp_path / "new-flat.jpg"
    Image.new("RGB", (600, 400), (90, 140, 200)).save(photo, format="JPEG")

    phone.goto(live_server.staff_sign_in_url(f"pictures-{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto(f"{live_server.url}/staff/spaces/{space_id}")
    check_page(phone)
    phone.get_by_label("Add a question").fill("What made your new home feel like yours?")
    phone.get_by_label("A picture to go with it (optional)").set_input_files(str(photo))
    press(phone, "Add the question")
    assert phone.title().startswith("Error: ")
    summary = phone.locator(".error-summary").inner_text()
    assert "Say what the picture shows, for people who cannot see it" in summary
    assert "Your picture is kept" in phone.locator("main").inner_text()
    assert phone.get_by_label("Add a question").input_value().startswith("What made your")

    phone.get_by_label("What the picture shows").fill("A bedroom with posters on the wall")
    press(phone, "Add the question")
    staff_copy = phone.get_by_role("img", name="A bedroom with posters on the wall")
    assert staff_copy.evaluate("(img) => img.complete && img.naturalWidth") == 600

    young = open_page(True)
    young.set_viewport_size({"width": 320, "height": 640})
    young.goto(f"{live_server.url}/join?code={code}")
    check_page(young)
    press(young, "Join")
    young.get_by_label("Choose a name for today").fill(f"Sky {n}")
    young.get_by_label("I have read the house rules").check()
    press(young, "Go to the workshop")
    with young.expect_navigation():
        young.get_by_role("link", name="Talk about it").first.click()
    with young.expect_navigation():
        young.get_by_role("link", name="What made your new home feel like yours?").click()
    check_page(young)
    shown = young.get_by_role("img", name="A bedroom with posters on the wall")
    assert shown.evaluate("(img) => img.complete && img.naturalWidth") == 600
    box = shown.bounding_box()
    assert box is not None and box["width"] <= 320


def test_a_file_that_is_not_a_picture_is_refused_kindly(
    phone: Any, live_server: Any, tmp_path: Path
) -> None:
    n = next(_n)
    with live_server.db() as session:
        workshop = build_workshop(session, utcnow(), title=f"Not a picture {n}")
        admin = make_staff(session, Role.ADMIN)
        space = spaces_staff.open_for_workshop(
            session, workshop, Identity(staff=admin, roles={(Role.ADMIN, None)}), utcnow()
        )
        session.flush()
        space_id = space.id
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    phone.goto(live_server.staff_sign_in_url(f"not-pictures-{n}@heard.example.org", "admin"))
    press(phone, "Sign in")
    phone.goto(f"{live_server.url}/staff/spaces/{space_id}")
    phone.get_by_label("Add a question").fill("Kept question")
    phone.get_by_label("A picture to go with it (optional)").set_input_files(str(fake))
    phone.get_by_label("What the picture shows").fill("A photo")
    press(phone, "Add the question")
    assert "The file must be a picture" in phone.locator(".error-summary").inner_text()
    assert phone.get_by_label("Add a question").input_value() == "Kept question"
    assert phone.get_by_label("What the picture shows").input_value() == "A photo"
