// A table wider than its column scrolls sideways in its own region (Bootstrap's
// .table-responsive). A phone shows no scrollbar until the table is touched, so a line above
// such a table says that it scrolls; the line is there only while the table is wider than its
// region, and follows the window's size.
(function () {
  "use strict";

  var TEXT = "Таблицу можно прокрутить вбок: в ней все столбцы.";

  function mark(region) {
    var hint = region.previousElementSibling;
    var hinted = hint !== null && hint.hasAttribute("data-scroll-hint");
    var wide = region.scrollWidth > region.clientWidth + 1;
    if (wide && !hinted) {
      hint = document.createElement("p");
      hint.className = "text-muted small mb-1";
      hint.setAttribute("data-scroll-hint", "");
      hint.textContent = TEXT;
      region.parentNode.insertBefore(hint, region);
    } else if (!wide && hinted) {
      hint.remove();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var regions = document.querySelectorAll(".table-responsive");
    if (!regions.length) {
      return;
    }
    var observer = new ResizeObserver(function (entries) {
      entries.forEach(function (entry) {
        mark(entry.target);
      });
    });
    regions.forEach(function (region) {
      observer.observe(region);
    });
  });
})();
