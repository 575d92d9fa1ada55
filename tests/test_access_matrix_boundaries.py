"""The access matrix's checks of boundaries (tests/test_access_matrix.py): Django's admin is
the platform superuser's alone; each role goes home to its own page; another organisation's
objects and people are not found, whatever the id, and a teacher sees only the groups she
teaches."""

from __future__ import annotations

import pytest
from django.contrib import admin

from tests import access_matrix_support as support
from tests.access_matrix_support import (
    ADMIN_LOGIN,
    HOME_OF,
    OK,
    PERSONAS,
    actual_text,
    client_for,
    expected_text,
)

world = support.world


# Django's admin: the platform superuser's alone -----------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_pages_are_the_superusers_alone(world, persona):
    client = client_for(world, persona)
    urls = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    ]
    wrong = []
    for url in urls:
        expected = OK if persona == "superuser" else ADMIN_LOGIN
        response = client.get(url)
        if actual_text(response) != expected_text(expected, url, world):
            wrong.append(
                f"GET {url}: expected {expected_text(expected, url, world)}, "
                f"got {actual_text(response)}"
            )
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)


# Kept checks ----------------------------------------------------------------------------------


def test_home_sends_each_role_to_its_own_page(world):
    for persona, (_, target) in HOME_OF.items():
        response = client_for(world, persona).get("/")
        assert (response.status_code, response["Location"]) == (302, target), persona


def test_other_organisation_objects_are_404_whatever_the_id(world, outsider):
    """Neither existing nor missing ids tell the outsider anything: both are 404."""
    client = client_for(world, "outsider")
    missing_pk = 10**9
    for url in [
        f"/people/{world.director.pk}/",
        f"/people/{world.student.pk}/",
        f"/people/{missing_pk}/",
        f"/groups/{world.group.pk}/",
        f"/groups/{missing_pk}/",
        f"/regulation/versions/{world.regulation.pk}/",
        f"/regulation/versions/{missing_pk}/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.get(f"/people/{outsider.pk}/").status_code == 200


def test_lists_never_show_another_organisations_people(world):
    text = client_for(world, "outsider").get("/people/").content.decode()
    assert world.outsider.last_name in text
    for person in (world.director, world.teacher, world.student, world.parent):
        assert person.last_name not in text


def test_a_teacher_sees_only_groups_they_teach(world, organisation):
    from tests.factories import StudyGroupFactory

    other_group = StudyGroupFactory(organisation=organisation, name="Чужой кружок")
    client = client_for(world, "teacher")
    assert client.get(f"/groups/{other_group.pk}/").status_code == 404
    home = client.get("/teacher/").content.decode()
    assert world.group.name in home
    assert other_group.name not in home
