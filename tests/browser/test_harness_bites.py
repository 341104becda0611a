"""The harness has teeth: each check fails on a page made to break it.

The pages are answered by Playwright itself (`page.route(...).fulfill`) at addresses on
127.0.0.1 that nothing listens on, so no server is involved and nothing leaves the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness
from tests.browser.harness import (
    assert_axe_clean,
    assert_focus_visible,
    assert_no_outside_requests,
    assert_no_sideways_scroll,
    assert_targets_big_enough,
    check_page,
    context_info,
)

pytestmark = pytest.mark.browser

NOWHERE = "http://127.0.0.1:9"  # the discard port: never contacted, every page is fulfilled
BROKEN = (Path(__file__).parent / "broken_fixture.html").read_text()


def page_of(body: str, title: str = "A test page") -> str:
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )


CLEAN = page_of(
    '<p>This sentence has <a href="/elsewhere">a small link</a> inside it, which is fine.</p>'
    '<button type="button" style="min-width: 44px; min-height: 44px">Go</button>'
)


def serve(page: Any, path: str, html: str, base: str = NOWHERE) -> None:
    page.route(
        f"{base}{path}",
        lambda route: route.fulfill(status=200, content_type="text/html", body=html),
    )
    page.goto(f"{base}{path}")


def test_axe_finds_an_image_without_alt_and_a_field_without_a_label(page: Any) -> None:
    serve(page, "/broken", BROKEN)
    with pytest.raises(AssertionError) as failed:
        assert_axe_clean(page)
    message = str(failed.value)
    assert "image-alt" in message
    assert "label" in message
    assert "img" in message  # the target selector is listed
    with pytest.raises(AssertionError, match="axe-core found"):
        check_page(page)


def test_axe_runs_with_javascript_off_too(page_nojs: Any) -> None:
    serve(page_nojs, "/broken", BROKEN)
    with pytest.raises(AssertionError, match="image-alt"):
        assert_axe_clean(page_nojs)


def test_a_10px_button_is_too_small(page: Any) -> None:
    serve(page, "/broken", BROKEN)
    with pytest.raises(AssertionError, match=r'button "Go" is 10\.0x10\.0 px'):
        assert_targets_big_enough(page)


def test_a_2000px_div_scrolls_sideways(page: Any) -> None:
    serve(page, "/broken", BROKEN)
    with pytest.raises(AssertionError, match="scrolls sideways"):
        assert_no_sideways_scroll(page)


def test_a_clean_page_passes_and_a_link_in_a_sentence_is_exempt(page: Any) -> None:
    serve(page, "/clean", CLEAN)
    check_page(page)


@pytest.mark.parametrize("fixture", ["page", "page_nojs"])
def test_a_small_link_alone_in_its_paragraph_is_too_small(
    request: pytest.FixtureRequest, fixture: str
) -> None:
    page = request.getfixturevalue(fixture)
    serve(page, "/alone", page_of('<p><a href="/x" style="font-size: 12px">Alone</a></p>'))
    with pytest.raises(AssertionError, match='a "Alone"'):
        assert_targets_big_enough(page)


def test_hidden_things_are_not_targets(page: Any) -> None:
    serve(
        page,
        "/hidden",
        page_of(
            '<a href="#x" style="position: absolute; top: -10rem">Parked skip link</a>'
            '<span style="position: absolute; width: 1px; height: 1px; overflow: hidden;'
            ' clip: rect(0 0 0 0)"><a href="/y">Visually hidden</a></span>'
            '<button type="button" hidden>Hidden</button>'
            '<div style="display: none"><a href="/z">Not displayed</a></div>'
        ),
    )
    assert_targets_big_enough(page)


def test_a_request_to_another_site_is_blocked_and_fails(page: Any) -> None:
    serve(page, "/outside", page_of('<img src="https://example.org/tracker.png" alt="">'))
    with pytest.raises(AssertionError, match=r"example\.org/tracker\.png"):
        assert_no_outside_requests(page)
    context_info(page).blocked.clear()  # handled: do not fail the test again at teardown


def test_focus_without_an_indicator_fails(page: Any) -> None:
    serve(page, "/no-focus", page_of('<button type="button" style="outline: none">Go</button>'))
    with pytest.raises(AssertionError, match="No visible focus indicator"):
        assert_focus_visible(page)


def test_only_pages_that_pass_are_counted_as_visited(
    page: Any, live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "VISITED", set())
    serve(page, "/help", BROKEN, base=live_server.url)  # a real route, a broken page
    with pytest.raises(AssertionError):
        check_page(page)
    assert not harness.VISITED

    page.unroute(f"{live_server.url}/help")
    page.goto(f"{live_server.url}/help")
    check_page(page)
    assert "/help" in harness.VISITED
    assert len(harness.VISITED) == 1
