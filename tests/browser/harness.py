"""The browser test harness: a live Heard, real Chromium, and the checks every page must pass.

Use the fixtures in conftest.py (`live_server`, `page`, `page_nojs`, `desktop_page`) and call
`check_page(page)` on every page a test reaches, and `check_after_swap(page)` after every
HTMX swap. `check_page` runs axe-core, measures every target, checks nothing scrolls
sideways, and records the route the page belongs to, so test_page_inventory.py can prove
every HTML page of the app was checked by some test.

How axe-core gets into a page
-----------------------------
Heard's Content-Security-Policy is `script-src 'self'`, so `page.add_script_tag(content=...)`
(an inline <script>) is refused. `page.evaluate(axe_source)` is not: Playwright evaluates
through the DevTools protocol (Runtime.evaluate), which a page's CSP does not govern. So
the page is checked with its real CSP in force, with no `bypass_csp`.

With JavaScript off (`java_script_enabled=False`), `page.evaluate` still runs synchronous
code (the geometry checks below work as they are), but timers never fire, and axe.run
waits on setTimeout, so it would hang (tried: re-enabling scripts through a second
DevTools session does not help). So for such a page axe runs on a mirror: one
JavaScript-enabled page per browser, kept for the session, at the same viewport, whose
request for the page's URL is answered with the no-JS page's own DOM (`page.content()`)
and whose every script request is aborted, so the page's own JavaScript never runs there
either; stylesheets come from the live server as usual, so colour contrast is measured on
the real styles. This covers pages reached by a POST too (an error summary after a plain
form post), which re-opening the URL would not. `<noscript>` is turned into <div> in the
mirror so axe sees what a no-JS browser shows. Target sizes and sideways scroll are
measured on the no-JS page itself.

Also checked for every page made by the fixtures: no request leaves 127.0.0.1 (others are
aborted and fail the test), no uncaught JavaScript error, no Content-Security-Policy
refusal (see conftest.py).
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.routing import Match

TESTS = Path(__file__).resolve().parents[1]
AXE_JS = TESTS / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
PHONE = {"width": 320, "height": 640}
DESKTOP = {"width": 1280, "height": 800}
LOCAL_HOST = "127.0.0.1"
MIN_TARGET = 24

# Route templates (e.g. "/programmes/{slug}") of pages that passed check_page this session.
VISITED: set[str] = set()


@dataclass
class ContextInfo:
    """What the harness knows about a browser context it made."""

    js: bool
    blocked: list[str] = field(default_factory=list)


_CONTEXTS: weakref.WeakKeyDictionary[Any, ContextInfo] = weakref.WeakKeyDictionary()
_server: Any = None  # the LiveServer, registered by the live_server fixture


def register_server(server: Any) -> None:
    global _server
    _server = server


# Counts HTMX requests so a test can wait until every swap has settled. Init scripts run
# through DevTools, so the page's CSP does not stop this either.
HTMX_COUNTER = """
(() => {
  const s = window.__heardHtmx = {started: 0, finished: 0, settled: 0};
  document.addEventListener("htmx:beforeRequest", () => { s.started += 1; }, true);
  document.addEventListener("htmx:afterRequest", () => { s.finished += 1; }, true);
  document.addEventListener("htmx:afterSettle", () => { s.settled += 1; }, true);
})();
"""


# Only requests to anywhere but 127.0.0.1 are intercepted (Playwright matches the pattern in
# the browser's driver, so requests to Heard itself never wait on Python).
OUTSIDE = re.compile(r"^(?!(?:https?|wss?)://127\.0\.0\.1(?::\d+)?(?:[/?#]|$)|data:|blob:|about:)")


def new_context(
    browser: Any, *, js: bool = True, viewport: dict[str, int] = PHONE, **kw: Any
) -> Any:
    """A browser context that can reach 127.0.0.1 only; anything else is aborted and kept.

    With JavaScript on, an HTMX counter is added as an init script (it runs in every
    document, before the page's own scripts; init scripts are not subject to the CSP).
    axe-core is not: evaluating it on demand in check_page is as quick, and pages that
    are never checked do not pay for it.
    """
    context = browser.new_context(viewport=viewport, java_script_enabled=js, **kw)
    context.set_default_timeout(10_000)
    info = ContextInfo(js=js)
    _CONTEXTS[context] = info

    def guard(route: Any) -> None:
        info.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    context.route(OUTSIDE, guard)
    if js:
        context.add_init_script(HTMX_COUNTER)
    return context


def context_info(page: Any) -> ContextInfo:
    info = _CONTEXTS.get(page.context)
    if info is None:  # a context the harness did not make
        info = ContextInfo(js=javascript_on(page))
        _CONTEXTS[page.context] = info
    return info


def javascript_on(page: Any) -> bool:
    """Whether the page's context runs JavaScript. `evaluate` works either way, but with
    scripting off the HTML parser treats <noscript> content as markup, not text."""
    on: bool = page.evaluate(
        "() => { const d = document.createElement('div');"
        " d.innerHTML = '<noscript><i></i></noscript>';"
        " return d.querySelector('noscript i') === null; }"
    )
    return on


def assert_no_outside_requests(page: Any) -> None:
    blocked = context_info(page).blocked
    assert not blocked, "The page asked for something outside Heard: " + ", ".join(blocked)


# ---- axe-core ----


@functools.cache
def _axe_source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(
            f"{AXE_JS} is missing: run `.venv/bin/python tests/setup_browser.py` first"
        )
    return AXE_JS.read_text()


_AXE_RUN = """
async (tags) => {
  const results = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map((n) => ({target: n.target, failureSummary: n.failureSummary})),
  }));
}
"""


def _axe_in(page: Any) -> list[dict[str, Any]]:
    if not page.evaluate("() => typeof (window.axe && window.axe.run) === 'function'"):
        page.evaluate(_axe_source())
    violations: list[dict[str, Any]] = page.evaluate(_AXE_RUN, AXE_TAGS)
    return violations


@dataclass
class _Mirror:
    """A JavaScript-enabled page that shows a given URL as given HTML, scripts blocked."""

    context: Any
    page: Any = None
    url: str = ""
    html: str = ""


_MIRRORS: weakref.WeakKeyDictionary[Any, _Mirror] = weakref.WeakKeyDictionary()


def _mirror_for(browser: Any) -> _Mirror:
    mirror = _MIRRORS.get(browser)
    if mirror is not None and not mirror.page.is_closed():
        return mirror
    mirror = _Mirror(context=new_context(browser, js=True))

    def serve(route: Any) -> None:
        request = route.request
        if request.resource_type == "document" and request.url.split("#", 1)[0] == mirror.url:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=mirror.html)
        elif request.resource_type == "script":
            route.abort("blockedbyclient")
        else:
            route.fallback()  # to the outside guard, or on to Heard

    mirror.context.route("**/*", serve)  # added last, so consulted first
    mirror.page = mirror.context.new_page()
    _MIRRORS[browser] = mirror
    return mirror


def _axe_in_mirror(page: Any) -> list[dict[str, Any]]:
    """axe for a page with JavaScript off: see the module docstring. One mirror page per
    browser is kept and re-used, so this costs one navigation, not a new context."""
    mirror = _mirror_for(page.context.browser)
    mirror.url = page.url.split("#", 1)[0]
    mirror.html = re.sub(r"<(/?)noscript\b", r"<\1div", page.content(), flags=re.IGNORECASE)
    mirror.page.set_viewport_size(page.viewport_size or PHONE)
    blocked = _CONTEXTS[mirror.context].blocked
    blocked.clear()
    mirror.page.goto(mirror.url, wait_until="load")
    violations = _axe_in(mirror.page)
    assert not blocked, "The page asked for something outside Heard: " + ", ".join(blocked)
    return violations


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}")
            for summary_line in (node.get("failureSummary") or "").splitlines():
                lines.append(f"      {summary_line}")
    return "\n".join(lines)


def assert_axe_clean(page: Any, label: str = "") -> None:
    """axe-core, with Heard's WCAG 2.2 AA tags and best practice, finds nothing."""
    violations = _axe_in(page) if context_info(page).js else _axe_in_mirror(page)
    assert not violations, (
        f"axe-core found {len(violations)} problem(s) on {_where(page, label)}:\n"
        + format_violations(violations)
    )


