"""Page breaks of the acknowledgement sheet follow its rows only, not the server: the parts it is
rendered in are cut by the number of rows (`documents.sheet_chunks`), never by the number of
worker processes, and a sheet that fits one page is one page."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from acknowledgements import documents
from acknowledgements.models import DocumentVersion
from tests.acknowledgements.builders import fetch_sheet
from tests.factories import UserFactory
from tests.helpers import pdf_reader

LONG_NAME = (
    "Муниципальное казённое учреждение дополнительного образования «Центр детского творчества»"
)


def names_per_page(pdf: bytes) -> list[list[str]]:
    """The made-up last names («Строкова07») on each page, in print order."""
    return [re.findall(r"Строкова\d\d", page.extract_text()) for page in pdf_reader(pdf).pages]


def readers(organisation, count: int) -> list[str]:
    return [
        UserFactory(
            organisation=organisation, last_name=f"Строкова{n:02d}", roles=["teacher"]
        ).last_name
        for n in range(count)
    ]


def sheet_with_workers(client, settings, tmp_path, workers: int) -> bytes:
    """The sheet as a server with `workers` worker processes builds it, from an empty store."""
    settings.HUEY = {**settings.HUEY, "consumer": {"workers": workers}}
    settings.MEDIA_ROOT = str(tmp_path / f"media-{workers}")
    return fetch_sheet(client, reverse("regulation_sheet_pdf")).content


@pytest.mark.django_db
def test_a_sheet_of_fourteen_rows_is_one_page(
    client, director, organisation, regulation, settings, tmp_path
):
    names = readers(organisation, 12)  # and the admin and the teacher: 14 rows
    client.force_login(director)
    pdf = sheet_with_workers(client, settings, tmp_path, 2)
    assert len(documents.sheet_context(regulation)["rows"]) == 14
    assert names_per_page(pdf) == [names]


@pytest.mark.django_db
@pytest.mark.parametrize("part_rows", [None, 10], ids=["default-parts", "parts-of-10"])
def test_page_breaks_are_the_same_with_1_2_and_4_workers(
    client, director, organisation, regulation, settings, tmp_path, monkeypatch, part_rows
):
    if part_rows:
        monkeypatch.setattr(documents, "SHEET_PART_ROWS", part_rows)
    names = readers(organisation, 45)
    client.force_login(director)
    pages = {
        workers: names_per_page(sheet_with_workers(client, settings, tmp_path, workers))
        for workers in (1, 2, 4)
    }
    assert pages[1] == pages[2] == pages[4]
    assert [name for page in pages[1] for name in page] == names
    if part_rows is None:  # 47 rows in one part: as many pages as the rows fill, no more
        assert len(pages[1]) == 3


@pytest.mark.django_db
def test_parts_end_where_the_pages_of_one_line_rows_end(
    client, director, organisation, regulation, settings, tmp_path, monkeypatch
):
    """SHEET_PAGE_ROWS and SHEET_TITLE_ROWS as measured: a sheet of one-line rows cut into parts
    of two pages breaks its pages where the same sheet rendered in one run does (under an
    institution's full name on two lines, as a real one is)."""
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 2 * documents.SHEET_PAGE_ROWS)
    organisation.full_name = LONG_NAME
    organisation.save(update_fields=["full_name"])
    regulation = DocumentVersion.objects.select_related("document__organisation").get(
        pk=regulation.pk
    )
    readers(organisation, 100)
    client.force_login(director)
    in_parts = names_per_page(sheet_with_workers(client, settings, tmp_path, 2))
    whole = names_per_page(documents.render_sheet(regulation)[1])
    assert len(documents.sheet_chunks(documents.sheet_context(regulation)["rows"])) >= 3
    assert in_parts == whole
