"""README, «Demo sign-ins»: with several institutions the public front page `/` lists them,
each with its own page on joining Sferum (`/join/<slug>/`); a deployment for one institution
shows that page at `/` itself."""

from __future__ import annotations

import re

import pytest

from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

LIST_TEMPLATE = "accounts/organisations.html"
JOIN_TEMPLATE = "accounts/join.html"


def templates(response) -> list[str]:
    return [template.name for template in response.templates]


def join_links(page: str) -> list[str]:
    return re.findall(r'href="(/join/[^"]+/)"', page)


def test_one_institution_shows_its_joining_page_at_the_root(client):
    only = OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»")

    front = client.get("/")
    own = client.get(f"/join/{only.slug}/")

    assert (front.status_code, own.status_code) == (200, 200)
    assert JOIN_TEMPLATE in templates(front) and LIST_TEMPLATE not in templates(front)
    assert front.context["organisation"] == only
    assert "В МКУ ДО «ЦДТ» общение педагогов" in front.content.decode()
    assert join_links(front.content.decode()) == []


def test_several_institutions_are_listed_each_with_its_own_joining_page(client):
    institutions = [
        OrganisationFactory(slug="cdt", short_name="МКУ ДО «ЦДТ»"),
        OrganisationFactory(slug="demo-school-1", short_name="Демо-школа № 1"),
        OrganisationFactory(slug="demo-kindergarten-2", short_name="Демо-детский сад № 2"),
    ]

    front = client.get("/")

    assert front.status_code == 200
    assert LIST_TEMPLATE in templates(front) and JOIN_TEMPLATE not in templates(front)
    page = front.content.decode()
    assert sorted(join_links(page)) == sorted(f"/join/{o.slug}/" for o in institutions)
    for institution in institutions:
        answer = client.get(f"/join/{institution.slug}/")
        assert answer.status_code == 200
        assert answer.context["organisation"] == institution