# ---- target size (WCAG 2.5.8) ----

_TARGETS = """
(min) => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary,"
    + " label[for]";
  const docTop = -window.scrollY, docLeft = -window.scrollX;

  function shown(el, rect) {
    if (rect.width === 0 || rect.height === 0) return false;
    if (el.checkVisibility && !el.checkVisibility({visibilityProperty: true})) return false;
    // Parked off the page (a skip link waiting for focus) is not a target until it moves.
    if (rect.bottom <= docTop || rect.right <= docLeft) return false;
    // Clipped away (the visually-hidden pattern): not something anyone can see or tap.
    for (let n = el; n && n !== document.documentElement; n = n.parentElement) {
      const s = getComputedStyle(n);
      const clipped = (s.clip && s.clip !== "auto") || (s.clipPath && s.clipPath !== "none");
      if (clipped) {
        const r = n.getBoundingClientRect();
        if (r.width <= 1 || r.height <= 1) return false;
      }
    }
    return true;
  }

  function blockOf(el) {
    for (let n = el.parentElement; n; n = n.parentElement) {
      if (!getComputedStyle(n).display.startsWith("inline")) return n;
    }
    return document.body;
  }

  // Inline exception: a link laid out inline inside running text (its block holds words
  // that are not part of any link), so its height is set by the sentence's line-height.
  function inSentence(el) {
    if (el.tagName !== "A" || getComputedStyle(el).display !== "inline") return false;
    const block = blockOf(el);
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT);
    let words = "";
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
      if (!t.parentElement.closest("a, button")) words += t.textContent;
    }
    return /[\\p{L}\\p{N}]{2,}/u.test(words);
  }

  function describe(el) {
    let text = (el.innerText || el.value || el.getAttribute("aria-label") || "").trim();
    text = text.replace(/\\s+/g, " ").slice(0, 40);
    const id = el.id ? "#" + el.id : "";
    const cls = el.classList.length ? "." + [...el.classList].join(".") : "";
    return `${el.tagName.toLowerCase()}${id}${cls} "${text}"`;
  }

  const small = [];
  for (const el of document.querySelectorAll(selector)) {
    if (el.tagName === "LABEL") {
      const control = document.getElementById(el.htmlFor);
      if (!control || !["checkbox", "radio"].includes(control.type)) continue;
    }
    for (const rect of [el.getBoundingClientRect()]) {
      if (!shown(el, rect)) continue;
      if (rect.width + 0.01 >= min && rect.height + 0.01 >= min) continue;
      if (inSentence(el)) continue;
      small.push(`${describe(el)} is ${rect.width.toFixed(1)}x${rect.height.toFixed(1)} px`);
    }
  }
  return small;
}
"""


