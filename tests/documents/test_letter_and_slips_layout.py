"""The appointment letter and the invitation slips as printed, measured from the PDF."""

from __future__ import annotations

import re

from cdt_portal.pdf import render_pdf
from onboarding.documents import letter_context
from onboarding.models import RegistrationRequest
from tests.documents.builders import demo_letter, demo_slips
from tests.documents.measure import A4_HEIGHT, A4_WIDTH, MM, drawings, lines_of, text_runs
from tests.helpers import pdf_words

LEFT_MARGIN = 30 * MM


# --- the appointment letter ------------------------------------------------------------------


def test_the_executor_is_at_the_bottom_left_of_the_last_page(db):
    """ГОСТ Р 7.0.97: «Исп.» (the executor and their phone) at the bottom left of the last page,
    not under the signature in the middle of the page."""
    pages = pdf_words(demo_letter())
    last = pages[-1]
    (line,) = [line for line in lines_of(last) if line[0].text == "Исп.:"]
    assert (
        " ".join(w.text for w in line) == "Исп.: Захарова Ольга Викторовна, тел. +7 912 345-67-89"
    )
    assert abs(line[0].x0 - LEFT_MARGIN) < 0.5, line[0].x0 / MM
    from_bottom = A4_HEIGHT - line[0].y1
    assert 20 * MM <= from_bottom <= 40 * MM, f"{from_bottom / MM:.1f} mm from the bottom edge"
    # It is the lowest text of the page: nothing under it.
    assert all(word.y0 <= line[0].y0 + 0.5 for word in last)
    for page in pages[:-1]:
        assert not any(w.text == "Исп.:" for w in page)


def test_the_letterhead_prints_only_the_contacts_it_has(db):
    """The letterhead, above its rule, prints the contacts the organisation has and no label
    without its value (rendered from the template: the portal refuses to make a letter
    without them, a template must still not print «e-mail:» with nothing after it)."""
    demo_letter()
    registration = RegistrationRequest.objects.get(organisation__slug="cdt")
    organisation = registration.organisation
    organisation.address = ""
    organisation.email = ""
    organisation.save()
    data = render_pdf("pdf/appointment_letter.html", letter_context(registration), filename="")[1]
    (page,) = pdf_words(data)
    # The letterhead's 1.5 pt rule: WeasyPrint paints a thick border as the band between two
    # page-wide rectangles.
    rule = min(box.y1 for box in drawings(data)[0].boxes if box.x1 - box.x0 > 400)
    letterhead = [
        " ".join(w.text for w in line) for line in lines_of(w for w in page if w.y1 < rule)
    ]
    assert letterhead == [
        "Муниципальное казённое учреждение дополнительного образования",
        "«Центр детского творчества»",
        "(МКУ ДО «ЦДТ»)",
        "тел. +7 345 212-34-56",
    ]


# --- the invitation slips --------------------------------------------------------------------


def slip_boxes(data: bytes) -> list[list[tuple[float, float, float, float]]]:
    """Every page's slips as (left, top, right, bottom): the strip above each dashed cut line,
    from the previous cut line (or the top margin) down to it."""
    pages = []
    for drawing in drawings(data):
        top, boxes = 20 * MM, []
        for y, left, right in drawing.dashed_lines():
            boxes.append((left, top, right, y))
            top = y
        pages.append(boxes)
    return pages


def test_every_word_of_every_slip_lies_inside_it(db):
    issued, data = demo_slips(6)
    boxes, pages = slip_boxes(data), pdf_words(data)
    assert sum(len(page) for page in boxes) == 6
    for number, (page_boxes, words) in enumerate(zip(boxes, pages, strict=True), start=1):
        for word in (w for w in words if w.y0 >= 20 * MM):  # the page number stands above
            inside = [
                box
                for box in page_boxes
                if box[0] <= word.x0 and word.x1 <= box[2] and box[1] <= word.y0
                and word.y1 <= box[3]
            ]  # fmt: skip
            assert inside, (
                f"page {number}: «{word.text}» ({word.x0:.1f}–{word.x1:.1f}) is off a slip"
            )
            assert word.x0 >= 10 * MM and A4_WIDTH - word.x1 >= 10 * MM, (
                f"«{word.text}» is {(A4_WIDTH - word.x1) / MM:.1f} mm from the paper's edge"
            )
    # Each slip carries its whole link (wrapped at a slash), its name and its sign-in.
    slips = [
        " ".join(w.text for w in words if box[1] <= w.y0 and w.y1 <= box[3])
        for page_boxes, words in zip(boxes, pages, strict=True)
        for box in page_boxes
    ]
    for item, text in zip(issued, slips, strict=True):
        assert item.invitation.user.full_name in text
        assert f"Имя для входа: {item.invitation.user.username}" in text
        link = re.search(r"https://\S+/invite/\d+/ ?[0-9a-f]+/", text).group(0)
        assert link.replace(" ", "") == item.url


def test_the_slips_text_is_at_least_12_pt(db):
    _, data = demo_slips(6)
    sizes = {run.size for page in text_runs(data) for run in page}
    assert min(sizes) >= 12, sorted(sizes)
