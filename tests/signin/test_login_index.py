"""Sign-in finds a person by username or e-mail through the indexes of the unique constraints
(LOWER(username), LOWER(email) where present), not by scanning everyone: `iexact` compares
UPPER(...), which no index serves, so every sign-in read all 65,000 people."""

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection

from accounts.models import User
from tests.factories import OrganisationFactory, UserFactory

PEOPLE = 3000


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("Ivanova.AA", "ivanova.aa"),
        ("ivanova.aa", "IVANOVA.AA"),
        ("Иванова", "Иванова"),  # SQLite folds ASCII only: the same spelling must still match
    ],
)
def test_a_username_is_found_case_aside(stored, typed):
    person = UserFactory(username=stored, email="")
    assert list(User.objects.by_login(typed)) == [person]
    assert list(User.objects.by_username(typed)) == [person]


@pytest.mark.django_db
def test_an_email_is_found_case_aside_and_an_empty_one_matches_nobody():
    person = UserFactory(username="petrova", email="Petrova@Example.ru")
    UserFactory(username="noemail", email="")
    assert list(User.objects.by_login("petrova@example.RU")) == [person]
    assert list(User.objects.by_email("PETROVA@example.ru")) == [person]
    assert list(User.objects.by_email("")) == []
    assert list(User.objects.by_login("")) == []


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN of PostgreSQL's planner")
def test_signing_in_reads_the_indexes_not_every_person():
    organisation = OrganisationFactory()
    password = make_password(None)
    User.objects.bulk_create(
        User(
            username=f"person{n:05d}",
            email=f"person{n:05d}@example.ru" if n % 3 else "",
            organisation=organisation,
            password=password,
        )
        for n in range(PEOPLE)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {User._meta.db_table}")
    plan = User.objects.by_login("Person01234@example.ru").explain()
    assert "Seq Scan" not in plan, plan
    assert "user_username_unique_ci" in plan, plan
    assert "user_email_unique_when_present" in plan, plan
    assert "Seq Scan" not in User.objects.by_username("PERSON01234").explain()
    assert "Seq Scan" not in User.objects.by_email("PERSON00001@example.ru").explain()
