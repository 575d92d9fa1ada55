"""The acknowledgement sheet as printed, measured from the PDF: the header's padding, every
word inside its column, the title's line breaks and comma, and the signature cells left for ink.

The sheet is the demo institution's (the seed's 14 people) with the longest positions of real
and benchmark staff added, and one online confirmation."""

from __future__ import annotations

import re

import pytest

from acknowledgements import documents
from cdt_portal.pdf import render_pdf
from tests.documents.builders import LONG_POSITIONS, demo_sheet, demo_version
from tests.documents.measure import HYPHEN, MM, Cell, drawings, lines_of, table_rows
from tests.helpers import pdf_text, pdf_words

COLUMNS = ["№", "Ф.И.О.", "Должность", "Дата ознакомления", "Подпись"]
PADDING = 1 * MM  # the least room between a word and its cell's borders


def sheet_tables(data: bytes) -> list[list[list[Cell]]]:
    """Every page's table rows; each page's first row is the header."""
    tables = []
    for drawing, words in zip(drawings(data), pdf_words(data), strict=True):
        rows = table_rows(drawing, words)
        if rows:
            tables.append(rows)
    return tables


def cell_text(cell: Cell) -> str:
    """A cell's words as one text, in reading order, with the line-end hyphens taken out."""
    text = " ".join(w.text for line in lines_of(cell.words) for w in line)
    return re.sub(HYPHEN + " ", "", text)


@pytest.fixture
def sheet(db):
    version, data = demo_sheet()
    return {"version": version, "data": data, "tables": sheet_tables(data)}


@pytest.fixture
def order_sheet(db):
    """The sheet for ink at the end of the approved order: its own pages."""
    data = documents.render_order(demo_version())[1]
    return {"data": data, "tables": sheet_tables(data)}


def test_the_header_keeps_its_padding(sheet, order_sheet):
    tables = sheet["tables"] + order_sheet["tables"]
    assert len(sheet["tables"]) == 2  # the filled sheet runs over two pages: both have a header
    for page, rows in enumerate(tables):
        header = rows[0]
        assert [cell_text(cell) for cell in header] == COLUMNS, page
        for cell in header:
            for word in cell.words:
                room = {
                    "left": word.x0 - cell.x0,
                    "right": cell.x1 - word.x1,
                    "top": word.y0 - cell.y0,
                    "bottom": cell.y1 - word.y1,
                }
                tight = {side: f"{gap / MM:.2f} mm" for side, gap in room.items() if gap < PADDING}
                assert not tight, (page, word.text, tight)


def test_every_word_stays_inside_its_column(sheet):
    people = {
        f"{last} {first} {middle}": position for last, first, middle, position in LONG_POSITIONS
    }
    seen = {}
    for page, rows in enumerate(sheet["tables"]):
        widths = [round((cell.x1 - cell.x0) / MM, 1) for cell in rows[0]]
        assert widths == [round((c.x1 - c.x0) / MM, 1) for c in sheet["tables"][0][0]], page
        for row in rows[1:]:
            for column, cell in zip(COLUMNS, row, strict=True):
                for word in cell.words:
                    assert cell.x0 <= word.x0 and word.x1 <= cell.x1, (
                        f"page {page + 1}, «{column}»: «{word.text}» runs "
                        f"{max(cell.x0 - word.x0, word.x1 - cell.x1) / MM:.1f} mm over the border"
                    )
            seen[cell_text(row[1])] = cell_text(row[2])
    for name, position in people.items():
        assert seen[name] == position, name  # whole, in its own column, on the person's row
    assert len(seen) == 14 + len(people)


def test_a_sheet_of_ten_thousand_keeps_its_numbers_inside_the_first_column(db):
    """The number column widens for five-digit numbers; every part of the sheet gets it."""
    version = demo_version()
    context = documents.sheet_context(version, blank=True)
    template = context["rows"][0]
    context["rows"] = [{**template, "number": n} for n in range(1, 10_001)]
    context["columns"] = documents.sheet_columns(context["rows"])
    last_part = {**context, "rows": context["rows"][-3:], "first_part": False, "unnumbered": True}
    data = render_pdf(
        "pdf/sheet.html", last_part, filename="", css=documents.columns_css(context["columns"])
    )[1]
    (rows,) = sheet_tables(data)
    numbers = [row[0] for row in rows[1:]]
    assert [cell_text(cell) for cell in numbers] == ["9998.", "9999.", "10000."]
    for cell in numbers:
        for word in cell.words:
            assert cell.x0 + PADDING <= word.x0 and word.x1 <= cell.x1 - PADDING, word


def test_the_title_is_one_sentence_and_keeps_the_quoted_name_on_one_line(sheet, order_sheet):
    sentence = (
        "в муниципальном казённом учреждении дополнительного образования "
        "«Центр детского творчества», утверждённым приказом МКУ ДО «ЦДТ» от 30.11.2023 г. "
        "№ 201-О"
    )
    for data in (sheet["data"], order_sheet["data"]):
        assert sentence in pdf_text(data)
        for page in pdf_words(data):
            lines = [" ".join(w.text for w in line) for line in lines_of(page)]
            quoted = [line for line in lines if "творчества»" in line]
            for line in quoted:
                assert "«Центр" in line and "детского" in line, f"broken: {line!r}"
            for line in lines:
                if "утверждённым" in line:
                    assert "МКУ ДО «ЦДТ»" in line and "№ 201-О" in line, line
        assert any(
            "«Центр детского творчества»," in " ".join(w.text for w in line)
            for page in pdf_words(data)
            for line in lines_of(page)
        )


def test_the_signature_cells_are_left_for_ink(sheet):
    """The online confirmation's note is printed under the date; every signature cell is
    empty and at least 8 mm high."""
    notes = 0
    for rows in sheet["tables"]:
        for row in rows[1:]:
            date, signature = row[3], row[4]
            assert signature.words == [], cell_text(signature)
            assert signature.y1 - signature.y0 >= 8 * MM, (cell_text(row[1]), signature)
            if "подтверждено" in cell_text(date):
                notes += 1
                assert re.fullmatch(
                    r"\d\d\.\d\d\.\d{4} подтверждено в портале \d\d\.\d\d\.\d{4}\s\d\d:\d\d\s\*+",
                    cell_text(date),
                ), cell_text(date)
                for word in date.words:
                    assert date.x0 <= word.x0 and word.x1 <= date.x1, word
    assert notes == 1
