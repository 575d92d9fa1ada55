"""The approved order and the acknowledgement sheet as real PDFs, read back with pypdf.

Nothing here mocks WeasyPrint: every PDF is rendered, served through the views and parsed.
The expected names and headings come from the institution's own seed file in shared/,
parsed here independently of the app's parser.
"""

from __future__ import annotations

import re
import zoneinfo
from unittest import mock

import pytest
from django.utils import timezone

from accounts.models import Role, User
from acknowledgements import documents, sheet
from acknowledgements.models import REGULATION_CODE, Acknowledgement, DocumentVersion
from acknowledgements.selectors import current_version
from acknowledgements.services import acknowledgement_confirm
from portal.demo import load_demo
from tests.acknowledgements.builders import fetch_sheet
from tests.factories import PASSWORD, UserFactory
from tests.helpers import DEMO_PASSWORD, filename_of, no_spaces, pdf_reader, pdf_text, squash
from tests.seed import shared_seed_text

SECTION_HEADING = re.compile(r"^(\d+)\.\s+([А-ЯЁ].*)$")
A4 = (595.28, 841.89)  # points


# --- reading the seed, independently of the app -------------------------------------------


def seed_text() -> str:
    return shared_seed_text()


def seed_names() -> list[str]:
    """The 14 people on the seed's «Лист ознакомления», in the seed's order."""
    seed_sheet = seed_text().split("Лист ознакомления", 1)[1]
    names = [m.group(1).strip() for m in re.finditer(r"^\d+\.\t([^\t\n]+)", seed_sheet, re.M)]
    assert len(names) == 14, names
    return names


def seed_headings() -> list[str]:
    """«1. Общие положения» … «6. Техническая поддержка платформы»."""
    body = seed_text().split("Лист ознакомления", 1)[0]
    headings = []
    for line in body.splitlines():
        match = SECTION_HEADING.match(line.strip())
        if match:
            headings.append(f"{match.group(1)}. {squash(match.group(2))}")
    assert len(headings) == 6, headings
    return headings


def russian_order(names: list[str]) -> list[str]:
    """Alphabetical as in Russian lists: «ё» sorts with «е»."""
    return sorted(names, key=lambda name: name.lower().replace("ё", "е"))


# --- reading PDFs -----------------------------------------------------------------------------


def font_names(data: bytes) -> set[str]:
    names = set()
    for page in pdf_reader(data).pages:
        fonts = page["/Resources"].get_object()["/Font"].get_object()
        for font in fonts.values():
            names.add(str(font.get_object()["/BaseFont"]))
    return names


def row_of(text: str, full_name: str) -> str:
    """What follows a person's name on the sheet, up to the next row's number."""
    match = re.search(re.escape(full_name) + r"(.*?)(?= \d+\. |$)", text)
    assert match, f"{full_name} is not on the sheet"
    return match.group(1)


def moscow_today() -> str:
    return f"{timezone.localdate(timezone=zoneinfo.ZoneInfo('Europe/Moscow')):%d.%m.%Y}"


def get_pdf(client, url: str):
    response = fetch_sheet(client, url) if "sheet.pdf" in url else client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return response


@pytest.fixture
def demo(db):
    from acknowledgements.models import AGREEMENT_CODE
    from acknowledgements.services import acknowledgement_confirm

    organisation = load_demo()
    # The demo teacher has accepted the demo's agreement on the простая электронная подпись:
    # online confirmations here rest on it.
    acknowledgement_confirm(
        version=current_version(organisation, AGREEMENT_CODE),
        person=User.objects.get(username="teacher"),
        password=DEMO_PASSWORD,
        ip_address=None,
        user_agent="",
    )
    return {
        "organisation": organisation,
        "version": current_version(organisation, REGULATION_CODE),
        "director": User.objects.get(username="director"),
        "teacher": User.objects.get(username="teacher"),
        "admin": User.objects.get(username="admin"),
    }


# --- 1. the demo's sheet -------------------------------------------------------------------


