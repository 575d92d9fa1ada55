// Progress of background jobs: every element with data-job-url polls that JSON endpoint and
// shows how far the job is; when it is done, the result link appears (or the page reloads to
// show the new state). Without JavaScript the page says to reload it; nothing depends on this.
(function () {
  "use strict";

  function update(box, job) {
    var meter = box.querySelector("[role=progressbar]");
    var bar = box.querySelector(".progress-bar");
    var label = box.querySelector("[data-job-label]");
    var percent = job.total ? job.percent : (job.finished ? 100 : 0);
    if (bar) {
      bar.style.width = percent + "%";
      bar.textContent = job.total ? job.done + " из " + job.total : "";
    }
    if (meter) {
      meter.setAttribute("aria-valuenow", String(percent));
    }
    if (label) {
      label.textContent = job.status_label + (job.message ? ": " + job.message : "");
    }
  }

  function poll(box) {
    var url = box.getAttribute("data-job-url");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (job) {
        update(box, job);
        if (!job.finished) {
          window.setTimeout(function () { poll(box); }, 1000);
        } else if (job.status === "done" && job.result_url) {
          var link = box.querySelector("[data-job-result]");
          if (link) {
            link.href = job.result_url;
            link.classList.remove("d-none");
          }
        } else if (box.hasAttribute("data-job-reload")) {
          window.location.reload();
        }
      })
      .catch(function () {
        window.setTimeout(function () { poll(box); }, 5000);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-job-url]");
    for (var i = 0; i < boxes.length; i++) { poll(boxes[i]); }
  });
})();
