"""Issue 13, the registration request's pages: the .eml opens as a draft from the
organisation, the letter waits for the letterhead's contacts, dates start at today, the
formatting help is plain, the .eml names the organisation, and every date and time is the
organisation's, in Russian format. (The notices' page: tests/families/test_issue13_pages.py.)"""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from cdt_portal.models import AuditEntry
from onboarding.forms import DateForm, RegisteredForm, ScanForm, SentForm
from onboarding.models import RegistrationRequest, RequestStatus
from onboarding.selectors import missing_letterhead_fields
from onboarding.services import request_confirm_sent, request_register
from tests.onboarding.builders import LETTERHEAD, give_letterhead

TEMPLATES = Path(settings.BASE_DIR) / "templates"
REQUEST_PAGE = "/onboarding/request/"
LETTER_URL = "/onboarding/request/letter.pdf"
EML_URL = "/onboarding/request/message.eml"
SETTINGS_URL = "/organisation/"
FAR_EAST = "Asia/Kamchatka"  # UTC+12: nine hours from Moscow, twelve from UTC


def page_of(client) -> str:
    response = client.get(REQUEST_PAGE)
    assert response.status_code == 200
    return response.content.decode()


def test_the_urls_are_what_the_tests_request():
    assert reverse("request_letter_pdf") == LETTER_URL
    assert reverse("request_eml") == EML_URL
    assert reverse("organisation_settings") == SETTINGS_URL


# --- 2. The .eml opens as a draft of the organisation's own mail program -------------------


