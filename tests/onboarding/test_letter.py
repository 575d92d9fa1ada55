"""The appointment letter as a real PDF: made by the admin's clicks, served to the managers,
read back with pypdf. Nothing here mocks WeasyPrint."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from cdt_portal.audit import history
from onboarding.models import RegistrationRequest, RequestStatus
from tests.helpers import filename_of, pdf_text

FULL_NAME = (
    "Муниципальное казённое учреждение дополнительного образования «Центр детского творчества»"
)
ADDRESS = "г. Тюмень, ул. Примерная, д. 1"
ORG_PHONE = "+7 3452 12-34-56"
ORG_EMAIL = "cdt@example.ru"
APPOINTEE = "Захарова Ольга Викторовна"
POSITION = "педагог дополнительного образования"
PHONE = "+7 912 345-67-89"
NEW_PHONE = "+7 922 000-11-22"
LETTER_URL = "/onboarding/request/letter.pdf"


@pytest.fixture
def letterhead(organisation):
    organisation.full_name = FULL_NAME
    organisation.address = ADDRESS
    organisation.phone = ORG_PHONE
    organisation.email = ORG_EMAIL
    organisation.save()
    return organisation


def post_ok(client, url: str, data: dict | None = None) -> None:
    response = client.post(url, data or {})
    assert response.status_code == 302, (url, response.status_code)
    assert response["Location"] == "/onboarding/request/", response["Location"]


def prepare_letter(client, admin, *, full_name: str = APPOINTEE, phone: str = PHONE):
    client.force_login(admin)
    post_ok(client, "/onboarding/request/start/")
    post_ok(
        client,
        "/onboarding/request/details/",
        {"full_name": full_name, "position": POSITION, "phone": phone},
    )
    post_ok(client, "/onboarding/request/letter/")
    registration = RegistrationRequest.objects.get(organisation=admin.organisation)
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    assert registration.letter_pdf
    client.logout()
    return registration


def get_letter(client, person):
    client.force_login(person)
    response = client.get(LETTER_URL)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    return response


def test_the_letter_is_on_the_letterhead_and_names_the_appointee(
    client, letterhead, admin, director
):
    prepare_letter(client, admin)
    response = get_letter(client, director)
    text = pdf_text(response.content)

    assert FULL_NAME in text
    assert ADDRESS in text
    # The institution's phone, however libphonenumber groups a landline's digits.
    assert "тел. +73452123456" in re.sub(r"(?<=[\d+])[ -](?=\d)", "", text)
    assert ORG_EMAIL in text
    assert "О назначении администратора ИКОП «Сферум»" in text
    assert APPOINTEE in text
    assert POSITION in text
    assert PHONE in text  # international format, as Sferum's support reads it
    assert "+79123456789" not in text
    assert "М.П." in text
    assert letterhead.head_name == "И.И. Иванов"
    assert "И.И. Иванов" in text
    assert "Директор" in text
    assert "info@sferum.ru" in text

    name = filename_of(response)
    assert name.endswith(".pdf")
    assert "Письмо о назначении администратора" in name
    assert "МКУ ДО «ЦДТ»" in name
    assert response["Content-Disposition"].startswith("inline")


def test_the_admin_also_downloads_the_letter(client, letterhead, admin):
    prepare_letter(client, admin)
    assert APPOINTEE in pdf_text(get_letter(client, admin).content)


def test_the_stored_letter_does_not_change_on_repeated_downloads(
    client, letterhead, admin, director
):
    registration = prepare_letter(client, admin)
    first = get_letter(client, director).content
    second = get_letter(client, director).content
    assert first == second

    # The letter is what was printed: a later change of the letterhead does not alter it.
    letterhead.address = "г. Тюмень, ул. Другая, д. 99"
    letterhead.save()
    third = get_letter(client, director).content
    assert third == first
    assert ADDRESS in pdf_text(third)
    assert "ул. Другая" not in pdf_text(third)
    registration.refresh_from_db()
    with registration.letter_pdf.open("rb") as stored:
        assert stored.read() == first


def test_editing_details_on_a_letter_awaiting_signature_makes_it_anew(
    client, letterhead, admin, director
):
    registration = prepare_letter(client, admin)
    old_name = registration.letter_pdf.name
    before = get_letter(client, director).content
    assert PHONE in pdf_text(before)
    entries_before = history(registration).count()

    client.force_login(admin)
    post_ok(
        client,
        "/onboarding/request/details/",
        {"full_name": APPOINTEE, "position": POSITION, "phone": NEW_PHONE},
    )

    registration.refresh_from_db()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    assert registration.letter_pdf.name != old_name
    after = get_letter(client, director).content
    assert after != before
    text = pdf_text(after)
    assert NEW_PHONE in text
    assert PHONE not in text

    entries = history(registration)
    assert entries.count() == entries_before + 1
    last = entries.last()
    assert last.action == "request.details.changed"
    assert last.data == {
        "admin_phone": [PHONE, NEW_PHONE],
        "comment": "письмо сформировано заново",
    }
    assert last.actor == admin


def test_editing_details_on_a_draft_makes_no_letter(client, letterhead, admin):
    client.force_login(admin)
    post_ok(client, "/onboarding/request/start/")
    post_ok(
        client,
        "/onboarding/request/details/",
        {"full_name": APPOINTEE, "position": POSITION, "phone": PHONE},
    )
    registration = RegistrationRequest.objects.get(organisation=letterhead)
    assert registration.status == RequestStatus.DRAFT
    assert not registration.letter_pdf
    assert client.get(LETTER_URL).status_code == 404


def test_a_name_with_yo_hyphen_apostrophe_and_markup_is_printed_literally(
    client, letterhead, admin, director
):
    name = "О'Нил-Сапёлкина <script>x</script> Ёлка"
    prepare_letter(client, admin, full_name=name)
    text = pdf_text(get_letter(client, director).content)
    assert name in text
    assert "&lt;" not in text and "&#x27;" not in text and "&#39;" not in text


@pytest.mark.parametrize("persona", ["student", "parent", "teacher"])
def test_families_and_teachers_may_not_open_the_letter(client, request, letterhead, admin, persona):
    prepare_letter(client, admin)
    client.force_login(request.getfixturevalue(persona))
    response = client.get(LETTER_URL)
    assert response.status_code == 403
    assert not response.content.startswith(b"%PDF")


def test_another_organisations_administrator_does_not_get_the_letter(
    client, letterhead, admin, outsider
):
    prepare_letter(client, admin)
    client.force_login(outsider)
    response = client.get(LETTER_URL)
    assert response.status_code == 404
    assert not response.content.startswith(b"%PDF")


def test_anonymous_visitors_are_sent_to_the_login_page(client, letterhead, admin):
    prepare_letter(client, admin)
    response = client.get(LETTER_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "next=/onboarding/request/letter.pdf" in unquote(response["Location"])
