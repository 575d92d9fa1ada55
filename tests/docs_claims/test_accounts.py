"""README «Decisions», «E-mail»: optional, and unique case-insensitively when present — a rule
of the database itself, not only of the forms."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_database_refuses_an_email_taken_in_another_case(organisation):
    UserFactory(organisation=organisation, email="Shared@Example.ru")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(organisation=organisation, email="shared@example.RU")


def test_the_database_lets_any_number_of_people_have_no_email(organisation, other_organisation):
    for place in (organisation, organisation, other_organisation):
        UserFactory(organisation=place, email="")
