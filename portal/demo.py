"""The demo (`manage.py loaddemo`): the seed's people, its approved regulation, two example acts
and the agreement on the простая электронная подпись, then the demo department with two more
demo institutions.

Each step is keyed on stable values (the organisation's slug, usernames, the document's code),
so loading twice leaves exactly what loading once did.

Every demo organisation starts in the MAX state (Sferum's учебный профиль lives in MAX from
25.08.2025) and carries an invented but complete address, phone and e-mail marked «учебный
пример», so the registration letter and the privacy policy work from the first minute.
"""

from __future__ import annotations

from django.db import transaction

from accounts.demo import load_demo_people
from accounts.models import Messenger, Organisation
from acknowledgements.demo import load_example_acts, load_regulation, seed_text
from departments.demo import EXAMPLE_MARK, load_demo_department

# The seed institution's contacts: the seed gives none, so they are invented and marked.
SEED_CONTACTS = {
    "address": f"000000, г. Демоград, ул. Учебная, д. 1 {EXAMPLE_MARK}",
    "phone": "+74950000000",
    "email": "cdt@cdt.example",
}


def _complete_seed_institution(organisation: Organisation) -> None:
    """The seed institution in the MAX state, with its invented contacts."""
    values = {"messenger": Messenger.MAX, "max_only_from": None, **SEED_CONTACTS}
    Organisation.objects.filter(pk=organisation.pk).update(**values)
    organisation.refresh_from_db()


@transaction.atomic
def load_demo() -> Organisation:
    seed = seed_text()
    people = load_demo_people(seed)
    _complete_seed_institution(people.organisation)
    load_regulation(people.organisation, people.director)
    load_example_acts(people.organisation, people.director)
    load_demo_department(people.organisation)
    return people.organisation
