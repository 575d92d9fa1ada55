"""The dashboard's link to the approved regulation's PDF says what it opens (issue 21): the
regulation under its approval stamp (with the blank sheet), not an order, which the portal
does not draw up."""

from __future__ import annotations

import re

from django.urls import reverse

from tests.helpers import pdf_text

LABEL = "Положение с отметкой об утверждении (PDF)"


def test_the_dashboard_names_the_regulation_pdf_for_what_it_is(client, director, regulation):
    client.force_login(director)
    page = client.get(reverse("dashboard")).content.decode()
    target = reverse("regulation_order_pdf")
    links = re.findall(rf'<a [^>]*href="{re.escape(target)}"[^>]*>(.*?)</a>', page)
    assert links == [LABEL]
    assert "Приказ (PDF)" not in page
    # What it opens: the regulation's title under the approval stamp.
    response = client.get(target)
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "УТВЕРЖДАЮ" in text.upper() and "Положение" in text


def test_the_regulations_buttons_wrap_with_a_gap_between_them(client, director, regulation):
    """On a phone the three buttons wrap onto lines of their own; in a flex row with a gap they
    no longer touch (they sat line on line before)."""
    client.force_login(director)
    page = client.get(reverse("dashboard")).content.decode()
    row = re.search(r'<div class="([^"]*)" data-dashboard-actions>(.*?)</div>', page, re.S)
    assert row is not None
    assert set(row.group(1).split()) == {"d-flex", "flex-wrap", "gap-2"}
    assert re.findall(r"<a [^>]*>(.*?)</a>", row.group(2)) == [
        "Кто не ознакомился",
        LABEL,
        "Лист ознакомления (PDF)",
    ]
