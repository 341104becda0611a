/* Check-in on the staff workshop page: after an HTMX swap of the attendee list, put focus
   back on the same person's button, so a keyboard or screen reader user keeps their place.
   The page works without this (and without JavaScript at all). */
(function () {
  "use strict";
  var lastId = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var item = event.target && event.target.closest ? event.target.closest("li.attendee") : null;
    lastId = item ? item.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    if (!lastId) { return; }
    var item = document.getElementById(lastId);
    var button = item ? item.querySelector("button") : null;
    if (button) { button.focus(); }
    lastId = null;
  });
})();
