"""Issue 21: the department's table and its XLSX show each institution's messenger («VK»,
«переход до DD.MM.YYYY», «MAX»), sortable like the other columns and filtered by state (an
unknown state is ignored, as an unknown sort is); the table scrolls sideways on a phone in a
focusable, named region, so no column is hidden."""

from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Messenger, Organisation
from tests.factories import OrganisationFactory

pytestmark = pytest.mark.django_db

CUTOVER = dt.date(2027, 1, 15)


@pytest.fixture
def states(department, organisation) -> dict[str, Organisation]:
    """One institution per state; the seed fixture's organisation («МКУ ДО «ЦДТ»») is left
    at the default, which is MAX."""
    made = {
        "vk": OrganisationFactory(
            slug="vk-school", short_name="Школа VK", department=department, messenger=Messenger.VK
        ),
        "transition": OrganisationFactory(
            slug="tr-school",
            short_name="Школа переход",
            department=department,
            messenger=Messenger.TRANSITION,
            max_only_from=CUTOVER,
        ),
        "max": OrganisationFactory(
            slug="max-school",
            short_name="Школа MAX",
            department=department,
            messenger=Messenger.MAX,
        ),
    }
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.MAX
    return made


@pytest.fixture
def officer_client(department_officer) -> Client:
    client = Client()
    client.force_login(department_officer)
    return client


def shown(response) -> list[str]:
    return re.findall(r'data-institution="([^"]+)"', response.content.decode())


def messenger_cells(response) -> dict[str, str]:
    """Each row's slug and the text of its «Мессенджер» cell."""
    page = response.content.decode()
    return dict(
        re.findall(
            r'data-institution="([^"]+)">\s*<th[^>]*>.*?</th>\s*'
            r'<td data-messenger="[^"]+">([^<]*)</td>',
            page,
            re.S,
        )
    )


def test_the_column_shows_each_state(officer_client, states):
    response = officer_client.get("/department/")
    assert response.status_code == 200
    assert messenger_cells(response) == {
        "cdt": "MAX",
        "max-school": "MAX",
        "tr-school": "переход до 15.01.2027",
        "vk-school": "VK",
    }
    header = re.findall(r'data-sort="([^"]+)">([^<]+)</a>', response.content.decode())
    assert header[:3] == [
        ("name", "Организация ↑"),  # sorted by name
        ("messenger", "Мессенджер"),
        ("registration", "Заявка"),
    ]


@pytest.mark.parametrize(
    "params, expected",
    [
        # VK, then the transition, then MAX; ties by name («МКУ…» before «Школа MAX»).
        ("sort=messenger", ["vk-school", "tr-school", "cdt", "max-school"]),
        ("sort=-messenger", ["cdt", "max-school", "tr-school", "vk-school"]),
        ("messenger=vk", ["vk-school"]),
        ("messenger=transition", ["tr-school"]),
        ("messenger=max", ["cdt", "max-school"]),
        ("messenger=max&q=max", ["max-school"]),
        # An unknown state filters nothing, as an unknown sort sorts by name.
        ("messenger=telegram", ["cdt", "max-school", "vk-school", "tr-school"]),
        ("messenger=", ["cdt", "max-school", "vk-school", "tr-school"]),
    ],
)
def test_sort_and_filter_by_messenger(officer_client, states, params, expected):
    response = officer_client.get(f"/department/?{params}")
    assert response.status_code == 200
    assert shown(response) == expected


def test_the_filter_is_kept_by_the_sort_links_and_the_export(officer_client, states):
    page = officer_client.get("/department/?messenger=vk&q=%D1%88").content.decode()
    assert 'href="?q=%D1%88&amp;messenger=vk&amp;sort=messenger"' in page
    assert 'href="/department/institutions.xlsx?q=%D1%88&amp;messenger=vk&amp;sort=name"' in page
    assert '<option value="vk" selected>VK</option>' in page
    assert '<option value="transition">переход на MAX</option>' in page


def test_nothing_found_by_the_filter_says_so(officer_client, department, organisation):
    response = officer_client.get("/department/?messenger=vk")
    assert response.status_code == 200
    assert shown(response) == []
    assert "Организаций с отбором «Мессенджер: VK» не найдено." in response.content.decode()


def test_the_xlsx_has_the_column_and_the_filter(officer_client, states):
    response = officer_client.get("/department/institutions.xlsx?sort=messenger")
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.values)
    assert rows[0][:3] == ("Организация", "Мессенджер", "Заявка на регистрацию")
    assert [row[:2] for row in rows[1:]] == [
        ("Школа VK", "VK"),
        ("Школа переход", "переход до 15.01.2027"),
        ("МКУ ДО «ЦДТ»", "MAX"),
        ("Школа MAX", "MAX"),
    ]
    filtered = officer_client.get("/department/institutions.xlsx?messenger=transition")
    rows = list(openpyxl.load_workbook(io.BytesIO(filtered.content)).active.values)
    assert [row[:2] for row in rows[1:]] == [("Школа переход", "переход до 15.01.2027")]


def test_the_column_and_the_filter_cost_no_query(officer_client, states):
    """The messenger comes with the institutions' own query: the table filtered and sorted by
    it costs what the plain table costs, counted or kept."""
    officer_client.get("/department/")  # the session's first write and the first count
    with CaptureQueriesContext(connection) as plain:
        officer_client.get("/department/")
    with CaptureQueriesContext(connection) as filtered:
        response = officer_client.get("/department/?messenger=max&sort=-messenger")
    assert shown(response) == ["cdt", "max-school"]
    assert len(filtered.captured_queries) == len(plain.captured_queries)


def test_a_state_changed_shows_at_once(officer_client, states):
    """The numbers are kept until an institution's audit entry changes; the messenger is not
    one of them, so a change shows on the next request."""
    officer_client.get("/department/")
    Organisation.objects.filter(slug="vk-school").update(messenger=Messenger.MAX)
    assert messenger_cells(officer_client.get("/department/"))["vk-school"] == "MAX"


def test_the_table_scrolls_sideways_in_a_named_focusable_region(officer_client, states):
    """At 390 px the table is wider than the screen: every column stays in it, and the
    region it scrolls in can be reached and scrolled with the keyboard (axe's
    scrollable-region-focusable) and has a name."""
    page = officer_client.get("/department/").content.decode()
    region = re.search(
        r'<div class="table-responsive"([^>]*)>\s*<table[^>]*data-institutions', page
    )
    assert region is not None
    attributes = region.group(1)
    assert 'tabindex="0"' in attributes
    assert 'role="region"' in attributes
    assert 'aria-label="Организации управления: внедрение «Сферума»"' in attributes
    thead = page.split("<thead>", 1)[1].split("</thead>", 1)[0]
    assert len(re.findall(r"<th ", thead)) == 9
    assert "d-none" not in thead and "visually-hidden" not in thead
    row = re.search(r'<tr data-institution="vk-school">(.*?)</tr>', page, re.S).group(1)
    assert len(re.findall(r"<t[hd][ >]", row)) == 9
    assert "d-none" not in row
