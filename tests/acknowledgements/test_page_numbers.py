"""Page numbers of documents made in parts: stamped after the join where WeasyPrint's own
`@page { @top-center }` box would have put them (ГОСТ Р 7.0.97: top centre, from page 2)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from acknowledgements import documents
from cdt_portal import pdf
from cdt_portal.pdf import join_pdfs, render_pdf
from tests.acknowledgements.builders import fetch_sheet
from tests.factories import UserFactory
from tests.helpers import Word, pdf_words

A4_WIDTH = 595.28
TOP_MARGIN = 20 * 72 / 25.4
# Centre of the text column: 30 mm left margin, 10 mm right margin.
COLUMN_CENTRE = (30 * 72 / 25.4 + A4_WIDTH - 10 * 72 / 25.4) / 2


def header_words(page: list[Word]) -> list[Word]:
    """Words inside the top margin: where the page number lives, and nothing else does."""
    return [word for word in page if word.y1 <= TOP_MARGIN]


def weasyprint_numbered_rows(count: int) -> bytes:
    """A sheet part numbered by WeasyPrint itself (no `unnumbered` page), for reference."""
    rows = [
        {"number": n, "full_name": f"Проверкина Анна {n}", "position": "Педагог", "date": ""}
        for n in range(1, count + 1)
    ]
    context = {
        "organisation": {"full_name": "Учреждение", "short_name": "Учреждение"},
        "version": {"order_date": "30.11.2023", "order_number": "1"},
        "sheet_title": "Лист",
        "rows": rows,
        "first_part": True,
    }
    return render_pdf("pdf/sheet.html", context, filename="")[1]


def unnumbered_page() -> bytes:
    """An empty part of a longer sheet: one page that WeasyPrint leaves unnumbered."""
    return render_pdf(
        "pdf/sheet.html",
        {
            "organisation": {"full_name": "У", "short_name": "У"},
            "version": {"order_date": "30.11.2023", "order_number": "1"},
            "sheet_title": "Лист",
            "rows": [],
            "first_part": True,
            "unnumbered": True,
        },
        filename="",
    )[1]


def test_a_stamped_number_sits_where_weasyprint_puts_it():
    reference = weasyprint_numbered_rows(30)
    reference_pages = pdf_words(reference)
    assert len(reference_pages) >= 2
    (drawn,) = header_words(reference_pages[1])
    assert drawn.text == "2"

    unnumbered = unnumbered_page()
    joined = pdf_words(join_pdfs([unnumbered, unnumbered, unnumbered], number_from=2))
    assert header_words(joined[0]) == []
    for number, page in enumerate(joined[1:], start=2):
        (stamped,) = header_words(page)
        assert stamped.text == str(number)
        assert stamped.centre_x == pytest.approx(drawn.centre_x, abs=0.5)
        assert stamped.y1 == pytest.approx(drawn.y1, abs=0.5)
        assert stamped.x1 - stamped.x0 == pytest.approx(drawn.x1 - drawn.x0, abs=0.5)


def test_numbers_rendered_a_few_pages_at_a_time_run_on_across_the_runs(monkeypatch):
    """The join renders the numbers NUMBERED_PAGES_AT_ONCE pages at a time (memory): each run
    starts where the last ended, and every number sits where the first run's does."""
    monkeypatch.setattr(pdf, "NUMBERED_PAGES_AT_ONCE", 3)
    blank = unnumbered_page()
    joined = pdf_words(join_pdfs([blank] * 9, number_from=2))
    assert header_words(joined[0]) == []
    stamped = [header_words(page) for page in joined[1:]]
    assert [[word.text for word in words] for words in stamped] == [[str(n)] for n in range(2, 10)]
    (second,) = stamped[0]
    for (word,) in stamped[1:]:  # the same line, centred alike (widths differ by digits only)
        assert word.y1 == pytest.approx(second.y1, abs=0.5)
        assert word.centre_x == pytest.approx(second.centre_x, abs=0.5)


@pytest.mark.django_db
def test_the_sheet_in_parts_is_numbered_at_the_top_centre_from_page_two(
    client, director, organisation, regulation, monkeypatch
):
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
    for n in range(40):
        UserFactory(organisation=organisation, last_name=f"Листова{n:02d}", roles=["teacher"])
    client.force_login(director)
    pages = pdf_words(fetch_sheet(client, reverse("regulation_sheet_pdf")).content)
    assert len(pages) >= 4
    assert header_words(pages[0]) == []
    for number, page in enumerate(pages[1:], start=2):
        (stamped,) = header_words(page)
        assert stamped.text == str(number)
        assert stamped.centre_x == pytest.approx(COLUMN_CENTRE, abs=0.5)


@pytest.mark.django_db
def test_the_order_made_in_parts_has_every_row_once_and_numbers_from_page_two(
    organisation, regulation, monkeypatch
):
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
    people = [
        UserFactory(organisation=organisation, last_name=f"Приказова{n:02d}", roles=["teacher"])
        for n in range(25)
    ]
    _, pdf = documents.render_order(regulation)
    pages = pdf_words(pdf)
    assert header_words(pages[0]) == []
    for number, page in enumerate(pages[1:], start=2):
        (stamped,) = header_words(page)
        assert stamped.text == str(number)
    words = [word.text for page in pages for word in page]
    for person in people:
        assert words.count(person.last_name) == 1, person.last_name
    # The sheet's title block is printed once, at the start of the sheet, not on every part.
    assert words.count("Лист") == 1
