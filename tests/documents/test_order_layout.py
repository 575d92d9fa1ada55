"""The approved order's text as printed: justified lines without wide gaps, and lists laid out
by one rule. Measured on the demo's order, from the words poppler reads in the PDF."""

from __future__ import annotations

import itertools

import pytest

from acknowledgements import documents
from tests.documents.builders import demo_version, order_text_html, text_blocks
from tests.documents.measure import (
    HYPHEN,
    MM,
    Placed,
    TextFinder,
    placed_lines,
    reading_order,
)
from tests.helpers import no_spaces, pdf_text, pdf_words

# A space of the 14 pt body text is 3.5 pt (1.2 mm). Measured on the demo's order: without
# hyphenation the widest gap on a justified line was 14.7 mm; hyphenated, it is 4.0 mm on one
# line (a paragraph's first line, shortened by its 12.5 mm indent, with four spaces to stretch
# before «функциональные», whose shortest part «функ‐» does not fit), 3.1 mm on the next widest
# and 1.7 mm on the median line. WeasyPrint breaks lines one at a time, so 4.5 mm (under four
# spaces' width) is the bound a greedy justifier holds on this text.
MAX_JUSTIFIED_GAP = 4.5 * MM


@pytest.fixture
def order(db):
    """The demo's order: its PDF, and each block of its text with the lines it is printed on."""
    version = demo_version()
    data = documents.render_order(version)[1]
    placed = reading_order(pdf_words(data))
    # The links and addresses may break at a «/», «@» or «.», but not a character is added.
    text = no_spaces(pdf_text(data))
    for link in ("info@sferum.ru", "https://sferum.ru/?p=parents_students", "https://vk.cc/cnEOTn"):
        assert link in text, link
    finder = TextFinder(placed)
    blocks = []
    for block in text_blocks(order_text_html(version)):
        words = finder.find(block.text)
        blocks.append((block, words, placed_lines(words)))
    return {"placed": placed, "blocks": blocks}


def test_justified_lines_are_hyphenated_and_have_no_wide_gaps(order):
    gaps = []
    hyphenated = []
    for block, _, lines in order["blocks"]:
        if block.kind not in ("p", "li"):
            continue
        for line, following in itertools.pairwise(lines):  # the last line is not
            gaps.extend(
                (b.word.x0 - a.word.x1, " ".join(p.text for p in line))
                for a, b in itertools.pairwise(line)
            )
            if line[-1].text.endswith(HYPHEN):
                hyphenated.append(line[-1].text + following[0].text)
    widest, where = max(gaps)
    assert widest < MAX_JUSTIFIED_GAP, f"a {widest / MM:.1f} mm gap in: {where}"
    assert len(hyphenated) >= 1, "no line of the order ends in a hyphenated word"
    # Only the justified text is hyphenated: not the stamp, the title, a heading or the sheet.
    justified = {
        id(placed) for block, words, _ in order["blocks"] if block.kind in ("p", "li")
        for placed in words
    }  # fmt: skip
    elsewhere = [
        p.text for p in order["placed"] if p.text.endswith(HYPHEN) and id(p) not in justified
    ]
    assert elsewhere == [], elsewhere


def _list_items(order):
    """[(list index, words, lines)] for every list item of the text, in order."""
    return [(b.list_index, w, lines) for b, w, lines in order["blocks"] if b.kind == "li"]


def _marker(order, first: Placed) -> Placed:
    """The number or bullet printed on the line of an item's first word, left of it."""
    placed = order["placed"]
    marker = placed[placed.index(first) - 1]
    assert marker.page == first.page and abs(marker.word.y0 - first.word.y0) <= 1.0, first
    assert marker.text == "•" or marker.text.rstrip(".").isdigit(), marker.text
    return marker


def test_every_list_item_hangs_its_text_at_one_indent(order):
    items = _list_items(order)
    assert {index for index, _, _ in items} == {0, 1, 2, 3, 4, 5}  # the regulation's six lists
    text_starts = set()
    marker_gaps = set()
    for index, _, lines in items:
        first = lines[0][0]
        for line in lines:  # the first line's text and every continuation line
            text_starts.add(round(line[0].word.x0, 1))
        marker = _marker(order, first)
        marker_gaps.add(round(first.word.x0 - marker.word.x1, 1))
        # The number or bullet stands in the left indent, before the text.
        assert marker.word.x1 < first.word.x0, (index, first.text)
    assert text_starts == {round(85.04 + 12.5 * MM, 1)}, sorted(text_starts)
    assert len(marker_gaps) == 1, f"the number or bullet stands apart unevenly: {marker_gaps}"


def test_every_list_is_spaced_alike(order):
    """The same space before a list, between its items and after it, for every list: what
    separates two lines' tops, less the text's line pitch (16.1 pt: 14 pt × 1.15)."""
    before, between, after = set(), set(), set()
    blocks = order["blocks"]
    for number, (block, _, lines) in enumerate(blocks):
        if block.kind != "li":
            continue
        previous, _, previous_lines = blocks[number - 1]
        top = lines[0][0]
        above = previous_lines[-1][0]
        if above.page == top.page:
            space = round(top.word.y0 - above.word.y0, 1)
            (between if previous.kind == "li" else before).add(space)
        # (A heading after a list keeps its own space above it.)
        if number + 1 < len(blocks) and blocks[number + 1][0].kind == "p":
            below = blocks[number + 1][2][0][0]
            bottom = lines[-1][0]
            if below.page == bottom.page:
                after.add(round(below.word.y0 - bottom.word.y0, 1))
    assert len(before) == 1, f"lists begin unevenly after their lead-ins: {before}"
    assert len(between) == 1, f"items stand apart unevenly: {between}"
    assert len(after) == 1, f"lists end unevenly: {after}"


def test_no_page_ends_with_a_list_item_or_lead_in_alone(order):
    blocks = order["blocks"]
    lists: dict[int, list] = {}
    for number, (block, _, lines) in enumerate(blocks):
        if block.kind != "li":
            continue
        # An item broken across pages keeps at least two lines on each.
        pages = [line[0].page for line in lines]
        for page in set(pages):
            assert pages.count(page) >= 2 or len(lines) == 1, (block.text[:60], pages)
        if block.list_index not in lists:
            lead_in = blocks[number - 1][2]
            assert lead_in[-1][0].page == lines[0][0].page, (
                f"the lead-in «{blocks[number - 1][0].text[:60]}…» ends a page alone"
            )
        lists.setdefault(block.list_index, []).append(lines)
    for index, items in lists.items():
        pages = [line[0].page for lines in items for line in lines]
        first_item_lines = len(items[0])
        last_item_lines = len(items[-1])
        # Neither the first item alone at the bottom of a page nor the last alone on the next.
        assert pages[first_item_lines - 1] == pages[first_item_lines], (index, pages)
        assert pages[-last_item_lines] == pages[-last_item_lines - 1], (index, pages)
