"""The privacy policy (152-ФЗ ст. 18.1) built from the organisation's record: for the signed-in
organisation at /privacy/, public at /privacy/<slug>/ like the join page, linked from the
footer, the consent and the sign-in page."""

from __future__ import annotations

import re

from django.urls import reverse


def test_the_public_page_names_the_operator_and_every_section(client, organisation):
    organisation.address = "170100, г. Тверь, ул. Трёхсвятская, д. 1"
    organisation.email = "cdt@example.ru"
    organisation.save()
    response = client.get(reverse("privacy_public", kwargs={"slug": organisation.slug}))
    assert response.status_code == 200
    page = response.content.decode()
    for section in (
        organisation.full_name,
        "170100, г. Тверь, ул. Трёхсвятская, д. 1",
        "cdt@example.ru",
        "Цели обработки",
        "Категории субъектов и персональных данных",
        "Правовые основания",
        "Действия с персональными данными",
        "Сроки обработки и хранения",
        "Права субъектов персональных данных",
        "Куда обращаться",
        "статьи 18.1",
    ):
        assert section in page, section


def test_an_unknown_organisation_is_404(client, db):
    assert client.get(reverse("privacy_public", kwargs={"slug": "nobody"})).status_code == 404


def test_the_signed_in_page_is_the_own_organisations(client, parent, outsider, organisation):
    client.force_login(parent)
    assert organisation.full_name in client.get(reverse("privacy")).content.decode()
    client.force_login(outsider)
    page = client.get(reverse("privacy")).content.decode()
    assert outsider.organisation.full_name in page and organisation.full_name not in page


def test_linked_from_the_footer_the_consent_and_the_sign_in_page(client, parent, organisation):
    link = reverse("privacy_public", kwargs={"slug": organisation.slug})
    assert link in client.get(reverse("login")).content.decode()
    client.force_login(parent)
    assert link in client.get(reverse("family_home")).content.decode()  # the footer
    assert reverse("privacy") in client.get(reverse("consent_text")).content.decode()


def test_the_title_names_the_organisation_once(client, parent, organisation):
    """Signed in, the frame adds the person's organisation to every title: the page does not
    add it again. The public page (nobody signed in, or another organisation's) names it."""
    name = organisation.short_name
    public = client.get(reverse("privacy_public", kwargs={"slug": organisation.slug}))
    assert f"<title>Политика обработки персональных данных — {name}" in public.content.decode()
    client.force_login(parent)
    page = client.get(reverse("privacy")).content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title == f"Политика обработки персональных данных — {name}"
