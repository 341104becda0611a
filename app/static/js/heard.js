/* Heard's own script. Everything works without it; it only makes things quicker and kinder. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* Announce a message to screen readers through the page's live region. */
  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) return;
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 50);
  }
  window.heardAnnounce = announce;

  /* Exit this page: leave at once, and leave nothing to come "Back" to. */
  function exitPage(event) {
    var link = document.querySelector(".exit-this-page");
    if (!link) return;
    if (event) event.preventDefault();
    document.body.classList.add("exiting");
    window.location.replace(link.getAttribute("href"));
  }
  var shiftPresses = 0;
  var shiftTimer = null;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Shift" || event.repeat) return;
    shiftPresses += 1;
    window.clearTimeout(shiftTimer);
    shiftTimer = window.setTimeout(function () { shiftPresses = 0; }, 1000);
    if (shiftPresses >= 3) { shiftPresses = 0; exitPage(null); }
  });

  /* Character counts: tell people how many are left, let them type past the limit. */
  function setUpCount(textarea) {
    if (textarea.dataset.countReady) return;
    textarea.dataset.countReady = "1";
    var max = parseInt(textarea.getAttribute("data-maxlength"), 10);
    var message = document.getElementById(textarea.id + "-count");
    var live = document.getElementById(textarea.id + "-count-live");
    if (!max || !message) return;
    var timer = null;
    function words() {
      var left = max - textarea.value.length;
      if (left >= 0) return "You have " + left + (left === 1 ? " character" : " characters") + " left";
      var over = -left;
      return "You have " + over + (over === 1 ? " character" : " characters") + " too many";
    }
    function update() {
      var text = words();
      message.textContent = text;
      message.classList.toggle("char-count--over", textarea.value.length > max);
      textarea.classList.toggle("textarea--error", textarea.value.length > max);
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { if (live) live.textContent = text; }, 600);
    }
    textarea.addEventListener("input", update);
    update();
  }

  function enhance(root) {
    root.querySelectorAll("textarea[data-maxlength]").forEach(setUpCount);
    root.querySelectorAll(".exit-this-page").forEach(function (link) {
      if (link.dataset.exitReady) return;
      link.dataset.exitReady = "1";
      link.addEventListener("click", exitPage);
    });
    var summary = root.querySelector(".error-summary");
    if (summary) {
      summary.focus();
    }
    root.querySelectorAll("[data-announce]").forEach(function (el) {
      announce(el.getAttribute("data-announce"));
    });
  }

  /* Error summary links move focus to the field itself, not just scroll. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    if (!link) return;
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    event.preventDefault();
    var legend = field.closest("fieldset");
    (legend || field).scrollIntoView();
    field.focus();
  });

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });

  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    // After an outerHTML swap the target may be the element that was swapped out.
    var target = event.detail.target;
    var root = target && target.isConnected ? target : document;
    enhance(root);
    var title = root.matches && root.matches("[data-title]") ? root : root.querySelector("[data-title]");
    if (title) document.title = title.getAttribute("data-title");
  });
  /* A live part asking for news by itself (every few seconds) fails quietly: it tries again. */
  function byItself(event) {
    var elt = event.detail && event.detail.elt;
    return !!(elt && elt.hasAttribute && elt.hasAttribute("data-live-poll"));
  }
  document.addEventListener("htmx:responseError", function (event) {
    if (!byItself(event)) announce("Something went wrong. Please try again.");
  });
  /* A refusal (too many tries, too big, too busy) of something a person sent with HTMX:
     show the refusal page's own words on the page, as a plain form post does, not only to
     a screen reader. Only whole pages of Heard's own (they have #main-content). */
  var refusalShown = false;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    var main = document.getElementById("main-content");
    if (!detail.xhr || detail.xhr.status < 400 || byItself(event) || !main) return;
    if ((detail.xhr.responseText || "").indexOf('id="main-content"') === -1) return;
    detail.shouldSwap = true;
    detail.isError = false;
    detail.target = main;
    detail.selectOverride = "#main-content";
    detail.swapOverride = "outerHTML";
    refusalShown = true;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!refusalShown) return;
    refusalShown = false;
    var main = document.getElementById("main-content");
    var heading = main && main.querySelector("h1");
    if (main) main.focus();
    if (heading) announce(heading.textContent);
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (!byItself(event)) announce("We could not reach Heard. Check your signal and try again.");
  });
})();

