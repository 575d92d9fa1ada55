"""What a parent and a student sign online is what they are shown: the consent in force, once,
and under «Условия использования простой электронной подписи» the terms of that signature
(these pages showed the consent a second time there, so the terms being accepted were never
seen). A student's own consent has its own text: in the first person, about their own data,
withdrawn from their own page; its edition is stored apart from the parent's."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from cdt_portal.markup import render_markdown
from families.models import ConsentRecord, ConsentText, StudentConsent
from families.selectors import (
    default_consent_text,
    default_signature_terms,
    default_student_consent_text,
)
from tests.families.builders import (
    FILLED_CONSENT,
    consent_details_for,
    give_consent,
    give_own_consent,
    years_ago,
)
from tests.helpers import pdf_text

SIGNATURE_TERMS_SENTENCE = "Ключ простой электронной подписи"


def signature_terms_block(page: str) -> str:
    found = re.search(r'<details class="[^"]*signature-terms">(.*?)</details>', page, re.S)
    assert found, "the page has no «Условия использования простой электронной подписи»"
    return found.group(1)


def test_the_parents_confirmation_shows_the_consent_once_and_the_signature_terms_under_their_name(
    client, parent, student
):
    client.force_login(parent)
    page = client.post(reverse("consent_give", kwargs={"pk": student.pk}), FILLED_CONSENT)
    assert page.status_code == 200
    text = page.content.decode()
    terms = signature_terms_block(text)
    assert SIGNATURE_TERMS_SENTENCE in terms
    assert "Цель обработки" not in terms
    assert text.count("Цель обработки") == 1
    assert str(render_markdown(default_signature_terms(student.organisation))) in text


def test_the_students_page_shows_their_own_consent_once_and_the_signature_terms(client, student):
    client.force_login(student)
    page = client.get(reverse("student_consent"))
    assert page.status_code == 200
    text = page.content.decode()
    terms = signature_terms_block(text)
    assert SIGNATURE_TERMS_SENTENCE in terms and "Цель обработки" not in terms
    assert text.count("Цель обработки") == 1
    assert str(render_markdown(default_student_consent_text(student.organisation))) in text
    # The parent's wording is not the student's: no child, no «Мои дети».
    consent = text[text.index("Цель обработки") : text.index("<details")]
    assert "ребёнка" not in consent and "Мои дети" not in consent
    assert "до окончания моего обучения" in consent
    assert "«Моё согласие на обработку персональных данных» → «Отозвать согласие»" in consent


def test_a_students_consent_is_stored_under_the_students_text_and_a_parents_under_the_parents(
    parent, student
):
    born = years_ago(15)  # the same child in both consents
    own = give_own_consent(student, born)
    record = give_consent(parent, student, details=consent_details_for(born))
    organisation = student.organisation
    assert own.consent_text.text == default_student_consent_text(organisation)
    assert record.consent_text.text == default_consent_text(organisation)
    assert own.consent_text_id != record.consent_text_id
    assert ConsentText.objects.filter(organisation=organisation).count() == 2
    # A second act under each finds its stored edition.
    StudentConsent.objects.filter(pk=own.pk).delete()
    again = give_own_consent(student, years_ago(15))
    assert again.consent_text_id == own.consent_text_id
    assert ConsentRecord.objects.get().consent_text_id == record.consent_text_id


@pytest.mark.parametrize("days", [30, 14])
def test_the_texts_and_the_withdrawal_pages_name_the_retention_in_force(
    client, settings, parent, student, days
):
    settings.CONSENT_RETENTION_DAYS = days
    organisation = student.organisation
    sentence = f"уничтожает данные не позднее чем через {days} дней"
    assert sentence in default_consent_text(organisation)
    assert sentence in default_student_consent_text(organisation)

    born = years_ago(15)  # the same child in both consents
    give_consent(parent, student, details=consent_details_for(born))
    client.force_login(parent)
    page = client.get(reverse("consent_withdraw", kwargs={"pk": student.pk}))
    assert page.status_code == 200
    assert f"уничтожит эти данные не позднее чем через {days} дней" in page.content.decode()

    give_own_consent(student, born)
    client.force_login(student)
    page = client.get(reverse("student_consent_withdraw"))
    assert page.status_code == 200
    assert f"уничтожит сведения согласия не позднее чем через {days} дней" in page.content.decode()


def test_a_number_stays_with_its_sign_in_every_published_text_and_the_consent_pages(
    client, parent, student
):
    html = str(render_markdown("Приказ № 201-О от 30.11.2023 г. и закон № 152-ФЗ."))
    assert html == (
        '<p>Приказ <span class="text-nowrap">№\u00a0201-О</span> от 30.11.2023\u00a0г. и закон '
        '<span class="text-nowrap">№\u00a0152-ФЗ</span>.</p>\n'
    )
    # A link's title is not text: it keeps what was typed.
    linked = str(render_markdown('[закон](https://example.ru "№ 5")'))
    assert linked == '<p><a href="https://example.ru" title="№ 5" rel="noopener">закон</a></p>\n'

    client.force_login(parent)
    for url in (
        reverse("consent_give", kwargs={"pk": student.pk}),
        reverse("consent_text"),
        reverse("privacy"),
    ):
        page = client.get(url).content.decode()
        assert '<span class="text-nowrap">№&nbsp;152-ФЗ</span>' in page, url
        assert "№ 152" not in page, url


def test_a_number_of_days_takes_its_form():
    from cdt_portal.templatetags.formatting import days

    assert [days(n) for n in (1, 2, 5, 11, 14, 21, 22, 30)] == [
        "1 день",
        "2 дня",
        "5 дней",
        "11 дней",
        "14 дней",
        "21 день",
        "22 дня",
        "30 дней",
    ]


def test_the_consents_say_what_the_law_says_and_the_online_one_is_signed(parent, student):
    """The withdrawal's article is cited for what it says (152-ФЗ ст. 9 ч. 2: processing goes on
    only on the grounds of ст. 6 ч. 1 пп. 2–11), the data list names both addresses and what
    signing online records, the parent's title names both people's data, and an online consent
    bears the mark of its простая электронная подпись where a signature would stand."""
    from django.test import Client

    organisation = student.organisation
    for text in (default_consent_text(organisation), default_student_consent_text(organisation)):
        assert "(ч. 2 ст. 9" not in text
        assert (
            "После отзыва Оператор продолжает обработку только при наличии оснований, "
            "предусмотренных пунктами 2–11 части 1 статьи 6 Федерального закона № 152-ФЗ "
            "(часть 2 статьи 9 этого закона)."
        ) in text
        assert "дата, время и IP-адрес подписания согласия в портале" in text
    assert "адреса регистрации (проживания) родителя и обучающегося" in default_consent_text(
        organisation
    )
    terms = default_signature_terms(organisation)
    assert "IP-адрес устройства" in terms and "адрес компьютера" not in terms
    assert "обучающийся может оформить согласие на бумаге, обратившись к Оператору" in terms

    record = give_consent(parent, student)
    client = Client()
    client.force_login(parent)
    page = client.get(reverse("consent_pdf", kwargs={"pk": student.pk}))
    assert page.status_code == 200
    text = " ".join(pdf_text(page.content).replace("\u2010 ", "").split())
    assert (
        "Согласие родителя (законного представителя) на обработку своих персональных данных "
        "и персональных данных обучающегося"
    ) in text
    assert (
        "Подписано простой электронной подписью (вводом пароля от личного кабинета в портале). "
        f"Подписант — родитель (законный представитель): {record.details.parent_full_name}"
    ) in text


def test_the_students_page_names_the_student_not_a_masculine_noun(client, student):
    client.force_login(student)
    text = client.get(reverse("student_consent")).content.decode()
    assert f"<p>Я, {student.full_name}, в соответствии" in text
    assert "Я, обучающийся," not in text


def test_a_child_without_a_group_is_spoken_of_in_the_childs_gender(client, parent, student):
    """«Пока не записан» for the son of a mother: the form follows the child, not the parent
    reading the page."""
    client.force_login(parent)
    text = client.get(reverse("family_home")).content.decode()
    assert "Пока не записан ни в одно объединение." in text
    assert "Пока не записана" not in text


ACTIONS = 'class="d-flex flex-wrap align-items-center gap-2 form-actions"'


def test_the_families_buttons_wrap_apart_on_a_phone(client, parent, student):
    """The main button and its «Отмена», «Назад» or «Исправить» sit in one wrapping row with a
    gap: at 390 px the second wrapped right under the first, touching it."""
    born = years_ago(15)  # the same child in both consents
    give_consent(parent, student, details=consent_details_for(born))
    give_own_consent(student, born)
    client.force_login(parent)
    pages = {
        "consent form": client.get(reverse("consent_give", kwargs={"pk": student.pk})),
        "consent confirmation": client.post(
            reverse("consent_give", kwargs={"pk": student.pk}), FILLED_CONSENT
        ),
        "withdrawal": client.get(reverse("consent_withdraw", kwargs={"pk": student.pk})),
        "channel": client.get(reverse("family_choice", kwargs={"pk": student.pk})),
    }
    client.force_login(student)
    pages["student's withdrawal"] = client.get(reverse("student_consent_withdraw"))
    for name, page in pages.items():
        assert page.status_code == 200, name
        text = page.content.decode()
        row = text[text.index(ACTIONS) :]
        row = row[: row.index("</div>") if "</div>" in row else len(row)]
        assert 'type="submit"' in row and 'class="btn btn-link"' in row, name


def test_an_addresss_abbreviations_keep_their_words_on_the_consent(client, parent, student):
    """«кв.» at a line's end and «12» on the next (seen in the consent's PDF): each
    abbreviation of an address is followed by a non-breaking space, in the parent's, the child's
    and the operator's address; a word merely ending in one («ул» in «Тул.») is left alone."""
    from cdt_portal.markup import nowrap_address

    assert nowrap_address("г. Тверь, ул. Советская, д. 5, кв. 12, Тверская обл.") == (
        "г.\u00a0Тверь, ул.\u00a0Советская, д.\u00a05, кв.\u00a012, Тверская обл."
    )
    assert nowrap_address("Тул. 5") == "Тул. 5"
    client.force_login(parent)
    page = client.post(reverse("consent_give", kwargs={"pk": student.pk}), FILLED_CONSENT)
    text = page.content.decode()
    assert text.count("г.\u00a0Тверь, ул.\u00a0Советская, д.\u00a05, кв.\u00a012") == 2
