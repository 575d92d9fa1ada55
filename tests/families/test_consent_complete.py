"""The consent to personal-data processing is complete (152-ФЗ ст. 9 ч. 4): the parent fills it
online (validated), sees what follows and confirms; prints it filled or blank; withdraws after
a confirmation page; the administrator records paper acts with their date; the teacher sees
the state, not the data; another organisation's record is 404."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from families.models import ConsentDetails, ConsentRecord
from families.services import consent_give, consent_record_paper, consent_withdraw
from tests.factories import PASSWORD
from tests.families.builders import CERTIFICATE_ISSUED, CHILD_BORN, give_consent
from tests.families.builders import FILLED_CONSENT as FILLED
from tests.helpers import pdf_text as raw_pdf_text


def pdf_text(data: bytes) -> str:
    """The PDF's text with WeasyPrint's automatic hyphenation joined back."""
    return raw_pdf_text(data).replace("\u2010 ", "")


def details_dict() -> dict:
    data = dict(FILLED, id_series="28 12", authority_series="I-ОН")
    for key in ("id_issued_on", "child_birth_date", "authority_issued_on"):
        data[key] = dt.date.fromisoformat(data[key])
    return data


@pytest.fixture
def located(organisation):
    organisation.address = "170100, г. Тверь, ул. Трёхсвятская, д. 1"
    organisation.email = "cdt@example.ru"
    organisation.save()
    return organisation


def test_the_parent_fills_confirms_and_the_record_keeps_every_element(
    client, parent, student, located
):
    client.force_login(parent)
    url = reverse("consent_give", kwargs={"pk": student.pk})
    assert client.get(url).status_code == 200
    # A valid form shows the filled consent and what follows; nothing is stored yet.
    preview = client.post(url, FILLED)
    assert preview.status_code == 200
    page = preview.content.decode()
    assert "Что будет дальше." in page and "Подтверждаю: даю согласие" in page
    assert "серия 28 12 №&nbsp;345678" in page
    assert not ConsentRecord.objects.exists()

    before = AuditEntry.objects.count()
    response = client.post(
        url, {**FILLED, "id_series": "28 12", "confirm": "1", "password": PASSWORD, "terms": "on"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    record = ConsentRecord.objects.get()
    assert (record.parent, record.student, record.action) == (parent, student, "given")
    details = ConsentDetails.objects.get(record=record)
    assert details.method == "online" and details.signed_on == timezone.localdate()
    assert details.id_series == "28 12" and details.id_number == "345678"
    assert details.authority_series == "I-ОН"
    assert details.recorded_by is None
    assert AuditEntry.objects.count() == before + 1
    entry = AuditEntry.objects.order_by("-pk").first()
    assert entry.action == "consent.given" and entry.actor_id == parent.pk
    assert entry.content_type == ContentType.objects.get_for_model(ConsentRecord)
    assert entry.object_id == str(record.pk)
    assert entry.data["method"] == "online"
    # The log names the act, not the personal data.
    assert "345678" not in str(entry.data) and "Советская" not in str(entry.data)


def test_the_filled_pdf_contains_every_element_of_article_9_and_good_grammar(
    client, parent, student, located
):
    give_consent(parent, student, details=details_dict())
    client.force_login(parent)
    response = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    for element in (
        # the parent: name, address, identity document
        "Кузнецова Елена Викторовна",
        "г. Тверь, ул. Советская, д. 5, кв. 12",
        "паспорт гражданина Российской Федерации, серия 28 12 № 345678",
        "дата выдачи 17.03.2015",
        "УМВД России по Тверской области",
        # the child and the document proving authority
        "Кузнецов Максим Андреевич",
        f"дата рождения {CHILD_BORN:%d.%m.%Y}",
        f"свидетельство о рождении, серия I-ОН № 654321 от {CERTIFICATE_ISSUED:%d.%m.%Y}",
        "Отдел ЗАГС администрации г. Твери",
        # the operator: full name and address
        f"оператору персональных данных: {located.full_name}",
        "адрес: 170100, г. Тверь, ул. Трёхсвятская, д. 1",
        # purpose, data, actions with передача and its recipient, term, withdrawal
        "Цель обработки",
        "Перечень персональных данных",
        "передача (предоставление, доступ)",
        "оператору ИКОП «Сферум»",
        "Срок действия согласия",
        "Порядок отзыва",
        "152-ФЗ",
    ):
        assert element in text, element
    # The grammar: «даю согласие» is followed by a dative («оператору»), never by the
    # organisation's name in the nominative.
    assert "даю согласие оператору персональных данных:" in text
    assert f"даю согласие {located.full_name}" not in text
    assert "даю согласие Муниципальное" not in text
    # The child's name in the nominative after a colon, not after «ребёнка» as if declined.
    assert "законным представителем ребёнка: Кузнецов Максим Андреевич" in " ".join(text.split())


def test_the_blank_pdf_has_every_element_with_lines_for_ink(client, admin, located):
    client.force_login(admin)
    response = client.get(reverse("consent_text") + "?format=pdf")
    text = pdf_text(response.content)
    for element in (
        "Я,",
        "документ, удостоверяющий личность",
        "серия",
        "дата выдачи",
        "кем выдан",
        "свидетельство о рождении",
        "оператору персональных данных:",
        located.full_name,
        "Трёхсвятская",
        "передача",
        "Подпись",
    ):
        assert element in text, element
    assert "даю согласие Муниципальное" not in text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id_series", "28", "Серия паспорта — 4 цифры, например 45 12."),
        ("id_number", "12345", "Номер паспорта — 6 цифр, например 123456."),
        ("authority_series", "ОН", "Серия свидетельства о рождении — римские цифры и две буквы"),
        ("authority_number", "12", "Номер свидетельства о рождении — 6 цифр."),
        ("id_issued_on", "2999-01-01", "Дата не может быть в будущем."),
        ("child_birth_date", "2999-01-01", "Дата не может быть в будущем."),
        ("parent_address", "", "Обязательное поле."),
    ],
)
def test_bad_input_gets_a_russian_message_and_stores_nothing(
    client, parent, student, field, value, message
):
    client.force_login(parent)
    url = reverse("consent_give", kwargs={"pk": student.pk})
    response = client.post(
        url, {**FILLED, field: value, "confirm": "1", "password": PASSWORD, "terms": "on"}
    )
    # The form comes back with its message and a 400: nothing was recorded.
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ConsentRecord.objects.exists()
    assert not AuditEntry.objects.filter(action="consent.given").exists()


def test_withdrawing_asks_first_then_records(client, parent, student):
    give_consent(parent, student, details=details_dict())
    client.force_login(parent)
    url = reverse("consent_withdraw", kwargs={"pk": student.pk})
    page = client.get(url).content.decode()
    assert "Что будет дальше." in page and "Подтверждаю: отзываю согласие" in page
    assert ConsentRecord.objects.count() == 1
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    last = ConsentRecord.objects.order_by("-pk").first()
    assert last.action == "withdrawn"
    assert AuditEntry.objects.filter(action="consent.withdrawn", actor=parent).count() == 1
    # Withdrawing again is refused and writes nothing.
    client.post(url)
    assert ConsentRecord.objects.count() == 2
    assert "отозвано" in client.get(reverse("family_home")).content.decode()


def test_the_administrator_records_paper_consent_and_withdrawal_with_their_date(
    client, admin, parent, student
):
    client.force_login(admin)
    url = reverse("consent_paper", kwargs={"pk": student.pk})
    assert client.get(url).status_code == 200
    data = {**FILLED, "action": "given", "parent": parent.pk, "signed_on": "2026-09-01"}
    response = client.post(url, data)
    assert response.status_code == 302 and response["Location"] == reverse("consents")
    record = ConsentRecord.objects.get()
    assert record.parent == parent and record.details.method == "paper"
    assert record.details.signed_on == dt.date(2026, 9, 1)
    assert record.details.recorded_by == admin
    entry = AuditEntry.objects.get(action="consent.paper.given")
    assert entry.actor_id == admin.pk and entry.data["signed_on"] == "2026-09-01"

    # A withdrawal needs only the parent and the date.
    response = client.post(
        url, {"action": "withdrawn", "parent": parent.pk, "signed_on": "2026-10-01"}
    )
    assert response.status_code == 302
    assert ConsentRecord.objects.order_by("-pk").first().action == "withdrawn"
    assert AuditEntry.objects.filter(action="consent.paper.withdrawn").count() == 1

    # A paper date in the future is refused.
    response = client.post(url, {**data, "signed_on": "2999-01-01"})
    assert response.status_code == 200
    assert "Дата не может быть в будущем." in response.content.decode()
    assert ConsentRecord.objects.count() == 2

    # The managers print the recorded consent filled.
    pdf = client.get(reverse("consent_record_pdf", kwargs={"pk": record.pk}))
    assert pdf.status_code == 200
    assert "серия 28 12 № 345678" in pdf_text(pdf.content)


def test_refusals_write_nothing(parent, student, teacher, admin, organisation):
    from tests.factories import UserFactory

    stranger = UserFactory(organisation=organisation, roles=["parent"])
    with pytest.raises(PortalError):
        consent_give(
            parent=stranger,
            student=student,
            details=details_dict(),
            password=PASSWORD,
            terms_accepted=True,
            ip_address=None,
        )
    with pytest.raises(PortalError):
        consent_give(
            parent=parent,
            student=student,
            details={},
            password=PASSWORD,
            terms_accepted=True,
            ip_address=None,
        )
    with pytest.raises(PortalError):
        consent_withdraw(parent=parent, student=student, ip_address=None)
    with pytest.raises(PortalError):
        consent_record_paper(
            actor=teacher, parent=parent, student=student, action="given",
            signed_on=dt.date(2026, 9, 1), details=details_dict(),
        )  # fmt: skip
    assert not ConsentRecord.objects.exists() and not ConsentDetails.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="consent").exists()


def test_personal_data_is_for_the_parent_and_managers_only(
    client, parent, student, teacher, group, admin, outsider
):
    record = give_consent(parent, student, details=details_dict())
    pdf_url = reverse("consent_record_pdf", kwargs={"pk": record.pk})
    # The teacher sees the state on the group's families page, not the data.
    client.force_login(teacher)
    page = client.get(reverse("group_families", kwargs={"pk": group.pk})).content.decode()
    assert "дано" in page and "345678" not in page and "Советская" not in page
    assert client.get(pdf_url).status_code == 403
    # Another organisation's administrator: 404.
    client.force_login(outsider)
    assert client.get(pdf_url).status_code == 404
    assert client.get(reverse("consent_paper", kwargs={"pk": student.pk})).status_code == 404
    # Another parent of the same organisation: 404 on this child.
    from tests.factories import UserFactory

    other = UserFactory(organisation=parent.organisation, roles=["parent"])
    client.force_login(other)
    assert client.get(reverse("consent_pdf", kwargs={"pk": student.pk})).status_code == 404
    assert client.get(reverse("consent_give", kwargs={"pk": student.pk})).status_code == 404


def test_the_confirmation_page_carries_the_form_through(client, parent, student):
    import re

    client.force_login(parent)
    url = reverse("consent_give", kwargs={"pk": student.pk})
    page = client.post(url, FILLED).content.decode()
    hidden = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', page))
    assert hidden["confirm"] == "1" and hidden["id_issued_on"] == "2015-03-17"
    # The parent signs with their password: without it, or with a wrong one, the page comes
    # back with a 400 and nothing is recorded.
    for password in ("", "wrong"):
        refused = client.post(url, {**hidden, "password": password, "terms": "on"})
        assert refused.status_code == 400
        assert "Неверный пароль. Согласие не записано." in refused.content.decode()
        assert not ConsentRecord.objects.exists()
    # Signed only under the accepted terms of the простая электронная подпись.
    unticked = client.post(url, {**hidden, "password": PASSWORD})
    assert unticked.status_code == 400
    assert "Отметьте, что принимаете условия простой электронной подписи" in (
        unticked.content.decode()
    )
    assert not ConsentRecord.objects.exists()
    response = client.post(url, {**hidden, "password": PASSWORD, "terms": "on"})
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    record = ConsentRecord.objects.get()
    assert (
        record.signature_terms.text_sha256
        == hashlib.sha256(record.signature_terms.text.encode()).hexdigest()
    )
    assert "простой электронной подписью" in record.signature_terms.text
    assert ConsentRecord.objects.get().details.id_issued_on == dt.date(2015, 3, 17)


def test_an_older_stored_text_is_not_the_edition_of_a_new_consent(parent, student, organisation):
    from families.models import ConsentText

    old = ConsentText.objects.create(
        organisation=organisation,
        text=f"даю согласие {organisation.full_name}",
        text_sha256="0" * 64,
    )
    record = give_consent(parent, student, details=details_dict())
    assert record.consent_text != old
    assert "передача (предоставление, доступ)" in record.consent_text.text