def test_demo_sheet_lists_the_seeds_fourteen_people_alphabetically(client, demo):
    client.force_login(demo["director"])
    text = pdf_text(get_pdf(client, "/regulation/sheet.pdf").content)

    assert "Лист ознакомления" in text
    assert "№ 201-О" in text
    assert "30.11.2023" in text
    names = seed_names()
    for name in names:
        assert name in text, name
    expected = russian_order(names)
    positions = [text.index(name) for name in expected]
    assert positions == sorted(positions), "the sheet is not in Russian alphabetical order"
    for number, name in enumerate(expected, start=1):
        assert f"{number}. {name}" in text, f"row {number} should be {name}"
    assert "подтверждено в портале" not in text  # nobody has confirmed yet


def test_the_sheet_starts_on_its_first_page(client, demo):
    """The sheet on its own is one A4 page for 14 people, headed by the institution's name:
    its title must not be pushed to a second page."""
    client.force_login(demo["director"])
    pages = pdf_reader(get_pdf(client, "/regulation/sheet.pdf").content).pages
    first_page = squash(pages[0].extract_text())
    assert "Лист ознакомления" in first_page, f"page 1 holds only: {first_page!r}"
    assert f"1. {russian_order(seed_names())[0]}" in first_page


def test_yo_sorts_with_ye_on_the_sheet(client, regulation, director, admin, teacher):
    organisation = regulation.document.organisation
    UserFactory(
        organisation=organisation, roles=[Role.TEACHER], last_name="Астахова",
        first_name="Вера", patronymic="Павловна",
    )  # fmt: skip
    UserFactory(
        organisation=organisation, roles=[Role.TEACHER], last_name="Ёлкина",
        first_name="Елена", patronymic="Петровна",
    )  # fmt: skip
    UserFactory(
        organisation=organisation, roles=[Role.TEACHER], last_name="Жукова",
        first_name="Алёна", patronymic="Игоревна",
    )  # fmt: skip
    client.force_login(director)
    text = pdf_text(get_pdf(client, "/regulation/sheet.pdf").content)
    for number, name in enumerate(
        [
            "Астахова Вера Павловна",
            "Ёлкина Елена Петровна",  # as «Елкина»: after «А», before «Ж», not after «Я»
            "Жукова Алёна Игоревна",
            admin.full_name,  # Захарова
            teacher.full_name,  # Иванова
        ],
        start=1,
    ):
        assert f"{number}. {name}" in text, f"row {number} should be {name}"


# --- 2. an online confirmation on the sheet; the blank sheet ---------------------------------


def test_an_online_confirmation_puts_todays_date_on_that_row_only(client, demo):
    version, teacher = demo["version"], demo["teacher"]
    client.force_login(teacher)
    response = client.post(
        f"/regulation/versions/{version.pk}/confirm/",
        {"read": "on", "password": DEMO_PASSWORD},
    )
    assert response.status_code == 302
    assert Acknowledgement.objects.filter(version=version, person=teacher).count() == 1

    today = moscow_today()
    client.force_login(demo["director"])
    text = pdf_text(get_pdf(client, "/regulation/sheet.pdf").content)
    teacher_row = row_of(text, teacher.full_name)
    assert today in teacher_row
    assert "подтверждено в портале" in teacher_row
    others = [name for name in seed_names() if name != teacher.full_name]
    for name in others:
        assert today not in row_of(text, name), name
    assert text.count("подтверждено в портале") == 1

    blank = pdf_text(get_pdf(client, "/regulation/sheet.pdf?blank=1").content)
    assert today not in blank
    assert "подтверждено в портале" not in blank
    for name in seed_names():
        assert name in blank, name


# --- 3. the approved order -------------------------------------------------------------------


