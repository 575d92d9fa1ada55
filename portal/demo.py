"""The demo (`manage.py loaddemo`): the seed's people, its approved regulation, then the demo
department with two more demo institutions.

Each step is keyed on stable values (the organisation's slug, usernames, the document's code),
so loading twice leaves exactly what loading once did.
"""

from __future__ import annotations

from django.db import transaction

from accounts.demo import load_demo_people
from accounts.models import Organisation
from acknowledgements.demo import load_regulation, seed_text
from departments.demo import load_demo_department


@transaction.atomic
def load_demo() -> Organisation:
    seed = seed_text()
    people = load_demo_people(seed)
    load_regulation(people.organisation, people.director)
    load_demo_department(people.organisation)
    return people.organisation
