// Progress of background jobs: every element with data-job-url polls that JSON endpoint and
// shows how far the job is. When the job ends, the page finishes what the person started:
// a result (the PDF, the import's result page) is opened at once; a job without one (or one
// that failed) reloads the page, which then shows the new state and the reason. A box drawn
// for a job that had already ended (data-job-finished) is not polled, so nothing loops.
// Without JavaScript the page says to reload it.
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

  function finish(box, job) {
    var link = box.querySelector("[data-job-result]");
    if (job.status === "done" && job.result_url) {
      if (link) {
        link.href = job.result_url;
        link.classList.remove("d-none");
      }
      var target = new URL(job.result_url, window.location.href);
      if (target.pathname === window.location.pathname && target.search === window.location.search) {
        window.location.reload();
      } else {
        window.location.assign(target.href);
      }
    } else {
      window.location.reload();
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
        if (job.finished) {
          finish(box, job);
        } else {
          window.setTimeout(function () { poll(box); }, 1000);
        }
      })
      .catch(function () {
        window.setTimeout(function () { poll(box); }, 5000);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var boxes = document.querySelectorAll("[data-job-url]:not([data-job-finished])");
    for (var i = 0; i < boxes.length; i++) { poll(boxes[i]); }
  });
})();
