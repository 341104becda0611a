"""Browser test fixtures: a live Heard on a free loopback port, and one headless Chromium.

`live_server` runs the real app (development settings, so /dev/mail works) on a fresh
migrated SQLite database with the demo data, in a background thread. Each test gets a new
browser context: `page` (320x640, JavaScript on), `page_nojs` (320x640, JavaScript off) and
`desktop_page` (1280x800). A context can reach 127.0.0.1 only; any other request is
aborted and fails the test, and so does an uncaught JavaScript error or a
Content-Security-Policy refusal. See harness.py for `check_page` and friends.

Without Playwright or Chromium these tests are skipped, or fail under HEARD_REQUIRE_ALL=1.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import (
    AXE_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    LiveServer,
    context_info,
    new_context,
    register_server,
)
from tests.conftest import require

BROWSER_DIR = Path(__file__).resolve().parent
INVENTORY_FILE = "test_page_inventory.py"
# Generous limits: many tests share one address; the limits have tests of their own.
LIVE_RATE = "10000/minute"

_browser_items = pytest.StashKey[list[pytest.Item]]()
_browser_deselected = pytest.StashKey[list[str]]()


def _in_browser_dir(item: pytest.Item) -> bool:
    return BROWSER_DIR in Path(str(item.path)).resolve().parents


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser tests, run them after the quick tests, and the page inventory last.

    (Quick tests first, so a broken rule fails in seconds; and Playwright's sync API keeps an
    event loop on the main thread, which nothing after it should have to mind.)

    trylast: so -k, -m, --deselect and --lf have already deselected what they will.
    """
    browser_items = [item for item in items if _in_browser_dir(item)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    config.stash[_browser_items] = browser_items
    last = [item for item in browser_items if item.path.name == INVENTORY_FILE]
    browser_first = [item for item in browser_items if item not in last]
    chosen = set(browser_items)
    items[:] = [item for item in items if item not in chosen] + browser_first + last


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        if _in_browser_dir(item):
            item.config.stash.setdefault(_browser_deselected, []).append(item.nodeid)


def whole_browser_suite_collected(config: pytest.Config) -> str | None:
    """None when every browser test was collected and none deselected; else why not."""
    deselected = config.stash.get(_browser_deselected, [])
    if deselected:
        return f"{len(deselected)} browser test(s) were deselected (-k, -m, --deselect or --lf)"
    for arg in config.args:
        if "::" in arg:
            return f"only some tests were asked for ({arg})"
    collected = {item.path.name for item in config.stash.get(_browser_items, [])}
    missing = sorted(p.name for p in BROWSER_DIR.glob("test_*.py") if p.name not in collected)
    if missing:
        return "not every browser test file was collected: missing " + ", ".join(missing)
    return None


# ---- the live server ----


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    import uvicorn

    from app.cli import upgrade_database
    from app.config import Settings
    from app.db import utcnow
    from app.main import create_app
    from app.services import demo

    folder = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{folder / 'heard.db'}"
    upgrade_database(database_url)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        env="development",
        database_url=database_url,
        secret_key=secrets.token_urlsafe(36),  # 48 characters
        mail_dir=folder / "mail",
        upload_dir=folder / "uploads",
        base_url=base_url,
        # "Exit this page" goes to a page of the live server, not the real neutral site,
        # so the test of it never leaves 127.0.0.1 (every other host is blocked).
        exit_url=f"{base_url}/healthz",
        join_rate_per_ip=LIVE_RATE,
        join_rate_per_code=LIVE_RATE,
        sign_in_rate_per_ip=LIVE_RATE,
        form_rate_per_ip=LIVE_RATE,
    )
    app = create_app(settings)
    with app.state.open_session(True) as session:
        demo.load(session, utcnow())
        session.commit()

    server = uvicorn.Server(
        uvicorn.Config(app, log_config=None, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    _wait_until_up(f"{base_url}/healthz", thread)
    live = LiveServer(url=base_url, app=app, settings=settings)
    register_server(live)
    yield live
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    app.state.engine.dispose()


def _wait_until_up(url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("the live server stopped while starting (see the log above)")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"the live server did not answer {url} within 30 seconds")


# ---- the browser ----


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        require("Playwright", f"its Python package is not installed ({exc})")
    if not CHROMIUM.exists():
        require("Chromium", f"{CHROMIUM} does not exist")
    if not AXE_JS.exists():
        require("axe-core", f"{AXE_JS} is missing (run .venv/bin/python tests/setup_browser.py)")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
    except Error as exc:
        playwright.stop()
        require("Chromium", f"it did not start ({str(exc).splitlines()[0]})")
    yield chromium
    chromium.close()
    playwright.stop()


def _open(
    browser: Any, live_server: LiveServer, *, js: bool, viewport: dict[str, int]
) -> Iterator[Any]:
    context = new_context(browser, js=js, viewport=viewport, base_url=live_server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"Content-Security-Policy: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    blocked = list(context_info(page).blocked)
    context.close()
    assert not blocked, "Requests to outside Heard were made (and blocked): " + ", ".join(blocked)
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A phone-sized page (320x640) with JavaScript on."""
    yield from _open(browser, live_server, js=True, viewport=PHONE)


@pytest.fixture
def page_nojs(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A phone-sized page (320x640) with JavaScript off."""
    yield from _open(browser, live_server, js=False, viewport=PHONE)


@pytest.fixture(params=["js", "nojs"])
def phone(request: pytest.FixtureRequest) -> Any:
    """A 320 px page, once with JavaScript on and once with it off (a test's own `phone`
    fixture, on a server of its own, takes its place)."""
    return request.getfixturevalue("page" if request.param == "js" else "page_nojs")


@pytest.fixture
def desktop_page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A desktop-sized page (1280x800) with JavaScript on."""
    yield from _open(browser, live_server, js=True, viewport=DESKTOP)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    return live_server


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """Open more pages (a parent's phone, a second visit) with JavaScript on or off."""
    contexts: list[Any] = []

    def make(javascript: bool = True) -> Any:
        context = new_context(browser, js=javascript)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