/* Staff sessions time out when idle (WCAG 2.2.1): warn 2 minutes before, and let people stay. */
(function () {
  "use strict";

  var note = null;
  var dialog = null;
  var warnTimer = null;
  var endTimer = null;
  var tickTimer = null;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  /* Counted from when the page arrived, in this browser's own clock (clocks disagree). */
  var deadline = 0;
  function expiresAt() {
    return deadline;
  }
  function setDeadline(seconds) {
    deadline = Date.now() + Math.max(0, seconds) * 1000;
  }

  function countdown() {
    var left = Math.max(0, Math.round((expiresAt() - Date.now()) / 1000));
    var minutes = Math.floor(left / 60);
    var seconds = left % 60;
    var text = minutes > 0
      ? minutes + (minutes === 1 ? " minute" : " minutes") + (seconds ? " " + seconds + " seconds" : "")
      : seconds + (seconds === 1 ? " second" : " seconds");
    var place = dialog.querySelector("[data-session-countdown]");
    if (place) place.textContent = text;
  }

  function warn() {
    if (!dialog || dialog.open) return;
    countdown();
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
    var stay = dialog.querySelector("[data-session-extend]");
    if (stay) stay.focus();
    tickTimer = window.setInterval(countdown, 15000);
  }

  function signedOut() {
    /* Signing in again comes back to this page (the server checks `next` is one of ours). */
    var here = window.location.pathname + window.location.search;
    window.location.assign("/staff/sign-in?next=" + encodeURIComponent(here));
  }

  function schedule() {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    window.clearInterval(tickTimer);
    var warnBefore = parseInt(note.getAttribute("data-session-warn-seconds"), 10) * 1000;
    var left = expiresAt() - Date.now();
    warnTimer = window.setTimeout(warn, Math.max(0, left - warnBefore));
    endTimer = window.setTimeout(signedOut, Math.max(0, left + 1000));
  }

  function extend() {
    fetch("/staff/session/extend", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { signedOut(); return null; }
      return response.json();
    }).then(function (data) {
      if (!data) return;
      note.setAttribute("data-session-expires", data.expires_at);
      setDeadline(data.seconds_left);
      if (dialog.open && typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
      if (window.heardAnnounce) window.heardAnnounce("You are still signed in.");
      schedule();
    }).catch(function () { /* try again from the dialog */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    note = document.querySelector("[data-session-expires]");
    dialog = document.getElementById("session-timeout");
    if (!note || !dialog) return;
    setDeadline(parseInt(note.getAttribute("data-session-seconds"), 10) || 0);
    var stay = dialog.querySelector("[data-session-extend]");
    if (stay) stay.addEventListener("click", extend);
    dialog.addEventListener("cancel", function (event) { event.preventDefault(); extend(); });
    schedule();
  });
})();

/* Live updates. A part of a page that follows the server (hx-ext="sse" sse-connect=…) gets new
   fragments as they happen. When no stream gets through (a proxy that buffers, a stream that
   keeps closing, live updates switched off on the server), it asks for the same fragment
   every few seconds instead. News in a changed part (data-live-announce) is announced
   politely, once; the rest of the part is not read out again. */
(function () {
  "use strict";

  var HELLO_WAIT = 15000; /* a stream that has not said "live" by now is not getting through */
  var MAX_ERRORS = 3; /* errors within a minute before giving up on the stream */
  var news = {}; /* element id -> the news it showed last */
  var streamSwap = false;

  function say(text) {
    if (window.heardAnnounce) window.heardAnnounce(text);
  }

  function wrapperFor(url) {
    var all = document.querySelectorAll("[sse-connect]");
    for (var i = 0; i < all.length; i += 1) {
      if (all[i].getAttribute("sse-connect") === url) return all[i];
    }
    return null;
  }

  function stop(wrapper, source) {
    var state = wrapper.heardLive || {};
    window.clearTimeout(state.helloTimer);
    wrapper.removeAttribute("sse-connect"); /* the extension reconnects only while it is there */
    if (source) source.close();
  }

  function poll(wrapper, source) {
    if (wrapper.getAttribute("data-live-state") === "polling") return;
    stop(wrapper, source);
    wrapper.setAttribute("data-live-state", "polling");
    wrapper.setAttribute("hx-get", wrapper.getAttribute("data-live-poll"));
    wrapper.setAttribute("hx-trigger", "every " + (wrapper.getAttribute("data-live-every") || "10") + "s");
    wrapper.setAttribute("hx-target", wrapper.getAttribute("data-live-target"));
    wrapper.setAttribute("hx-swap", "outerHTML");
    window.htmx.process(wrapper);
  }

  function watch(url, source) {
    var wrapper = wrapperFor(url);
    if (!wrapper) return;
    var state = wrapper.heardLive || (wrapper.heardLive = { errors: [] });
    window.clearTimeout(state.helloTimer);
    state.helloTimer = window.setTimeout(function () { poll(wrapper, source); }, HELLO_WAIT);
    source.addEventListener("live", function () {
      window.clearTimeout(state.helloTimer);
      wrapper.setAttribute("data-live-state", "streaming");
    });
    source.addEventListener("fallback", function () { poll(wrapper, source); });
    source.addEventListener("ended", function () {
      stop(wrapper, source);
      wrapper.setAttribute("data-live-state", "ended");
      say("This page has stopped updating. Reload it to see the latest.");
    });
    source.addEventListener("error", function () {
      var now = Date.now();
      state.errors = state.errors.filter(function (at) { return now - at < 60000; });
      state.errors.push(now);
      if (state.errors.length >= MAX_ERRORS) poll(wrapper, source);
    });
  }

  /* The extension makes every EventSource through htmx.createEventSource: watch each one. */
  if (window.htmx && typeof window.htmx.createEventSource === "function") {
    var make = window.htmx.createEventSource;
    window.htmx.createEventSource = function (url) {
      var source = make(url);
      watch(url, source);
      return source;
    };
  }

  function notice(speak) {
    document.querySelectorAll("[data-live-announce][id]").forEach(function (el) {
      var text = el.getAttribute("data-live-announce");
      if (speak && text && news[el.id] !== undefined && news[el.id] !== text) say(text);
      news[el.id] = text;
    });
  }

  document.addEventListener("DOMContentLoaded", function () { notice(false); });
  /* A copy without the classes htmx adds while swapping (and the empty class it can leave). */
  function plain(node) {
    var copy = node.cloneNode(true);
    var all = [copy].concat(Array.prototype.slice.call(copy.querySelectorAll("[class]")));
    all.forEach(function (el) {
      if (!el.hasAttribute || !el.hasAttribute("class")) return;
      var kept = el.className.split(/\s+/).filter(function (c) { return c && c.indexOf("htmx-") !== 0; });
      if (kept.length) el.setAttribute("class", kept.join(" ")); else el.removeAttribute("class");
    });
    return copy;
  }

  /* A live fragment that is the same as what is on the page already (the person's own action
     brought it a moment earlier) is not swapped in: swapping would only move focus, repeat
     the news and could swallow a tap on a button that is being replaced. */
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var data = event.detail && event.detail.data;
    var current = event.target;
    if (typeof data === "string" && current && current.id && current.isEqualNode) {
      var incoming = document.createElement("template");
      incoming.innerHTML = data.trim();
      var first = incoming.content.firstElementChild;
      if (first && first.id === current.id && incoming.content.childElementCount === 1 &&
          plain(first).isEqualNode(plain(current))) {
        event.preventDefault();
        return;
      }
    }
    streamSwap = true;
  });
  document.addEventListener("htmx:sseMessage", function () { streamSwap = false; });
  document.addEventListener("htmx:afterSwap", function (event) {
    var config = event.detail && event.detail.requestConfig;
    var polled = !!(config && config.elt && config.elt.hasAttribute &&
      config.elt.hasAttribute("data-live-poll"));
    /* Only news that came by itself is announced: after a person's own action (a check-in,
       say), that action's response says what happened. */
    notice(streamSwap || polled);
  });
})();
