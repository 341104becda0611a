"""The refusals a room can meet, in real Chromium at 320 px, with JavaScript on and off:
"That was too much to send at once" (413, app/admission.py BodyLimit) and "Lots of people are
joining right now" (503, the AdmissionGate's refusal, with Retry-After).

Both are reached for real, through a Heard of their own on a free loopback port: it takes
small bodies (so a long message is too much) and lets in two requests at once with nobody
waiting. The room is made full by two phones that start sending a form and stall, as on
bad signal; every other request is then refused at the door.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import harness
from tests.browser.conftest import _open, _wait_until_up
from tests.browser.harness import PHONE, LiveServer, check_after_swap, check_page

pytestmark = pytest.mark.browser

MAX_BODY_BYTES = 1500  # a contact message (up to 2,000 characters) can be longer
IN_FLIGHT = 2
TOO_LONG = "I want to tell you everything that happened. " * 40  # 1,840 characters
TOO_MUCH = "That was too much to send at once"
BUSY = "Lots of people are joining right now"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from app.cli import upgrade_database
    from app.config import Settings
    from app.main import create_app

    folder = tmp_path_factory.mktemp("small")
    database_url = f"sqlite:///{folder / 'heard.db'}"
    upgrade_database(database_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        env="development",
        database_url=database_url,
        secret_key=secrets.token_urlsafe(36),
        mail_dir=folder / "mail",
        base_url=base_url,
        exit_url=f"{base_url}/healthz",
        max_body_bytes=MAX_BODY_BYTES,
        max_requests_in_flight=IN_FLIGHT,
        request_queue_max=0,  # a full room refuses at once: nobody waits at the door
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    _wait_until_up(f"{base_url}/healthz", thread)
    yield LiveServer(url=base_url, app=app, settings=settings)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.engine.dispose()


@pytest.fixture(params=["js", "nojs"])
def phone(request: pytest.FixtureRequest, browser: Any, small_server: LiveServer) -> Iterator[Any]:
    """A 320 px page on the small server, once with JavaScript on and once with it off."""
    yield from _open(browser, small_server, js=request.param == "js", viewport=PHONE)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


@contextlib.contextmanager
def full_room(server: LiveServer) -> Iterator[None]:
    """Every place in the room taken: phones that began sending a form and stalled."""
    host, port = server.url.removeprefix("http://").split(":")
    stalled = []
    try:
        for _ in range(IN_FLIGHT):
            one = socket.create_connection((host, int(port)), timeout=5)
            one.sendall(
                f"POST /contact HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n"
                "\r\ncsrf_token=".encode()
            )
            stalled.append(one)
        _wait_for(lambda: _status(f"{server.url}/privacy") == 503, "the room to fill")
        yield
    finally:
        for one in stalled:
            one.close()
        _wait_for(lambda: _status(f"{server.url}/privacy") == 200, "the room to empty")


def _wait_for(done: Any, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def not_counted() -> Iterator[None]:
    """An error page shown at a page's address is not that page: the inventory must not
    count the address as checked (harness.record_visit leaves out only 404 and 405)."""
    before = set(harness.VISITED)
    yield
    harness.VISITED.intersection_update(before)


def _press_send(phone: Any, message: str) -> Any:
    """Write a message on the contact page and press Send: the response to the press."""
    phone.get_by_label("Your message").fill(message)
    button = phone.get_by_role("button", name="Send message", exact=True)
    with phone.expect_response(lambda r: r.request.method == "POST") as pressed:
        button.click()
    return pressed.value


def _check_refusal(phone: Any, heading: str, label: str) -> None:
    if harness.context_info(phone).js:
        # HTMX sent it: the refusal page's own words replace the page's main part.
        phone.locator("main h1", has_text=heading).wait_for(state="visible")
        with not_counted():
            check_after_swap(phone, "main h1", label=label)
    else:
        phone.wait_for_load_state("load")
        with not_counted():
            check_page(phone, label=label)
    assert phone.locator("main h1").inner_text() == heading


def test_too_much_to_send_at_once(phone: Any, small_server: LiveServer) -> None:
    phone.goto("/contact")
    response = _press_send(phone, TOO_LONG)
    assert response.status == 413
    _check_refusal(phone, TOO_MUCH, "413")
    words = phone.locator("main").inner_text()
    assert "Go back, make it shorter and try again." in words


def test_lots_of_people_are_joining_right_now(phone: Any, small_server: LiveServer) -> None:
    phone.goto("/contact")
    with full_room(small_server):
        response = _press_send(phone, "Short and kind.")
        assert response.status == 503
        assert response.headers["retry-after"] == "5"
        _check_refusal(phone, BUSY, "503 after pressing Send")
        assert "Wait a few seconds and try again." in phone.locator("main").inner_text()

        opened = phone.goto("/privacy")
        assert opened is not None and opened.status == 503
        assert opened.headers["retry-after"] == "5"
        with not_counted():
            check_page(phone, label="503 opening a page")
        assert phone.locator("h1").inner_text() == BUSY
        assert phone.title().startswith(BUSY)
