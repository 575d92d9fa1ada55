// The invitations page: «Выбрать всех без пароля» and «Снять все» tick and untick the boxes in
// place, and the count of ticked people (and of those among them with an e-mail) follows every
// change. Without JavaScript both are links the server answers with the boxes ticked
// (?select=without_password) or not, and the count is the server's.
(function () {
  "use strict";

  function setUp(form) {
    var boxes = Array.prototype.slice.call(
      form.querySelectorAll("input[type=checkbox][name=people]")
    );
    var count = form.querySelector("[data-selected-count]");
    var withEmail = form.querySelector("[data-selected-email]");

    function update() {
      var ticked = 0;
      var emails = 0;
      boxes.forEach(function (box) {
        if (box.checked) {
          ticked += 1;
          if (box.hasAttribute("data-has-email")) {
            emails += 1;
          }
        }
      });
      if (count) {
        count.textContent = String(ticked);
      }
      if (withEmail) {
        withEmail.textContent = String(emails);
      }
    }

    function tickAll(value) {
      return function (event) {
        event.preventDefault();
        boxes.forEach(function (box) {
          box.checked = value;
        });
        update();
      };
    }

    var all = form.querySelector("[data-select-all]");
    var none = form.querySelector("[data-select-none]");
    if (all) {
      all.addEventListener("click", tickAll(true));
    }
    if (none) {
      none.addEventListener("click", tickAll(false));
    }
    form.addEventListener("change", update);
    // The browser may restore ticks after «Back»: count what is there.
    window.addEventListener("pageshow", update);
    update();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-invitations]"), setUp);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
