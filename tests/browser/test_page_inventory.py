"""Every HTML page of the app was put through check_page by some browser test.

The routes are read from the live app, so a new page is counted as soon as it exists. It
runs after every other test (conftest.py moves it last) and only when the whole browser
suite ran: with -k, -m, --deselect, --lf, a test id or a subset of the browser files, it is
skipped, since the pages other files visit were never going to be visited.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser import harness
from tests.browser.conftest import whole_browser_suite_collected

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def whole_suite(request: pytest.FixtureRequest) -> None:
    """Skips at once (before the browser starts) unless the whole browser suite ran."""
    why_not = whole_browser_suite_collected(request.config)
    if why_not:
        pytest.skip(f"the page inventory needs the whole browser suite: {why_not}")


def test_every_html_page_was_checked_in_a_browser(
    whole_suite: None, browser: Any, live_server: Any
) -> None:
    pages = harness.html_page_routes(live_server.app)
    assert pages, "the app has no HTML pages?"
    missing = [path for path in pages if path not in harness.VISITED]
    assert not missing, (
        f"{len(missing)} of {len(pages)} HTML pages were never checked with check_page "
        "(a page counts once it passes every check; a failed test records nothing):\n  "
        + "\n  ".join(missing)
    )
