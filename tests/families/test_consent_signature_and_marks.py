"""Issue 21 on the consent: a consent given online prints how and when it was given, with no
empty line for a signature nobody puts; a paper one keeps its line; the form marks the
passport's series (and the birth certificate's) required as it is."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone

from families.forms import ConsentForm, PaperConsentForm
from families.services import consent_record_paper
from tests.families.builders import (
    CERTIFICATE_ISSUED,
    CHILD_BORN,
    CHILD_PASSPORT,
    FILLED_CONSENT,
    give_consent,
)
from tests.helpers import pdf_text

SIGNATURE_LINE = "Подпись: ______"


def test_an_online_consent_prints_how_and_when_it_was_given_without_a_signature_line(
    client, parent, admin, student
):
    record = give_consent(parent, student)
    at = timezone.localtime(record.at, ZoneInfo(student.organisation.time_zone))
    client.force_login(parent)
    text = pdf_text(client.get(reverse("consent_pdf", kwargs={"pk": student.pk})).content)
    assert "Согласие дано в электронной форме" in text
    assert f"{at:%d.%m.%Y %H:%M}" in text
    assert "Кузнецова Елена Викторовна" in text
    assert "Подпись" not in text and "____" not in text.split("Цель обработки")[-1]
    # The managers' copy of the record says the same.
    client.force_login(admin)
    text = pdf_text(client.get(reverse("consent_record_pdf", kwargs={"pk": record.pk})).content)
    assert f"{at:%d.%m.%Y %H:%M}" in text and "Подпись" not in text


def test_a_paper_consent_keeps_its_signature_line(client, parent, admin, student):
    details = {
        **FILLED_CONSENT,
        "id_series": "28 12",
        "id_issued_on": dt.date(2015, 3, 17),
        "child_birth_date": CHILD_BORN,
        "authority_issued_on": CERTIFICATE_ISSUED,
    }
    record = consent_record_paper(
        actor=admin,
        parent=parent,
        student=student,
        action="given",
        signed_on=dt.date(2026, 9, 1),
        details=details,
    )
    client.force_login(admin)
    text = pdf_text(client.get(reverse("consent_record_pdf", kwargs={"pk": record.pk})).content)
    assert "Дата: 01.09.2026" in text
    assert f"{SIGNATURE_LINE}" in text and "/ Кузнецова Елена Викторовна /" in text
    assert "в электронной форме" not in text


def _required_labels(html: str) -> set[str]:
    """The ids of the fields whose label carries crispy forms' required mark."""
    return set(
        re.findall(r'<label\s+for="(id_[a-z_]+)"[^>]*>[^<]*<span class="asteriskField">\*', html)
    )


def test_the_series_is_marked_required_where_it_is(client, parent, student):
    client.force_login(parent)
    page = client.get(reverse("consent_give", kwargs={"pk": student.pk})).content.decode()
    marked = _required_labels(page)
    # The default documents are the passport and the birth certificate: both series required.
    assert {"id_id_series", "id_id_number", "id_authority_series"} <= marked
    # Every field the form requires carries the mark, and only those.
    form = ConsentForm()
    assert marked == {f"id_{name}" for name, field in form.fields.items() if field.required}


def test_the_series_is_optional_for_other_documents_and_required_for_a_passport():
    other = ConsentForm(
        {**FILLED_CONSENT, "id_document": "foreign_passport", "id_series": "", "id_number": "X1"}
    )
    assert not other.fields["id_series"].required
    assert other.is_valid(), other.errors
    assert other.cleaned_data["id_series"] == "—"
    passport = ConsentForm({**FILLED_CONSENT, "id_series": ""})
    assert passport.fields["id_series"].required
    assert not passport.is_valid()
    assert passport.errors["id_series"] == ["Обязательное поле."]
    certificate = ConsentForm({**FILLED_CONSENT, "authority_series": ""})
    assert certificate.errors["authority_series"] == ["Обязательное поле."]
    guardianship = ConsentForm(
        {
            **FILLED_CONSENT,
            "authority_document": "guardianship",
            "authority_series": "",
            **CHILD_PASSPORT,
            "child_id_document": "birth_certificate",
            "child_id_series": "I-ОН",
            "child_id_issued_on": CERTIFICATE_ISSUED.isoformat(),
        }
    )
    assert guardianship.is_valid(), guardianship.errors
    # A paper withdrawal needs no series at all.
    withdrawal = PaperConsentForm({"action": "withdrawn"}, parents=())
    assert not withdrawal.fields["id_series"].required
