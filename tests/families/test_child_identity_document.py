"""The child is the subject of the data, so a parent's consent names the child's own identity
document (152-ФЗ ст. 9 ч. 4 п. 1). Under 14, the birth certificate that proves the parent's
authority is that document and is not typed twice; from 14 it is the child's passport; a
guardian, whose authority another act proves, names the child's document. Refused otherwise,
with nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cdt_portal.errors import PortalError
from families.models import ConsentDetails, ConsentRecord
from families.selectors import CHILD_DOCUMENT_NEEDED, CHILD_PASSPORT_NEEDED
from families.services import consent_give
from tests.factories import PASSWORD
from tests.families.builders import (
    CERTIFICATE_ISSUED,
    CHILD_PASSPORT,
    FILLED_CONSENT,
    years_ago,
)
from tests.helpers import pdf_text


def confirmed(client, student, data: dict):
    url = reverse("consent_give", kwargs={"pk": student.pk})
    return client.post(url, {**data, "confirm": "1", "password": PASSWORD, "terms": "on"})


def test_under_14_the_birth_certificate_is_the_childs_document_and_the_pdf_says_so(
    client, parent, student
):
    client.force_login(parent)
    response = confirmed(client, student, FILLED_CONSENT)
    assert response.status_code == 302 and response["Location"] == reverse("family_home")
    details = ConsentDetails.objects.get()
    assert (
        details.child_id_document,
        details.child_id_series,
        details.child_id_number,
        details.child_id_issued_on,
        details.child_id_issued_by,
    ) == (
        "birth_certificate",
        "I-ОН",
        "654321",
        CERTIFICATE_ISSUED,
        "Отдел ЗАГС администрации г. Твери",
    )
    pdf = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    text = " ".join(pdf_text(pdf.content).replace("\u2010 ", "").split())
    assert (
        "документ, удостоверяющий личность ребёнка: свидетельство о рождении, серия I-ОН "
        f"№ 654321, дата выдачи {CERTIFICATE_ISSUED:%d.%m.%Y}, кем выдан: Отдел ЗАГС "
        "администрации г. Твери,"
    ) in text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"child_birth_date": years_ago(15).isoformat()}, CHILD_PASSPORT_NEEDED),
        ({"authority_document": "guardianship", "authority_series": ""}, CHILD_DOCUMENT_NEEDED),
    ],
    ids=["fifteen", "guardian"],
)
def test_without_the_childs_own_document_the_consent_is_refused(
    client, parent, student, changes, message
):
    client.force_login(parent)
    url = reverse("consent_give", kwargs={"pk": student.pk})
    page = client.post(url, {**FILLED_CONSENT, **changes})
    assert page.status_code == 400
    assert page.context["form"].errors["child_id_document"] == [message]
    assert confirmed(client, student, {**FILLED_CONSENT, **changes}).status_code == 400
    assert not ConsentRecord.objects.exists() and not ConsentDetails.objects.exists()
    with pytest.raises(PortalError) as refused:
        consent_give(
            parent=parent, student=student, details={**FILLED_CONSENT, **changes},
            password=PASSWORD, terms_accepted=True, ip_address=None,
        )  # fmt: skip
    assert (refused.value.field, refused.value.message) == ("child_id_document", message)
    assert not ConsentRecord.objects.exists()

    # With the child's passport the consent is recorded, and it names the passport.
    response = confirmed(client, student, {**FILLED_CONSENT, **changes, **CHILD_PASSPORT})
    assert response.status_code == 302
    details = ConsentDetails.objects.get()
    assert (details.child_id_document, details.child_id_series, details.child_id_number) == (
        "passport",
        "28 20",
        "556677",
    )


def test_a_childs_passport_is_checked_like_any_passport(client, parent, student):
    client.force_login(parent)
    page = client.post(
        reverse("consent_give", kwargs={"pk": student.pk}),
        {**FILLED_CONSENT, **CHILD_PASSPORT, "child_id_series": "28", "child_id_issued_by": ""},
    )
    assert page.status_code == 400
    errors = page.context["form"].errors
    assert errors["child_id_series"] == ["Серия паспорта — 4 цифры, например 45 12."]
    assert errors["child_id_issued_by"] == ["Обязательное поле."]


def test_the_blank_asks_for_the_childs_document(client, admin):
    client.force_login(admin)
    pdf = client.get(reverse("consent_text") + "?format=pdf")
    text = " ".join(pdf_text(pdf.content).replace("\u2010 ", "").split())
    assert (
        "документ, удостоверяющий личность ребёнка: ____________________________ "
        "(до 14 лет — свидетельство о рождении, с 14 лет — паспорт), серия ________ "
        "№ ____________, дата выдачи ___.___.________, кем выдан:"
    ) in text


def test_an_act_recorded_before_the_childs_document_was_asked_for_is_shown_as_signed(
    client, parent, student
):
    client.force_login(parent)
    assert confirmed(client, student, FILLED_CONSENT).status_code == 302
    ConsentDetails.objects.update(
        child_id_document="", child_id_series="", child_id_number="",
        child_id_issued_on=None, child_id_issued_by="",
    )  # fmt: skip
    pdf = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    text = " ".join(pdf_text(pdf.content).split())
    assert "удостоверяющий личность ребёнка" not in text
    assert "являясь законным представителем ребёнка: Кузнецов Максим Андреевич" in text


def test_from_14_a_birth_certificate_is_refused_even_when_chosen(client, parent, student):
    """A consent first given under 14 stores the certificate; given again after the 14th
    birthday (the form comes pre-filled), the certificate no longer proves who the child is."""
    client.force_login(parent)
    data = {
        **FILLED_CONSENT,
        "child_birth_date": years_ago(16).isoformat(),
        **CHILD_PASSPORT,
        "child_id_document": "birth_certificate",
        "child_id_series": "I-ОН",
    }
    page = client.post(reverse("consent_give", kwargs={"pk": student.pk}), data)
    assert page.status_code == 400
    assert page.context["form"].errors["child_id_document"] == [CHILD_PASSPORT_NEEDED]
    assert confirmed(client, student, data).status_code == 400
    assert not ConsentRecord.objects.exists()


def test_a_paper_signed_on_the_old_blank_is_recorded_without_the_childs_document(
    client, admin, parent, student
):
    """A guardian's paper on a blank printed before the child's document was asked for: the
    administrator records it as it was signed, and its document shows no such line."""
    client.force_login(admin)
    response = client.post(
        reverse("consent_paper", kwargs={"pk": student.pk}),
        {
            **FILLED_CONSENT,
            "authority_document": "guardianship",
            "authority_series": "",
            "action": "given",
            "parent": parent.pk,
            "signed_on": "2026-11-20",
        },
    )
    assert response.status_code == 302 and response["Location"] == reverse("consents")
    details = ConsentDetails.objects.get()
    assert (details.method, details.child_id_document, details.child_id_number) == (
        "paper",
        "",
        "",
    )
    # Online, the same details are refused: the parent fills in the current form.
    with pytest.raises(PortalError):
        consent_give(
            parent=parent, student=student,
            details={**FILLED_CONSENT, "authority_document": "guardianship"},
            password=PASSWORD, terms_accepted=True, ip_address=None,
        )  # fmt: skip


def test_the_paper_form_tells_the_administrator_to_copy_the_paper(client, admin, parent, student):
    client.force_login(admin)
    page = client.get(reverse("consent_paper", kwargs={"pk": student.pk}))
    assert page.status_code == 200
    help_text = str(page.context["form"].fields["child_id_document"].help_text)
    assert help_text.startswith("Как в бумажном согласии.") and "ваши полномочия" not in help_text