def test_demo_order_has_the_stamp_every_section_and_the_sheet(client, demo):
    client.force_login(demo["director"])
    data = get_pdf(client, "/regulation/order.pdf").content
    text = pdf_text(data)

    for line in (
        "УТВЕРЖДАЮ",
        "Директор МКУ ДО «ЦДТ»",
        "О.Б. Денисенко",
        "Приказ от 30.11.2023 г. № 201-О",
    ):
        assert line in text, line
    headings = seed_headings()
    positions = []
    for heading in headings:
        assert heading in text, heading
        positions.append(text.index(heading))
    assert positions == sorted(positions)
    assert "Лист ознакомления" in text
    sheet_part = text[text.rindex(headings[-1]) :]
    assert "Лист ознакомления" in sheet_part  # the sheet comes after the text
    for name in seed_names():
        assert name in sheet_part, name
    # In the order the sheet begins a page of its own, after the text.
    pages = [squash(page.extract_text()) for page in pdf_reader(data).pages]
    sheet_pages = [i for i, page in enumerate(pages) if "Лист ознакомления" in page]
    assert sheet_pages and sheet_pages[0] > 0
    assert pages[sheet_pages[0]].startswith("Лист ознакомления"), pages[sheet_pages[0]][:200]


def test_the_stored_order_is_served_as_rendered_at_approval(client, demo):
    version, teacher = demo["version"], demo["teacher"]
    with version.order_pdf.open("rb") as stored:
        at_approval = stored.read()
    assert at_approval.startswith(b"%PDF")

    client.force_login(demo["director"])
    with mock.patch.object(documents, "render_order", wraps=documents.render_order) as spy:
        first = get_pdf(client, "/regulation/order.pdf").content
        second = get_pdf(client, f"/regulation/versions/{version.pk}/order.pdf").content
        acknowledgement_confirm(
            version=version, person=teacher, password=DEMO_PASSWORD, ip_address=None,
            user_agent="test",
        )  # fmt: skip
        after_confirmation = get_pdf(client, "/regulation/order.pdf").content
    assert first == second == at_approval == after_confirmation
    assert spy.call_count == 0
    assert "подтверждено в портале" not in pdf_text(after_confirmation)


# --- 4. filenames ----------------------------------------------------------------------------


def test_both_pdfs_carry_a_russian_filename(client, regulation, director):
    client.force_login(director)
    sheet_name = filename_of(get_pdf(client, "/regulation/sheet.pdf"))
    assert "Лист ознакомления" in sheet_name
    assert "201-О" in sheet_name
    assert sheet_name.endswith(".pdf")
    blank_name = filename_of(get_pdf(client, "/regulation/sheet.pdf?blank=1"))
    assert "Лист ознакомления" in blank_name and blank_name != sheet_name
    order_name = filename_of(get_pdf(client, "/regulation/order.pdf"))
    assert "Приказ" in order_name
    assert "№ 201-О" in order_name and "30.11.2023" in order_name
    assert order_name.endswith(".pdf")


# --- 5. the sheet is rendered again only when it changed -------------------------------------


def test_the_sheet_is_rendered_again_only_when_it_changed(
    client, regulation, director, admin, teacher
):
    """A spy on the real renderer: it counts the renders and still renders every time."""

    def confirm(person):
        acknowledgement_confirm(
            version=regulation, person=person, password=PASSWORD, ip_address="127.0.0.1",
            user_agent="test",
        )  # fmt: skip

    today = moscow_today()
    client.force_login(director)
    confirm(teacher)
    with mock.patch.object(sheet, "render_part", wraps=sheet.render_part) as spy:
        first = get_pdf(client, "/regulation/sheet.pdf").content
        second = get_pdf(client, "/regulation/sheet.pdf").content
        assert spy.call_count == 1
        assert first == second
        assert today in row_of(pdf_text(first), teacher.full_name)

        # The blank sheet is a document of its own, stored on its own.
        blank = get_pdf(client, "/regulation/sheet.pdf?blank=1").content
        assert spy.call_count == 2
        assert spy.call_args.kwargs["blank"] is True
        assert get_pdf(client, "/regulation/sheet.pdf?blank=1").content == blank
        assert spy.call_count == 2
        assert today not in pdf_text(blank)

        confirm(admin)
        changed = get_pdf(client, "/regulation/sheet.pdf").content
        assert spy.call_count == 3
        assert changed != first
        assert today in row_of(pdf_text(changed), admin.full_name)
        assert get_pdf(client, "/regulation/sheet.pdf").content == changed
        assert spy.call_count == 3

        # Nobody's confirmation shows on the blank sheet, so it is not rendered again.
        assert get_pdf(client, "/regulation/sheet.pdf?blank=1").content == blank
        assert spy.call_count == 3


