"""Finding 8: a NUL byte in a search (`?q=%00`) or a non-numeric id in a form field gave a
500 on PostgreSQL. Now a NUL anywhere in a query or form is a 400 with a Russian message,
and a fuzz walk over every page's query parameters and every form of the project, as the
administrator, finds no 5xx. Run it on PostgreSQL too (DATABASE_URL=postgres://…)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import resolve

from accounts.models import User
from cdt_portal.inputs import parse_id
from tests import test_access_matrix as matrix

# The access matrix's world: every persona and every object a URL needs.
world = matrix.world

FUZZ = [
    "\x00",
    "abc\x00def",
    "9" * 40,  # far past a bigint
    str(2**63),  # one past PostgreSQL's bigint
    "-1",
    "-99999999999999999999",
    "abc",
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits
    "1e9",
    "' OR 1=1 --",
    "",
]
# Query parameters the list pages read (filters, search, paging, dates).
GET_PARAMS = [
    "q", "page", "group", "status", "person", "actor", "action", "object", "object_id",
    "content_type", "date_from", "date_to", "from", "to", "blank", "role", "version", "sort",
]  # fmt: skip


class Forms(HTMLParser):
    """The POST forms of a page: their action and the names of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, set[str]]] = []
        self._open = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.forms.append((attrs.get("action") or "", set()))
            self._open = True
        elif self._open and tag in ("input", "select", "textarea") and attrs.get("name"):
            if attrs["name"] != "csrfmiddlewaretoken" and attrs.get("type") != "file":
                self.forms[-1][1].add(attrs["name"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = False


def admin_client(world) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=world.admin.pk))
    return client


def each_page(world):
    """Every GET route the admin may open, with its arguments from the access table."""
    for route, _ in matrix.project_patterns():
        row = matrix.TABLE.get(route)
        if row is not None:  # a route without a row fails the access matrix itself
            yield route, matrix.url_for(route, row.args(world))


def answer(client, method: str, url: str, data: dict) -> int:
    """One request in a savepoint rolled back afterwards, so the walk does not depend on
    what an earlier request changed."""
    cache.clear()
    with transaction.atomic():
        response = client.get(url, data) if method == "GET" else client.post(url, data)
        transaction.set_rollback(True)
    return response.status_code


def test_a_nul_byte_in_a_search_is_a_400_with_a_message(client, admin):
    client.force_login(admin)
    response = client.get("/people/", {"q": "\x00"})
    assert response.status_code == 400
    assert "недопустимый символ" in response.content.decode()
    response = client.post("/notices/publish/", {"text": "Текст\x00"})
    assert response.status_code == 400
    response = client.get("/people/", {"q\x00": "x"})
    assert response.status_code == 400


def test_every_page_survives_fuzzed_query_parameters(world):
    client = admin_client(world)
    crashes = []
    for _route, url in each_page(world):
        for value in FUZZ:
            data = dict.fromkeys(GET_PARAMS, value)
            status = answer(client, "GET", url, data)
            if status >= 500:
                crashes.append(f"GET {url} {value!r}: {status}")
    assert crashes == []


def test_every_form_survives_fuzzed_fields(world):
    client = admin_client(world)
    forms: dict[str, set[str]] = {}
    for _route, url in each_page(world):
        with transaction.atomic():
            response = client.get(url)
            transaction.set_rollback(True)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = Forms()
        parser.feed(response.content.decode())
        for action, fields in parser.forms:
            target = action or url
            if target.startswith("/") and not target.startswith("/admin/"):
                forms.setdefault(target, set()).update(fields)
    # Every POST route too, with the usual field names, whether or not a page shows its form.
    for _route, url in each_page(world):
        forms.setdefault(url, set()).update({"pk", "person", "group", "action", "to"})
    assert len(forms) > 20
    crashes = []
    for target, fields in sorted(forms.items()):
        target = target.split("#")[0]
        path = target.split("?")[0]
        resolve(path)  # every form posts to a route of the project
        for value in FUZZ:
            status = answer(client, "POST", target, dict.fromkeys(fields, value))
            if status >= 500:
                crashes.append(f"POST {target} {value!r}: {status}")
    assert crashes == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7), (" 12 ", 12), ("0", None), ("-1", None), ("²", None), ("١٢", None),
     ("9" * 30, None), (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("1e3", None),
     ("", None), (None, None), ("\x00", None)],
)  # fmt: skip
def test_parse_id_takes_only_plain_database_ids(value, expected):
    assert parse_id(value) == expected
