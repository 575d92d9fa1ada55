"""A long sheet is stored in parts: one confirmation re-renders one part, pages stay numbered."""

from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from acknowledgements import documents, sheet
from acknowledgements.services import acknowledgement_confirm
from tests.acknowledgements.builders import fetch_sheet
from tests.factories import PASSWORD, UserFactory
from tests.helpers import pdf_reader


@pytest.fixture
def long_sheet(organisation, regulation, monkeypatch):
    """35 more readers and parts of 10 rows: the sheet comes in 4 parts (37 readers)."""
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
    people = [
        UserFactory(
            organisation=organisation,
            last_name=f"Участникова{n:02d}",
            first_name="Вера",
            roles=["teacher"],
        )
        for n in range(35)
    ]
    return people


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pdf_reader(pdf).pages]


def test_every_name_is_there_once_and_in_order(client, director, long_sheet, admin, teacher):
    client.force_login(director)
    pdf = fetch_sheet(client, reverse("regulation_sheet_pdf")).content
    text = " ".join(" ".join(pages_text(pdf)).split())
    names = [p.full_name for p in long_sheet] + [admin.full_name, teacher.full_name]
    for name in names:
        assert text.count(name) == 1, name
    positions = [text.index(p.full_name) for p in long_sheet]
    assert positions == sorted(positions)
    assert text.count("Лист ознакомления") == 1  # the title block is on the first part only


def test_pages_are_numbered_on_across_parts_from_page_two(client, director, long_sheet):
    client.force_login(director)
    pages = pages_text(fetch_sheet(client, reverse("regulation_sheet_pdf")).content)
    assert len(pages) >= 4  # each part starts on its own page
    # pypdf reads the top-centre margin box after the page's body: its last line.
    numbers = [page.strip().splitlines()[-1].strip() for page in pages]
    assert numbers[0] != "1"
    assert numbers[1:] == [str(n) for n in range(2, len(pages) + 1)]


def test_one_confirmation_re_renders_one_part(client, director, long_sheet, regulation):
    # Someone confirmed online already: the footnote of that basis is under the last part, so
    # a confirmation on the same basis changes only the part its row is in.
    acknowledgement_confirm(
        version=regulation, person=long_sheet[0], password=PASSWORD, ip_address=None,
        user_agent="",
    )  # fmt: skip
    client.force_login(director)
    fetch_sheet(client, reverse("regulation_sheet_pdf"))  # every part rendered and stored
    with mock.patch.object(sheet, "render_part", wraps=sheet.render_part) as spy:
        fetch_sheet(client, reverse("regulation_sheet_pdf"))
        assert spy.call_count == 0
        person = long_sheet[17]
        acknowledgement_confirm(
            version=regulation, person=person, password=PASSWORD, ip_address=None, user_agent=""
        )
        pdf = fetch_sheet(client, reverse("regulation_sheet_pdf")).content
        assert spy.call_count == 1
    text = " ".join(" ".join(pages_text(pdf)).split())
    today = f"{timezone.localdate():%d.%m.%Y}"
    assert f"{person.full_name} {today}" in text


def test_the_first_confirmation_on_a_new_basis_re_renders_its_part_and_the_last(
    client, director, long_sheet, regulation
):
    client.force_login(director)
    fetch_sheet(client, reverse("regulation_sheet_pdf"))
    with mock.patch.object(sheet, "render_part", wraps=sheet.render_part) as spy:
        acknowledgement_confirm(
            version=regulation, person=long_sheet[17], password=PASSWORD, ip_address=None,
            user_agent="",
        )  # fmt: skip
        pdf = fetch_sheet(client, reverse("regulation_sheet_pdf")).content
        # Its row's part and the last, which now carries the footnote of the basis.
        assert spy.call_count == 2
    text = " ".join(" ".join(pages_text(pdf)).split())
    assert "* Подтверждено в портале паролем работника, до принятия им соглашения" in text