def assert_targets_big_enough(page: Any, label: str = "") -> None:
    """Every visible link, button, input, select, textarea, summary and the label of a
    checkbox or radio is at least 24x24 CSS px (WCAG 2.5.8).

    Exempt, as WCAG 2.5.8 allows: an *inline* target, meaning a link whose computed
    display is `inline` and whose nearest block ancestor has other words (text not inside
    any link or button): a link in a sentence, sized by the line-height of the text around
    it. A link alone in its paragraph or list item is not exempt and must be 24 px tall.
    The spacing exception is deliberately not used: Heard aims for 44 px, so only a real
    sentence excuses a small target. Hidden things are not targets: display:none,
    visibility:hidden, zero size, clipped to 1 px (.visually-hidden) or parked above or
    left of the page (a skip link until it has focus).
    """
    small = page.evaluate(_TARGETS, MIN_TARGET)
    assert not small, (
        f"Targets smaller than {MIN_TARGET}x{MIN_TARGET} CSS px on {_where(page, label)}:\n- "
        + "\n- ".join(small)
    )


def assert_no_sideways_scroll(page: Any, label: str = "") -> None:
    scroll_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll_width <= inner_width, (
        f"{_where(page, label)} scrolls sideways: the page is {scroll_width} px wide "
        f"in a {inner_width} px window"
    )


