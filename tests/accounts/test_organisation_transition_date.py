"""The organisation's settings page shows the day MAX alone begins only while the messenger is
in transition (issue 21): in the MAX (or VK) state an old transition's date is hidden, kept
unchanged, and a script shows the field again when the transition is chosen."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.forms import OrganisationForm
from accounts.models import Messenger

OLD_SWITCH = dt.date(2025, 12, 1)


def date_block(page: str) -> str:
    """The opening tag of the block around the date field, which holds the field."""
    match = re.search(r"<div data-transition-date[^>]*>(.*?)</div>\s*</div>", page, re.S)
    assert match, "no block around the transition date"
    assert 'name="max_only_from"' in match.group(1)
    return match.group(0).split(">", 1)[0]


@pytest.mark.parametrize(
    ("state", "shown"),
    [(Messenger.MAX, False), (Messenger.VK, False), (Messenger.TRANSITION, True)],
)
def test_the_transition_date_shows_only_in_the_transition(
    client, admin, organisation, state, shown
):
    organisation.messenger = state
    organisation.max_only_from = OLD_SWITCH
    organisation.save(update_fields=["messenger", "max_only_from"])
    client.force_login(admin)
    page = client.get(reverse("organisation_settings")).content.decode()
    assert ("hidden" not in date_block(page)) is shown
    assert "js/organisation_form.js" in page
    assert "style=" not in page


def test_the_form_follows_the_chosen_messenger_and_keeps_the_hidden_date(organisation):
    organisation.messenger = Messenger.MAX
    organisation.max_only_from = OLD_SWITCH
    organisation.save(update_fields=["messenger", "max_only_from"])
    form = OrganisationForm(instance=organisation)
    assert not form.transition_date_shown
    # Hidden, the field still posts the stored date back: saving in MAX changes nothing.
    assert form["max_only_from"].value() == OLD_SWITCH
    # Posted with the transition chosen (say, refused for another field), the page shows it.
    assert OrganisationForm(
        {"messenger": Messenger.TRANSITION}, instance=organisation
    ).transition_date_shown


def test_the_script_follows_the_messengers_choice():
    script = (Path(settings.BASE_DIR) / "static" / "js" / "organisation_form.js").read_text()
    assert "select[name=messenger]" in script and "[data-transition-date]" in script
    assert '"transition"' in script
