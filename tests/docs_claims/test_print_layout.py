"""README «Documents»: one print stylesheet after ГОСТ Р 7.0.97-2025 — margins 20 mm top,
10 mm right, 20 mm bottom, 30 mm left; 14 pt text and 12 pt tables; page numbers top centre
from page 2; the approval stamp 8 cm wide at the right margin. Measured on the demo's approved
order (its text, then the sheet for ink), from the words poppler reads in the PDF."""

from __future__ import annotations

from collections import Counter

import pytest

from acknowledgements import documents
from tests.documents.builders import demo_version
from tests.documents.measure import MM, text_runs
from tests.helpers import pdf_words

A4_WIDTH, A4_HEIGHT = 210 * MM, 297 * MM
TOP, RIGHT, BOTTOM, LEFT = 20 * MM, 10 * MM, 20 * MM, 30 * MM
STAMP_WIDTH = 80 * MM
NEAR = 0.5 * MM  # what a measured edge may differ by


@pytest.fixture
def order(db):
    data = documents.render_order(demo_version())[1]
    return {"words": pdf_words(data), "runs": text_runs(data)}


def test_every_word_is_inside_the_margins_but_the_page_numbers(order):
    pages = order["words"]
    assert len(pages) >= 3
    for number, words in enumerate(pages, start=1):
        above = [w for w in words if w.y1 <= TOP]
        body = [w for w in words if w.y1 > TOP]
        assert min(w.x0 for w in body) >= LEFT - NEAR, number
        assert max(w.x1 for w in body) <= A4_WIDTH - RIGHT + NEAR, number
        assert min(w.y0 for w in body) >= TOP - NEAR, number
        assert max(w.y1 for w in body) <= A4_HEIGHT - BOTTOM + NEAR, number
        if number == 1:
            assert above == [], "page 1 carries no number"
            continue
        [page_number] = above
        assert page_number.text == str(number)
        middle = (page_number.x0 + page_number.x1) / 2
        assert abs(middle - (LEFT + (A4_WIDTH - RIGHT)) / 2) < NEAR, number


def test_text_is_14_pt_and_the_sheets_table_12_pt(order):
    runs = order["runs"]
    first = Counter(run.size for run in runs[0])
    assert set(first) == {14.0}, first
    sheet = [page for page in runs if any("Лист ознакомления" in run.text for run in page)]
    assert sheet, "the order ends with its sheet"
    sizes = Counter(run.size for page in sheet for run in page)
    assert sizes.most_common(1)[0][0] == 12.0, sizes


def test_the_stamp_is_8_cm_wide_at_the_right_margin(order):
    words = order["words"][0]
    [approve] = [w for w in words if w.text == "УТВЕРЖДАЮ"]
    assert abs(approve.x0 - (A4_WIDTH - RIGHT - STAMP_WIDTH)) < NEAR
    [label] = [w for w in words if w.text == "201-О"]
    stamp = [w for w in words if approve.y0 - NEAR <= w.y0 <= label.y1]
    assert len(stamp) >= 5
    assert min(w.x0 for w in stamp) >= A4_WIDTH - RIGHT - STAMP_WIDTH - NEAR
    assert max(w.x1 for w in stamp) <= A4_WIDTH - RIGHT + NEAR
