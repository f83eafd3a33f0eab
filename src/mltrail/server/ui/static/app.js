"use strict";
// Enhancements only: every page works without this file.
(function () {
  var filter = document.getElementById("filter");
  if (!filter) {
    return;
  }
  // "/" focuses the filter box (unless typing elsewhere); Enter submits it, Shift+Enter breaks
  // the line.
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      filter.focus();
      filter.setSelectionRange(filter.value.length, filter.value.length);
    }
  });
  filter.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (filter.form) {
        filter.form.requestSubmit();
      }
    }
  });
})();
