"""Issue 21: a new organisation starts in the MAX state (the migration changes the default
only, never an existing organisation), and the public pages link the privacy policy of the
organisation they show: the joining page, the list of institutions at `/`, and (one
institution served) `/` and the sign-in page through the footer."""

from __future__ import annotations

import importlib
import re

import pytest
from django.db import migrations

from accounts.models import Messenger, Organisation
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db


def privacy_links(response) -> list[str]:
    return re.findall(r'href="(/privacy/[^"]+/)"', response.content.decode())


def test_a_new_organisation_starts_in_max():
    organisation = Organisation.objects.create(
        slug="new", full_name="Новое учреждение", short_name="Новое", head_name="А.А. Новиков"
    )
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.MAX
    assert organisation.max_only_from is None
    assert organisation.messenger_texts.name == "MAX"


def test_the_migration_changes_the_default_only():
    """No data migration: an organisation that chose VK (or is in transition) keeps it."""
    migration = importlib.import_module(
        "accounts.migrations.0016_organisation_messenger_max_by_default"
    ).Migration
    assert [type(op) for op in migration.operations] == [migrations.AlterField]
    (operation,) = migration.operations
    assert (operation.model_name, operation.name) == ("organisation", "messenger")
    assert operation.field.default == Messenger.MAX


def test_an_organisation_on_vk_stays_on_vk_when_saved_again():
    organisation = OrganisationFactory(messenger=Messenger.VK)
    organisation.save()
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.VK


def test_the_join_page_links_its_own_privacy_policy_among_several(client):
    """Several institutions: the footer names none (`current_organisation` is unset), so the
    joining page links the policy of the organisation it shows."""
    cdt = OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»")
    OrganisationFactory(slug="school2", short_name="МБОУ «СОШ № 2»")
    response = client.get("/join/cdt/")
    assert response.status_code == 200
    assert response.context["current_organisation"] is None
    assert privacy_links(response) == ["/privacy/cdt/"]
    page = response.content.decode()
    assert (
        f"Как {cdt.short_name} обрабатывает персональные данные: "
        '<a href="/privacy/cdt/">Политика обработки персональных данных</a>.'
    ) in page
    assert client.get("/privacy/cdt/").status_code == 200


def test_the_list_of_institutions_links_each_privacy_policy(client):
    OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»")
    OrganisationFactory(slug="school2", short_name="МБОУ «СОШ № 2»")
    response = client.get("/")
    assert response.status_code == 200
    assert privacy_links(response) == ["/privacy/school2/", "/privacy/cdt/"]
    page = response.content.decode()
    assert '<a href="/privacy/cdt/">политика МКУ ДО «ЦДТ»</a>' in page
    # The list of institutions still holds only their joining pages.
    listed = page.split('<div class="list-group mb-4">', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'href="([^"]+)"', listed) == ["/join/school2/", "/join/cdt/"]


def test_one_institution_is_linked_at_the_root_and_on_the_sign_in_page(client):
    OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»")
    front = client.get("/")
    assert front.status_code == 200
    # The joining page's own link, and the footer's.
    assert privacy_links(front) == ["/privacy/cdt/", "/privacy/cdt/"]
    sign_in = client.get("/accounts/login/")
    assert sign_in.status_code == 200
    assert "/privacy/cdt/" in privacy_links(sign_in)
