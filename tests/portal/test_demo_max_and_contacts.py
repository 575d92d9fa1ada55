"""Issue 21: the demo starts every organisation in the MAX state, with an invented but
complete address, phone and e-mail marked «учебный пример», so the registration letter can be
made and the privacy policy names the operator's contacts from the first minute."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from accounts.models import Messenger, Organisation
from onboarding.selectors import missing_letterhead_fields
from portal.demo import load_demo

pytestmark = pytest.mark.django_db

CONTACTS = {
    "cdt": (
        "000000, г. Демоград, ул. Учебная, д. 1 (учебный пример)",
        "+74950000000",
        "cdt@cdt.example",
    ),
    "demo-school-1": (
        "000001, г. Демоград, ул. Школьная, д. 1 (учебный пример)",
        "+74950000001",
        "school@demo-school-1.example",
    ),
    "demo-kindergarten-2": (
        "000002, г. Демоград, ул. Садовая, д. 2 (учебный пример)",
        "+74950000002",
        "sad@demo-kindergarten-2.example",
    ),
}


def slug_digit(slug: str) -> str:
    return CONTACTS[slug][1][-1]


def test_every_demo_organisation_starts_in_max():
    load_demo()
    states = dict(Organisation.objects.values_list("slug", "messenger"))
    assert states == {slug: Messenger.MAX for slug in CONTACTS}
    assert not Organisation.objects.exclude(max_only_from=None).exists()


def test_loaddemo_again_keeps_max_and_the_contacts():
    call_command("loaddemo", stdout=open("/dev/null", "w"))
    call_command("loaddemo", stdout=open("/dev/null", "w"))
    organisation = Organisation.objects.get(slug="cdt")
    assert organisation.messenger == Messenger.MAX
    assert (organisation.address, organisation.phone.as_e164, organisation.email) == CONTACTS["cdt"]


def test_every_demo_organisation_has_complete_marked_contacts():
    load_demo()
    found = {
        o.slug: (o.address, o.phone.as_e164, o.email) for o in Organisation.objects.order_by("slug")
    }
    assert found == CONTACTS
    for organisation in Organisation.objects.all():
        assert organisation.address.endswith("(учебный пример)"), organisation.slug
        assert organisation.email.endswith(".example"), organisation.slug  # never delivered
        assert missing_letterhead_fields(organisation) == [], organisation.slug


def test_the_demo_privacy_policy_names_every_contact(client):
    load_demo()
    for slug, (address, _phone, email) in CONTACTS.items():
        response = client.get(f"/privacy/{slug}/")
        assert response.status_code == 200
        page = re.sub(r"\s+", " ", response.content.decode())
        assert "не указан" not in page, slug
        assert f"Адрес: {address}." in page, slug
        assert f'<a href="mailto:{email}">{email}</a>' in page, slug
        assert f"Телефон: +7 495 000-00-0{slug_digit(slug)}." in page, slug
