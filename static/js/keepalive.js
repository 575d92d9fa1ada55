// Keeps a reader of the regulation signed in: the portal signs people out after a while
// without requests, and reading a long text makes none. While the tab is visible and the
// reader has scrolled, typed or moved the pointer since the last ping, the page pings the
// keep-alive address (login_only; the request itself is the activity). An away reader is
// not kept in, and the absolute session lifetime still applies on the server.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) {
    return;
  }
  var url = script.getAttribute("data-url");
  var every = parseInt(script.getAttribute("data-interval-seconds") || "120", 10) * 1000;
  var active = false;
  var timer = null;

  function markActive() {
    active = true;
  }

  function ping() {
    if (document.visibilityState !== "visible" || !active) {
      return;
    }
    active = false;
    fetch(url, { credentials: "same-origin", redirect: "manual", cache: "no-store" })
      .then(function (response) {
        // Signed out already (a redirect to the login page): stop pinging.
        if (response.type === "opaqueredirect" || response.status !== 204) {
          window.clearInterval(timer);
        }
      })
      .catch(function () {
        // The network is down for a moment: try again at the next tick.
      });
  }

  ["scroll", "keydown", "pointermove", "pointerdown", "touchstart"].forEach(function (name) {
    window.addEventListener(name, markActive, { passive: true });
  });
  timer = window.setInterval(ping, every);
})();
