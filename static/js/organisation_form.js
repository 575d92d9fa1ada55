// The organisation's settings page: the day MAX alone begins is asked for only while the
// messenger is «переход» (accounts.forms.OrganisationForm.transition_date_shown draws the
// first state); choosing another messenger shows or hides it in place.
(function () {
  "use strict";

  var TRANSITION = "transition";

  function setUp(form) {
    var choice = form.querySelector("select[name=messenger]");
    var date = form.querySelector("[data-transition-date]");
    if (!choice || !date) {
      return;
    }
    function update() {
      date.hidden = choice.value !== TRANSITION;
    }
    choice.addEventListener("change", update);
    update();
  }

  document.querySelectorAll("form[data-organisation-form]").forEach(setUp);
})();
