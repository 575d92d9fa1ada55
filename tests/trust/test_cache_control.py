"""Finding 4: private pages and documents carried no Cache-Control, so a shared computer's
browser cache kept them. Every answer to a signed-in person, and every download, now says
`private, no-store`; static files and public pages for anonymous visitors stay cacheable."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.cache import get_max_age

from accounts.models import User
from cdt_portal.middleware import PrivateCacheMiddleware
from tests.acknowledgements.builders import fetch_sheet
from tests.test_access_matrix import TABLE, build_world, project_patterns, url_for


@pytest.fixture
def world(personas, group, regulation, draft_version, ready_request, notice):
    return build_world(personas, group, regulation, draft_version, ready_request, notice)


def directives(response) -> set[str]:
    return {d.strip() for d in response.get("Cache-Control", "").split(",") if d.strip()}


@pytest.mark.parametrize("persona", ["director", "admin", "teacher", "parent"])
def test_every_page_for_a_signed_in_person_is_private_and_not_stored(world, persona):
    client = Client()
    client.force_login(User.objects.get(pk=getattr(world, persona).pk))
    wrong = []
    for route, _ in project_patterns():
        if route not in TABLE:
            continue  # a pattern without a row fails the access matrix's own test
        url = url_for(route, TABLE[route].args(world))
        response = client.get(url)
        if not {"private", "no-store"} <= directives(response):
            wrong.append(f"{url} [{response.status_code}]: {response.get('Cache-Control')}")
    assert wrong == []


def test_the_private_downloads_say_so(client, admin, regulation):
    client.force_login(admin)
    for url in (reverse("regulation_sheet_pdf"), reverse("regulation_order_pdf"), "/audit.csv"):
        # The sheet is made by a job first (its page's button), then downloaded.
        response = fetch_sheet(client, url) if url.endswith("sheet.pdf") else client.get(url)
        assert response.status_code == 200, url
        assert "Content-Disposition" in response or response["Content-Type"].startswith(
            "application/pdf"
        )
        assert {"private", "no-store"} <= directives(response), url


def test_a_download_to_an_anonymous_visitor_is_not_stored_either():
    request = RequestFactory().get("/some.pdf")
    request.user = AnonymousUser()

    def download(_request):
        response = HttpResponse(b"%PDF-1.7", content_type="application/pdf")
        response["Content-Disposition"] = 'attachment; filename="x.pdf"'
        return response

    response = PrivateCacheMiddleware(download)(request)
    assert {"private", "no-store"} <= directives(response)


def test_static_files_stay_cacheable_for_a_signed_in_person(client, teacher):
    client.force_login(teacher)
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert "no-store" not in directives(response) and "private" not in directives(response)
    assert get_max_age(response) and get_max_age(response) > 0


def test_public_pages_for_anonymous_visitors_stay_cacheable(client, organisation):
    for url in ("/", reverse("join", kwargs={"slug": organisation.slug})):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in directives(response), url
