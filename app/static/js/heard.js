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
    enhance(event.detail.target || document);
    var title = event.detail.target && event.detail.target.querySelector("[data-title]");
    if (title) document.title = title.getAttribute("data-title");
  });
  document.addEventListener("htmx:responseError", function () {
    announce("Something went wrong. Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    announce("We could not reach Heard. Check your signal and try again.");
  });
})();