# --- 6. hostile names ------------------------------------------------------------------------

HOSTILE = {
    "last_name": "О'Нил-Сапёлкина",
    "first_name": "<script>alert(1)</script>",
    "patronymic": "Ёжиковна",
}


def test_hostile_names_print_as_text_and_are_escaped_in_html(client, regulation, director, admin):
    organisation = regulation.document.organisation
    UserFactory(organisation=organisation, roles=[Role.TEACHER], **HOSTILE)

    client.force_login(director)
    text = pdf_text(get_pdf(client, "/regulation/sheet.pdf").content)
    assert "О'Нил-Сапёлкина" in text
    assert "Ёжиковна" in text
    # The narrow name column may wrap «</script>» after «</»; the characters are all there.
    assert "<script>alert(1)</script>" in no_spaces(text)
    assert no_spaces("О'Нил-Сапёлкина <script>alert(1)</script> Ёжиковна") in no_spaces(text)

    client.force_login(admin)
    response = client.get("/regulation/acknowledgements/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "Ёжиковна" in html


# --- 7. fonts; 8. page size ------------------------------------------------------------------


def test_the_pdfs_use_an_embedded_serif_that_has_every_cyrillic_glyph(client, demo):
    client.force_login(demo["director"])
    for url in ("/regulation/sheet.pdf", "/regulation/order.pdf"):
        data = get_pdf(client, url).content
        fonts = font_names(data)
        assert fonts, url
        for font in fonts:
            assert any(serif in font for serif in ("Serif", "Times", "Tinos")), (url, font)
        raw = " ".join(page.extract_text() for page in pdf_reader(data).pages)
        assert "\ufffd" not in raw, url
        text = squash(raw)
        for name in seed_names():  # ё, й, ь, ы … all come back as the same characters
            assert name in text, (url, name)


def test_pdfs_are_a4_and_the_order_runs_over_several_pages(client, demo):
    client.force_login(demo["director"])
    for url in ("/regulation/sheet.pdf", "/regulation/order.pdf"):
        pages = pdf_reader(get_pdf(client, url).content).pages
        for number, page in enumerate(pages, start=1):
            box = page.mediabox
            size = (float(box.width), float(box.height))
            assert size == pytest.approx(A4, abs=1.0), (url, number, size)
    assert len(pdf_reader(get_pdf(client, "/regulation/order.pdf").content).pages) > 1


# --- 9. who may download them ----------------------------------------------------------------


def test_only_managers_of_the_organisation_get_the_pdfs(
    client, regulation, director, admin, teacher, student, parent, outsider
):
    own_urls = [
        "/regulation/sheet.pdf",
        "/regulation/sheet.pdf?blank=1",
        "/regulation/order.pdf",
        f"/regulation/versions/{regulation.pk}/sheet.pdf",
        f"/regulation/versions/{regulation.pk}/order.pdf",
    ]
    for person in (student, parent, teacher):
        client.force_login(person)
        for url in own_urls:
            assert client.get(url).status_code == 403, (person.username, url)

    client.force_login(outsider)  # a director and administrator, of another organisation
    for url in own_urls[3:]:
        assert client.get(url).status_code == 404, url

    client.force_login(director)
    get_pdf(client, f"/regulation/versions/{regulation.pk}/order.pdf")
    client.force_login(admin)
    get_pdf(client, f"/regulation/versions/{regulation.pk}/order.pdf")

    client.logout()
    response = client.get("/regulation/order.pdf")
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_draft_has_neither_order_nor_sheet(client, draft_version, director):
    client.force_login(director)
    for url in (
        f"/regulation/versions/{draft_version.pk}/order.pdf",
        f"/regulation/versions/{draft_version.pk}/sheet.pdf",
    ):
        assert client.get(url).status_code == 404, url
    assert not DocumentVersion.objects.get(pk=draft_version.pk).order_pdf
