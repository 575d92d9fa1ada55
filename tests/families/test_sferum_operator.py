"""Whom the families' data go to through Sferum: the consent texts name the platform operator
with the name and address the deployment gives (SFERUM_OPERATOR); while it gives none, the
texts say only «оператору ИКОП «Сферум»», and the managers' page of consents says what is
missing and who fills it in. A consent given before keeps its edition. The privacy policy
names them as the consents do."""

from __future__ import annotations

from django.urls import reverse

from cdt_portal.markup import render_markdown
from families.models import ConsentRecord
from families.selectors import (
    current_consent_text,
    default_consent_text,
    default_student_consent_text,
)
from tests.families.builders import FILLED_CONSENT, give_consent

OPERATOR = "ООО «Пример Оператор», 123456, г. Москва, ул. Примерная, д. 1"
NAMED = f"платформы «Сферум»: {OPERATOR})"
UNNAMED = "(оператору информационно-коммуникационной образовательной платформы «Сферум») —"
MISSING = "data-sferum-operator-missing"


def test_both_consent_texts_name_the_operator_the_deployment_gives(settings, organisation):
    settings.SFERUM_OPERATOR = OPERATOR
    for text in (default_consent_text(organisation), default_student_consent_text(organisation)):
        assert NAMED in text
        assert UNNAMED not in text


def test_without_it_the_texts_name_no_one_and_the_managers_are_told(
    client, settings, admin, organisation
):
    settings.SFERUM_OPERATOR = ""
    for text in (default_consent_text(organisation), default_student_consent_text(organisation)):
        assert UNNAMED in text
    client.force_login(admin)
    page = client.get(reverse("consents"))
    assert page.status_code == 200
    assert MISSING in page.content.decode()
    assert "<code>SFERUM_OPERATOR</code>" in page.content.decode()

    settings.SFERUM_OPERATOR = OPERATOR
    page = client.get(reverse("consents"))
    assert page.status_code == 200
    assert MISSING not in page.content.decode()


def test_the_parent_is_shown_the_operator_and_a_consent_given_before_keeps_its_text(
    client, settings, parent, student, organisation
):
    settings.SFERUM_OPERATOR = ""
    before = give_consent(parent, student)
    old_text = before.consent_text.text
    assert UNNAMED in old_text

    settings.SFERUM_OPERATOR = OPERATOR
    client.force_login(parent)
    # The confirmation page: the consent the parent is about to sign.
    page = client.post(reverse("consent_give", kwargs={"pk": student.pk}), FILLED_CONSENT)
    assert page.status_code == 200
    assert str(render_markdown(default_consent_text(organisation))) in page.content.decode()
    after = give_consent(parent, student)
    assert after.consent_text_id != before.consent_text_id
    assert NAMED in after.consent_text.text
    assert current_consent_text(organisation).pk == after.consent_text_id
    assert ConsentRecord.objects.get(pk=before.pk).consent_text.text == old_text


def test_the_privacy_policy_names_the_operator_as_the_consents_do(client, settings, organisation):
    page_url = reverse("privacy_public", kwargs={"slug": organisation.slug})
    settings.SFERUM_OPERATOR = ""
    page = client.get(page_url)
    assert page.status_code == 200
    assert "Передача осуществляется оператору ИКОП «Сферум» в объёме" in page.content.decode()
    settings.SFERUM_OPERATOR = OPERATOR
    page = client.get(page_url)
    assert page.status_code == 200
    assert f"оператору ИКОП «Сферум» ({OPERATOR}) в объёме" in page.content.decode()