# ---- the page inventory ----


NOT_PAGES = {"/healthz", "/readyz"}


def _api_routes(app: Any) -> list[Any]:
    """Every APIRoute of the app, flattened out of included routers."""
    from fastapi.routing import APIRoute

    try:  # FastAPI >= 0.13x keeps included routers whole; this walks into them
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [rc for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIRoute)]


def html_page_routes(app: Any) -> list[str]:
    """Path templates of every GET route that answers with an HTML page (it declares
    response_class=HTMLResponse), less /healthz and /readyz. Static files are a Mount,
    not an APIRoute, so they are never listed."""
    from starlette.responses import HTMLResponse

    found = []
    for route in _api_routes(app):
        response_class = getattr(route, "response_class", None)
        is_html = isinstance(response_class, type) and issubclass(response_class, HTMLResponse)
        if "GET" in (route.methods or set()) and is_html and route.path not in NOT_PAGES:
            found.append(str(route.path))
    return sorted(set(found))


def route_template(path: str) -> str | None:
    """The GET route (its path template) that serves `path`, if the live app has one."""
    if _server is None:
        return None
    scope = {"type": "http", "path": path, "root_path": "", "method": "GET"}
    for route in _api_routes(_server.app):
        if "GET" in (route.methods or set()):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return str(route.path)
    return None


def record_visit(page: Any) -> str | None:
    """Add the page's route to VISITED. Any Heard on 127.0.0.1 counts (a test may run its
    own server with other settings): every server is built by the same create_app. A
    "Page not found" at a route's address does not count as that route's page."""
    parts = urlsplit(page.url)
    if parts.hostname != LOCAL_HOST:
        return None
    status = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return n ? n.responseStatus : 0; }"
    )
    if status in (404, 405):
        return None
    template = route_template(parts.path)
    if template is not None:
        VISITED.add(template)
    return template


# ---- what a test calls ----


def check_page(page: Any, *, label: str = "") -> None:
    """The checks every page passes: axe-core, target sizes, no sideways scroll, nothing
    fetched from outside Heard. Records the page's route once all of them pass."""
    page.wait_for_load_state("load")
    assert_no_outside_requests(page)
    assert_axe_clean(page, label)
    assert_targets_big_enough(page, label)
    assert_no_sideways_scroll(page, label)
    record_visit(page)


_HTMX_IDLE = """
() => {
  const s = window.__heardHtmx;
  if (s && s.started !== s.finished) return false;
  return !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added");
}
"""


def js_on(page: Any) -> bool:
    """Whether this page runs JavaScript (the HTMX counter is only added where it does)."""
    return bool(page.evaluate("() => !!window.__heardHtmx"))


def press(page: Any, name: str) -> None:
    """Press a button that loads a new page, and check the page it loads."""
    with page.expect_navigation():
        page.get_by_role("button", name=name).click()
    check_page(page, label=f"after {name}")


def htmx_settled_count(page: Any) -> int:
    """How many HTMX swaps have settled on this page so far (pass it to wait_for_htmx)."""
    count: int = page.evaluate("() => window.__heardHtmx ? window.__heardHtmx.settled : 0")
    return count


