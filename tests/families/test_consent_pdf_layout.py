"""The consent's opening paragraphs are a form, set ragged right and never hyphenated: a
justified form spread «являясь законным представителем ребёнка: Кузнецов Максим» across the
line with gaps of a centimetre and broke «(фа-милия». «№» stays on the line of its number or its
blank. The terms after them stay justified (the order's layout tests measure that text).
Measured on the real PDFs, blank and filled, as poppler reads them."""

from __future__ import annotations

import itertools

import pytest
from django.urls import reverse

from tests.documents.measure import HYPHEN, MM, lines_of
from tests.families.builders import give_consent
from tests.helpers import pdf_words

# One space of the consent's 14 pt serif is about 1.2 mm; a justified line of the old form
# stretched them to 11 mm.
MAX_FORM_GAP = 2 * MM


def form_lines(pdf: bytes) -> list[list]:
    """The first page's lines from the title to the terms («Цель обработки:»)."""
    lines = lines_of(pdf_words(pdf)[0])
    end = next(i for i, line in enumerate(lines) if line[0].text == "Цель")
    return lines[:end]


@pytest.fixture
def blank(client, admin):
    client.force_login(admin)
    response = client.get(reverse("consent_text") + "?format=pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    return response.content


@pytest.fixture
def for_a_child(client, parent, student):
    client.force_login(parent)
    response = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    assert response.status_code == 200
    return response.content


@pytest.fixture
def filled(client, parent, student):
    give_consent(parent, student)
    client.force_login(parent)
    response = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    assert response.status_code == 200
    return response.content


@pytest.mark.parametrize("document", ["blank", "for_a_child", "filled"])
def test_the_forms_lines_are_ragged_right_unhyphenated_and_keep_numbers_whole(
    db, request, document
):
    lines = form_lines(request.getfixturevalue(document))
    assert len(lines) >= 8, [" ".join(w.text for w in line) for line in lines]
    gaps = [
        (b.x0 - a.x1, " ".join(w.text for w in line))
        for line in lines[1:]  # the title is centred on its own
        for a, b in itertools.pairwise(line)
    ]
    widest, where = max(gaps)
    assert widest < MAX_FORM_GAP, f"a {widest / MM:.1f} mm gap in: {where}"
    hyphenated = [line[-1].text for line in lines if line[-1].text.endswith(HYPHEN)]
    assert hyphenated == []
    alone = [" ".join(w.text for w in line) for line in lines if line[-1].text == "№"]
    assert alone == []