def get_eml(client, admin) -> email.message.EmailMessage:
    client.force_login(admin)
    response = client.get(EML_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    return email.message_from_bytes(response.content, policy=policy.default)


def test_the_eml_is_a_draft_from_and_replied_to_at_the_organisations_email(
    client, ready_request, admin, organisation
):
    parsed = get_eml(client, admin)
    assert parsed["X-Unsent"] == "1"
    [sender] = parsed["From"].addresses
    assert sender.addr_spec == LETTERHEAD["email"] == organisation.email
    [reply_to] = parsed["Reply-To"].addresses
    assert reply_to.addr_spec == organisation.email
    assert parsed["To"] == "info@sferum.ru"
    assert parsed["Subject"] == "СФЕРУМ:Регистрация организации"
    # On the organisation's domain, and the one the request recorded when it became ready.
    assert re.fullmatch(r"<[^@<>]+@example\.ru>", parsed["Message-ID"]), parsed["Message-ID"]
    ready_request.refresh_from_db()
    assert parsed["Message-ID"] == ready_request.message_id


def test_the_eml_names_the_organisation_not_the_platform(
    client, ready_request, admin, organisation
):
    [sender] = get_eml(client, admin)["From"].addresses
    assert sender.display_name == organisation.short_name == "МКУ ДО «ЦДТ»"
    assert "Сферум" not in sender.display_name


def test_the_message_id_follows_the_organisations_domain(
    client, ready_request, admin, organisation
):
    # A request made ready before this change has its ID on the portal's domain; one made
    # before the organisation's e-mail changed has the old domain. Both keep their unique
    # part, so every download names the same message.
    RegistrationRequest.objects.filter(pk=ready_request.pk).update(
        message_id="<175.42.abc@localhost>"
    )
    organisation.email = "Priemnaya@CDT-Tyumen.ru"
    organisation.save()
    first = get_eml(client, admin)
    second = get_eml(client, admin)
    assert first["Message-ID"] == second["Message-ID"] == "<175.42.abc@cdt-tyumen.ru>"
    assert first["From"].addresses[0].addr_spec == "Priemnaya@CDT-Tyumen.ru"


def test_a_request_made_ready_gets_its_message_id_on_the_organisations_domain(ready_request):
    assert ready_request.message_id.endswith("@example.ru>")


def test_the_message_the_portal_sends_is_not_a_draft(client, ready_request, admin):
    client.force_login(admin)
    response = client.post(reverse("request_send"))
    assert response.status_code == 302 and response["Location"] == REQUEST_PAGE
    [message] = mail.outbox
    assert message.message()["X-Unsent"] is None


def test_without_the_organisations_email_the_page_asks_for_it_instead_of_the_eml(
    client, ready_request, admin, organisation
):
    organisation.email = ""
    organisation.save()
    client.force_login(admin)
    text = page_of(client)
    assert f'href="{EML_URL}"' not in text
    assert "Скачайте письмо (.eml)" not in text
    assert "Укажите e-mail организации." in text
    assert f'<a class="alert-link" href="{SETTINGS_URL}">Заполнить сведения об организации</a>' in (
        text
    )

    response = client.get(EML_URL)
    assert response.status_code == 409
    assert response["Content-Type"].startswith("text/html")
    answer = response.content.decode()
    assert "Укажите e-mail организации." in answer
    assert f'href="{SETTINGS_URL}"' in answer
    assert f'href="{REQUEST_PAGE}"' in answer
    assert "Subject:" not in answer


def test_the_eml_of_a_request_not_ready_is_refused_back_to_the_page(
    client, ready_request, admin, organisation
):
    request_confirm_sent(request=ready_request, actor=admin, sent_on=timezone.localdate())
    organisation.email = ""  # the state is the reason given, not the missing e-mail
    organisation.save()
    client.force_login(admin)
    response = client.get(EML_URL, follow=True)
    assert response.redirect_chain == [(REQUEST_PAGE, 302)]
    assert "Нельзя скачать письмо" in response.content.decode()


def test_the_page_shows_no_raw_message_id(client, ready_request, admin):
    client.force_login(admin)
    client.post(reverse("request_send"))
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.SENT
    text = page_of(client)
    assert ready_request.message_id not in text
    assert "Message-ID" not in text
    assert "отправлена на info@sferum.ru" in text  # the timeline's comment, without the ID
    # The audit log keeps it.
    entry = AuditEntry.objects.filter(action="request.sent").get()
    assert ready_request.message_id in entry.data["comment"]


# --- 3. The appointment letter waits for the letterhead's contacts -------------------------


def test_missing_letterhead_fields_names_them_in_russian(organisation):
    assert missing_letterhead_fields(organisation) == ["адрес", "телефон", "e-mail"]
    organisation.address = "  "
    organisation.phone = LETTERHEAD["phone"]
    assert missing_letterhead_fields(organisation) == ["адрес", "e-mail"]
    give_letterhead(organisation)
    assert missing_letterhead_fields(organisation) == []


@pytest.fixture
def draft(client, admin, organisation):
    """A draft with the administrator's details, for an organisation with no contacts."""
    client.force_login(admin)
    client.post(reverse("request_start"))
    client.post(
        reverse("request_details"),
        {"full_name": admin.full_name, "position": "педагог", "phone": "+79123456789"},
    )
    registration = RegistrationRequest.objects.get()
    assert registration.admin_phone and registration.status == RequestStatus.DRAFT
    return registration


def test_the_page_asks_for_the_letterheads_contacts_before_the_letter(client, draft):
    text = page_of(client)
    assert "Для письма о назначении не хватает сведений об организации." in text
    assert "не указано: адрес, телефон, e-mail." in text
    assert f'<a class="alert-link" href="{SETTINGS_URL}">Заполнить сведения об организации</a>' in (
        text
    )
    assert f'action="{reverse("request_letter")}"' not in text
    assert LETTER_URL not in text
    assert "Укажите в сведениях об организации: адрес, телефон, e-mail" in text  # next step


def test_making_the_letter_without_them_is_refused(client, draft):
    response = client.post(reverse("request_letter"))
    assert response.status_code == 302 and response["Location"] == REQUEST_PAGE
    draft.refresh_from_db()
    assert draft.status == RequestStatus.DRAFT
    assert not draft.letter_pdf
    text = client.get(REQUEST_PAGE).content.decode()
    assert "Письмо о назначении не сформировано" in text
    assert "не указано: адрес, телефон, e-mail." in text


def test_with_the_contacts_filled_in_the_letter_is_made(client, draft, organisation):
    give_letterhead(organisation)
    text = page_of(client)
    assert "не хватает сведений об организации" not in text
    response = client.post(reverse("request_letter"))
    assert response.status_code == 302 and response["Location"] == REQUEST_PAGE
    draft.refresh_from_db()
    assert draft.status == RequestStatus.AWAITING_SIGNATURE
    assert "Скачать письмо (PDF) для подписи" in page_of(client)
    assert client.get(LETTER_URL).status_code == 200


@pytest.mark.parametrize("persona", ["admin", "director"])
def test_a_letter_whose_contacts_were_removed_is_not_served(
    client, request, ready_request, organisation, persona
):
    organisation.phone = ""
    organisation.save()
    client.force_login(request.getfixturevalue(persona))
    response = client.get(LETTER_URL)
    assert response.status_code == 409
    assert not response.content.startswith(b"%PDF")
    answer = response.content.decode()
    assert "Для письма о назначении не хватает сведений об организации." in answer
    assert "не указано: телефон." in answer
    assert f'href="{SETTINGS_URL}"' in answer

    text = page_of(client)
    assert LETTER_URL not in text
    assert "не указано: телефон." in text
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert LETTER_URL not in dashboard


def test_other_people_still_get_their_usual_answers(
    client, ready_request, organisation, teacher, outsider
):
    organisation.address = ""
    organisation.save()
    client.force_login(teacher)
    assert client.get(LETTER_URL).status_code == 403
    client.force_login(outsider)
    assert client.get(LETTER_URL).status_code == 404


# --- 4. Dates in the request's forms start at the organisation's today ---------------------

# 15:00 UTC on 10 March: still the 10th in Moscow (18:00), already the 11th in Kamchatka.
INSTANT = dt.datetime(2026, 3, 10, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: INSTANT)


@pytest.mark.parametrize(
    ("zone", "today"),
    [("Europe/Moscow", dt.date(2026, 3, 10)), (FAR_EAST, dt.date(2026, 3, 11))],
)
def test_every_date_field_of_the_request_forms_starts_at_today(fixed_now, zone, today):
    date_fields = [
        (form_class, name)
        for form_class in (ScanForm, SentForm, RegisteredForm, DateForm)
        for name, field in form_class.base_fields.items()
        if isinstance(field, forms.DateField)
    ]
    assert len(date_fields) == 4
    with timezone.override(zone):
        for form_class, name in date_fields:
            assert form_class()[name].value() == today, (form_class.__name__, name)


def test_the_request_page_offers_the_organisations_today(
    client, ready_request, admin, organisation, fixed_now
):
    organisation.time_zone = FAR_EAST
    organisation.save()
    client.force_login(admin)
    text = page_of(client)
    # «Письмо отправлено» (ready): today in Kamchatka, not in Moscow or UTC.
    assert 'name="date" value="2026-03-11"' in text
    assert "2026-03-10" not in text


# --- 5. The formatting help the notices share with the regulation -------------------------


def test_the_shared_formatting_help_is_plain_and_unstyled():
    source = (TEMPLATES / "_markup_help.html").read_text(encoding="utf-8")
    assert "style=" not in source and "<style" not in source and "<script" not in source
    assert "Markdown" not in source
    rendered = render_to_string("_markup_help.html", {"help_id": "version-text-help"})
    assert 'id="version-text-help"' in rendered
    for words in ("список", "<strong>жирный</strong>", "ссылка"):
        assert words in rendered


# --- 7. Dates and times: the organisation's time zone, Russian format ----------------------


def local(moment: dt.datetime, zone: str, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def test_the_request_page_shows_times_in_the_organisations_zone(
    client, ready_request, admin, organisation
):
    organisation.time_zone = FAR_EAST
    organisation.save()
    client.force_login(admin)
    client.post(reverse("request_send"))
    ready_request.refresh_from_db()
    request_register(
        request=ready_request,
        actor=admin,
        registered_on=timezone.localdate(ready_request.sent_at),
        signed_in_confirmed=True,
    )
    text = page_of(client)
    entries = list(AuditEntry.objects.filter(object_id=str(ready_request.pk)).order_by("pk"))
    assert entries
    for entry in entries:
        assert local(entry.at, FAR_EAST) in text
        assert local(entry.at, "Europe/Moscow") not in text
    assert f"Отправлена {local(ready_request.sent_at, FAR_EAST, '%d.%m.%Y')}" in text


# Every date or time an onboarding template prints: a variable whose name ends in `_at`,
# `_on` or is `.at`, and nothing but the Russian formats after it.
DATE_VARIABLE = re.compile(r"{{\s*([\w.]+?(?:_at|_on|\.at))\s*(\|[^}]*)?}}")
RUSSIAN = {'|date:"d.m.Y"', '|date:"d.m.Y H:i"'}


def test_every_date_in_the_onboarding_templates_is_formatted_the_russian_way():
    found = []
    for template in sorted((TEMPLATES / "onboarding").glob("*.html")):
        for variable, filters in DATE_VARIABLE.findall(template.read_text(encoding="utf-8")):
            found.append(variable)
            assert (filters or "").strip() in RUSSIAN, (template.name, variable, filters)
    assert "e.at" in found and "registration.sent_at" in found
