// The review UI's only script, served from /assets/app.js (CSP: no inline script, no eval).
// Keyboard flow: j/k move through the inbox, Enter opens (the focused link), a approves and
// r focuses the rejection reason on a proposal page, Esc goes back to the inbox.
"use strict";

(function () {
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("table.inbox a.open"));
    if (links.length === 0) return;
    var at = links.indexOf(document.activeElement);
    var next = at < 0 ? 0 : Math.min(links.length - 1, Math.max(0, at + step));
    links.forEach(function (l) { l.closest("tr").classList.remove("current"); });
    links[next].focus();
    links[next].closest("tr").classList.add("current");
  }

  // Live inbox: when the ledger changes, fetch this page again and swap its main content in.
  // The HTML is this server's own escaped rendering, parsed without running anything.
  if (document.body.dataset.page === "inbox" && window.EventSource) {
    var source = new EventSource("/events");
    source.addEventListener("changed", function () {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
          var main = document.querySelector("main");
          if (fresh && main) {
            main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
            document.body.dataset.updated = String(Date.now());
          }
        })
        .catch(function () {});
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (typing(event.target)) { event.target.blur(); return; }
      if (document.body.dataset.page !== "inbox") window.location.assign("/");
      return;
    }
    if (typing(event.target)) return;
    var page = document.body.dataset.page;
    if (page === "inbox" && (event.key === "j" || event.key === "k")) {
      event.preventDefault();
      move(event.key === "j" ? 1 : -1);
    } else if (page === "proposal" && event.key === "a") {
      var approve = document.getElementById("approve");
      if (approve) { event.preventDefault(); approve.click(); }
    } else if (page === "proposal" && event.key === "r") {
      var reason = document.getElementById("reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    }
  });
})();