def wait_for_htmx(page: Any, *, settled_more_than: int | None = None, timeout: float = 20) -> None:
    """Wait until no HTMX request is in flight and every swap has settled. With
    `settled_more_than`, also wait until at least one more swap than that has settled.
    Survives an HX-Redirect (a navigation part-way)."""
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout
    while True:
        try:
            page.wait_for_load_state("load")
            idle = page.evaluate(_HTMX_IDLE)
            if idle and settled_more_than is not None:
                idle = htmx_settled_count(page) > settled_more_than
            if idle:
                page.wait_for_timeout(30)  # one more look, after any settle timers
                if page.evaluate(_HTMX_IDLE):
                    return
        except Error as exc:  # the page navigated while we looked
            if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                raise
        assert time.monotonic() < deadline, f"HTMX did not settle on {page.url}"
        page.wait_for_timeout(50)


def check_after_swap(
    page: Any,
    selector: str | None = None,
    *,
    label: str = "",
    settled_more_than: int | None = None,
) -> None:
    """After an HTMX swap: wait for it to settle (and for `selector` to be visible), then
    check the page as it is now."""
    wait_for_htmx(page, settled_more_than=settled_more_than)
    if selector is not None:
        page.locator(selector).first.wait_for(state="visible")
    check_page(page, label=label or "after an HTMX swap")


_FOCUS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {none: true};
  const s = getComputedStyle(el);
  const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
  const shadow = s.boxShadow && s.boxShadow !== "none";
  const r = el.getBoundingClientRect();
  const x = Math.min(Math.max(r.left + r.width / 2, 0), window.innerWidth - 1);
  const y = Math.min(Math.max(r.top + r.height / 2, 0), window.innerHeight - 1);
  const hit = document.elementFromPoint(x, y);
  const onTop = !!hit && (hit === el || el.contains(hit) || hit.contains(el));
  const inView = r.bottom > 0 && r.top < window.innerHeight
    && r.right > 0 && r.left < window.innerWidth;
  return {
    none: false, outline, shadow, onTop, inView,
    what: el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " "
      + (el.innerText || "").trim().slice(0, 40),
  };
}
"""


def assert_focus_visible(page: Any) -> str:
    """Press Tab once; the focused element has a visible outline or box-shadow, is in
    the window and is not hidden behind anything (WCAG 2.4.7, 2.4.11). Returns what has focus."""
    page.keyboard.press("Tab")
    state = page.evaluate(_FOCUS)
    assert not state["none"], f"Tab moved focus nowhere on {page.url}"
    what = state["what"]
    assert state["outline"] or state["shadow"], f"No visible focus indicator on {what}"
    assert state["inView"], f"{what} has focus but is outside the window"
    assert state["onTop"], f"{what} has focus but something covers it"
    return str(what)


def _where(page: Any, label: str) -> str:
    return f"{page.url}" + (f" ({label})" if label else "")


# ---- the live server ----


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: Any

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        """A write session on the live database, committed on the way out."""
        session = self.app.state.open_session(True)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def staff_sign_in_url(self, email: str, *roles: Any) -> str:
        """Create (or update) staff with these roles; return a one-time sign-in URL."""
        from app.db import utcnow
        from app.models import Role
        from app.services import staff

        with self.db() as session:
            member = staff.create_or_update(session, email, [Role(r) for r in roles])
            return str(staff.issue_sign_in_link(session, self.settings, member, utcnow()))

    def outbox(self) -> list[Any]:
        """Every email queued so far, newest first."""
        from sqlmodel import col, select

        from app.models import OutboxEmail

        with self.db() as session:
            return list(session.exec(select(OutboxEmail).order_by(col(OutboxEmail.id).desc())))

    def path(self, path: str) -> str:
        return self.url + path


def participant_link(server: LiveServer, person_id: int) -> str:
    """A one-time sign-in link for a participant, as the emailed one would be."""
    from datetime import UTC, datetime, timedelta

    from app.services import identity, participants

    with server.db() as session:
        person = participants.find_by_id(session, person_id)
        token = identity.issue_link_token(
            session,
            datetime.now(UTC),
            timedelta(minutes=15),
            participants.PARTICIPANT_LINK,
            participant=person,
        )
    return participants.sign_in_url(server.settings, token)
