"""The registration request from draft to registered, with a return and a resend."""

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest
from django.contrib import admin as django_admin
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from cdt_portal.audit import history
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.documents import REGISTRATION_SUBJECT
from onboarding.models import RegistrationRequest, RequestStatus
from onboarding.services import request_cancel
from tests.onboarding.builders import JPEG_SCAN, PDF_SCAN, PNG_SCAN, give_letterhead, request_states

TODAY = lambda: timezone.localdate()  # noqa: E731


@pytest.fixture(autouse=True)
def letterhead(organisation):
    """The letter needs the letterhead's contacts; test_issue13_pages.py covers their absence."""
    give_letterhead(organisation)


@pytest.fixture
def as_admin(client, admin):
    client.force_login(admin)
    return client


def post(client, name, data=None, **kwargs):
    return client.post(reverse(name), data or {}, **kwargs)


def printed() -> dict:
    """The scan form's hidden field: the letter the request page offered to print."""
    return {"letter": RegistrationRequest.objects.get().letter_pdf.name}


def page(client) -> str:
    return client.get(reverse("registration_request")).content.decode()


def sent_entries(registration):
    return history(registration).filter(action="request.sent")


def test_the_whole_path_with_a_return_and_a_resend(as_admin, admin, organisation):
    organisation.email = "cdt@example.ru"
    organisation.save()
    client = as_admin
    assert "Начните заявку" in page(client)

    post(client, "request_start")
    registration = RegistrationRequest.objects.get()
    assert registration.status == RequestStatus.DRAFT
    assert registration.admin_full_name == admin.full_name  # defaults from the appointed admin

    post(
        client,
        "request_details",
        {"full_name": admin.full_name, "position": "педагог", "phone": "8 912 345 67 89"},
    )
    post(client, "request_letter")
    registration.refresh_from_db()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    assert "На подписи" in page(client)

    upload = SimpleUploadedFile("скан.pdf", PDF_SCAN, content_type="application/pdf")
    post(
        client,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    registration.refresh_from_db()
    assert registration.status == RequestStatus.READY
    assert registration.questionnaire_filled_on == dt.date(2026, 11, 20)

    response = post(client, "request_send", follow=True)
    assert "Заявка отправляется на info@sferum.ru" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RequestStatus.SENT
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["info@sferum.ru"]
    assert message.subject == REGISTRATION_SUBJECT == "СФЕРУМ:Регистрация организации"
    assert "+7 912 345-67-89" in message.body
    assert organisation.full_name in message.body
    assert "20.11.2026" in message.body
    [(filename, content, mimetype)] = message.attachments
    assert filename == "Письмо о назначении администратора (подписано).pdf"
    assert content == PDF_SCAN
    assert mimetype == "application/pdf"
    assert registration.message_id == message.extra_headers["Message-ID"]
    assert registration.message_id in message.message().as_string()

    post(client, "request_return", {"reason": "Нет печати на письме"})
    registration.refresh_from_db()
    assert registration.status == RequestStatus.RETURNED
    assert "Нет печати на письме" in page(client)

    # Corrected: a new letter, a new scan, sent this time from the institution's own mailbox.
    post(client, "request_letter")
    upload = SimpleUploadedFile("scan.png", PNG_SCAN, content_type="image/png")
    post(
        client,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    eml = client.get(reverse("request_eml"))
    assert eml["Content-Type"] == "message/rfc822"
    parsed = email.message_from_bytes(eml.content, policy=policy.default)
    assert parsed["Subject"] == "СФЕРУМ:Регистрация организации"
    assert parsed["To"] == "info@sferum.ru"
    attachment = next(parsed.iter_attachments())
    assert attachment.get_filename() == "Письмо о назначении администратора (подписано).png"
    assert attachment.get_content() == PNG_SCAN
    assert "+7 912 345-67-89" in parsed.get_body(("plain",)).get_content()
    assert len(mail.outbox) == 1  # downloading sends nothing

    post(client, "request_sent", {"date": f"{TODAY()}"})
    registration.refresh_from_db()
    assert registration.status == RequestStatus.SENT
    assert registration.message_id == parsed["Message-ID"]

    post(client, "request_register", {"date": f"{TODAY()}", "signed_in_confirmed": "on"})
    registration.refresh_from_db()
    assert registration.status == RequestStatus.REGISTERED
    assert registration.registered_on == TODAY()

    S = RequestStatus
    assert request_states(registration) == [
        ("", S.DRAFT),
        (S.DRAFT, S.AWAITING_SIGNATURE),
        (S.AWAITING_SIGNATURE, S.READY),
        (S.READY, S.SENT),
        (S.SENT, S.RETURNED),
        (S.RETURNED, S.AWAITING_SIGNATURE),
        (S.AWAITING_SIGNATURE, S.READY),
        (S.READY, S.SENT),
        (S.SENT, S.REGISTERED),
    ]
    assert {entry.actor_id for entry in history(registration)} == {admin.pk}
    timeline = page(client)
    assert "Возвращена на доработку" in timeline and "Зарегистрирована" in timeline


def test_sent_before_a_scan_is_refused_naming_what_is_missing(as_admin, organisation, admin):
    post(as_admin, "request_start")
    response = post(as_admin, "request_send", follow=True)
    text = response.content.decode()
    assert "Нельзя отправить заявку" in text and "«Готова к отправке»" in text
    response = post(as_admin, "request_sent", {"date": f"{TODAY()}"}, follow=True)
    assert "Нельзя отметить заявку отправленной" in response.content.decode()
    assert RegistrationRequest.objects.get().status == RequestStatus.DRAFT
    assert mail.outbox == []


def test_a_letter_without_a_phone_is_refused(as_admin, organisation, admin):
    post(as_admin, "request_start")  # the admin has no phone yet
    response = post(as_admin, "request_letter", follow=True)
    assert (
        "Не хватает данных для письма: мобильный телефон администратора."
        in response.content.decode()
    )
    assert RegistrationRequest.objects.get().status == RequestStatus.DRAFT


def test_a_second_click_on_send_is_refused(as_admin, ready_request):
    post(as_admin, "request_send")
    response = post(as_admin, "request_send", follow=True)
    assert "Нельзя отправить заявку: заявка в состоянии «Отправлена»" in response.content.decode()
    assert len(mail.outbox) == 1
    assert sent_entries(ready_request).count() == 1


def test_a_failed_send_leaves_the_request_ready_with_the_error(
    as_admin, ready_request, monkeypatch
):
    def refuse(self, messages):
        raise ConnectionRefusedError("Connection refused by smtp.example.ru")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    response = post(as_admin, "request_send", follow=True)
    text = response.content.decode()
    assert "Письмо не отправлено" in text and "Connection refused" in text
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY
    assert ready_request.sent_at is None
    assert not sent_entries(ready_request).exists()


def test_without_smtp_the_portal_offers_only_the_eml(as_admin, ready_request, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    text = page(as_admin)
    assert "Почтовый сервер портала не настроен" in text
    assert reverse("request_send") not in text
    response = post(as_admin, "request_send", follow=True)
    assert "Скачайте письмо (.eml)" in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("scan.pdf", b"MZ\x90\x00 not a pdf at all", "Это не PDF, JPEG или PNG"),
        ("scan.png", b"GIF89a....", "Это не PDF, JPEG или PNG"),
        ("scan.exe", b"", "файл пуст"),
    ],
)
def test_an_upload_that_is_not_pdf_jpeg_or_png_is_refused(
    as_admin, organisation, admin, filename, content, message, settings
):
    _awaiting(as_admin)
    upload = SimpleUploadedFile(filename, content)
    response = post(
        as_admin,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    assert message in response.content.decode()
    registration = RegistrationRequest.objects.get()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    assert not registration.scan
    assert not _stored_scans(settings)


def test_an_upload_over_10_mb_is_refused(as_admin, organisation, admin, settings):
    _awaiting(as_admin)
    big = SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024))
    response = post(
        as_admin,
        "request_scan",
        {"scan": big, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    assert "Файл слишком большой" in response.content.decode()
    assert RegistrationRequest.objects.get().status == RequestStatus.AWAITING_SIGNATURE
    assert not _stored_scans(settings)


def test_a_jpeg_named_pdf_is_taken_as_a_jpeg(as_admin, organisation, admin):
    _awaiting(as_admin)
    upload = SimpleUploadedFile("scan.pdf", JPEG_SCAN)
    post(
        as_admin,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    registration = RegistrationRequest.objects.get()
    assert registration.scan_content_type == "image/jpeg"
    assert registration.scan.name.endswith(".jpg")


def test_the_scan_is_private(client, as_admin, ready_request, student):
    assert ready_request.scan.url.startswith("/private-media/")
    assert client.get(ready_request.scan.url).status_code == 404
    file = as_admin.get(reverse("request_scan_file"))
    assert file.status_code == 200 and file.content == PNG_SCAN
    client.force_login(student)
    assert client.get(reverse("request_scan_file")).status_code == 403


def test_a_phone_that_is_not_a_russian_mobile_is_refused(as_admin, organisation, admin):
    post(as_admin, "request_start")
    response = post(
        as_admin, "request_details", {"full_name": "Иванова", "phone": "+7 495 123-45-67"}
    )
    assert "Введите российский номер мобильного телефона" in response.content.decode()
    assert RegistrationRequest.objects.get().admin_full_name == admin.full_name


def test_a_questionnaire_date_in_the_future_is_refused(as_admin, organisation, admin):
    _awaiting(as_admin)
    upload = SimpleUploadedFile("scan.png", PNG_SCAN)
    tomorrow = TODAY() + dt.timedelta(days=1)
    response = post(
        as_admin,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": f"{tomorrow}", **printed()},
    )
    assert "не может быть позже сегодняшней" in response.content.decode()
    assert RegistrationRequest.objects.get().status == RequestStatus.AWAITING_SIGNATURE


def test_return_needs_a_reason(as_admin, ready_request):
    post(as_admin, "request_send")
    response = post(as_admin, "request_return", {"reason": ""})
    assert "Укажите, что «Сферум» просит исправить." in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.SENT


def test_registration_before_sending_is_refused(as_admin, ready_request):
    response = post(
        as_admin,
        "request_register",
        {"date": f"{TODAY()}", "signed_in_confirmed": "on"},
        follow=True,
    )
    assert "Нельзя отметить регистрацию" in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY


def test_cancel_from_an_open_state_after_a_confirmation_page(as_admin, ready_request, admin):
    assert "Отменить заявку?" in as_admin.get(reverse("request_cancel")).content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY
    post(as_admin, "request_cancel", {"reason": "Передумали"})
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.CANCELLED
    with pytest.raises(
        PortalError, match=r"Заявка уже в состоянии «Отменена»: отменить её нельзя\."
    ):
        request_cancel(request=ready_request, actor=admin, reason="ещё раз")
    # A cancelled request frees the place for a new one.
    post(as_admin, "request_start")
    assert RegistrationRequest.objects.filter(status=RequestStatus.DRAFT).count() == 1


def test_one_open_request_per_organisation(as_admin, ready_request):
    response = post(as_admin, "request_start", follow=True)
    assert "У организации уже есть открытая заявка." in response.content.decode()
    assert RegistrationRequest.objects.count() == 1


def test_the_director_sees_the_request_and_downloads_the_letter_but_moves_nothing(
    client, director, ready_request
):
    client.force_login(director)
    text = page(client)
    assert "Готова к отправке" in text
    assert client.get(reverse("request_letter_pdf")).status_code == 200
    assert client.post(reverse("request_send")).status_code == 403
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY


def test_another_organisations_admin_never_sees_this_request(client, outsider, ready_request):
    client.force_login(outsider)
    assert ready_request.organisation.short_name not in page(client)
    assert client.get(reverse("request_letter_pdf")).status_code == 404
    assert client.get(reverse("request_scan_file")).status_code == 404
    assert client.post(reverse("request_send")).status_code == 404
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY


def _awaiting(client):
    post(client, "request_start")
    post(
        client,
        "request_details",
        {"full_name": "Захарова Ольга Викторовна", "phone": "+79123456789"},
    )
    post(client, "request_letter")
    assert RegistrationRequest.objects.get().status == RequestStatus.AWAITING_SIGNATURE


def _stored_scans(settings) -> list:
    folder = Path(settings.MEDIA_ROOT) / "onboarding" / "scans"
    return list(folder.glob("*")) if folder.exists() else []


def test_the_requests_history_is_append_only_in_the_admin():
    model_admin = django_admin.site._registry[AuditEntry]
    assert not model_admin.has_change_permission(request=None)
    assert not model_admin.has_delete_permission(request=None)


def test_a_scan_of_a_letter_made_anew_meanwhile_is_refused(as_admin, admin):
    """Two administrators: one prints the letter and goes to have it signed, the other
    changes the appointee's phone, which makes the letter anew. The scan of the old letter is
    refused (400, the request page again with its form offered for the new letter), nothing
    is stored, and the scan of the new letter is taken."""
    _awaiting(as_admin)
    shown = printed()
    post(
        as_admin,
        "request_details",
        {"full_name": "Захарова Ольга Викторовна", "phone": "+79120000000"},
    )
    assert RegistrationRequest.objects.get().letter_pdf.name != shown["letter"]
    upload = SimpleUploadedFile("scan.png", PNG_SCAN, content_type="image/png")
    response = post(
        as_admin, "request_scan", {"scan": upload, "questionnaire_filled_on": "2026-11-20", **shown}
    )
    assert response.status_code == 400
    assert "письмо о назначении сформировано заново" in response.content.decode()
    registration = RegistrationRequest.objects.get()
    # The form is offered again for the letter the page shows now.
    assert f'name="letter" value="{registration.letter_pdf.name}"' in response.content.decode()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    assert not registration.scan

    upload = SimpleUploadedFile("scan.png", PNG_SCAN, content_type="image/png")
    post(
        as_admin,
        "request_scan",
        {"scan": upload, "questionnaire_filled_on": "2026-11-20", **printed()},
    )
    assert RegistrationRequest.objects.get().status == RequestStatus.READY


def test_while_the_portal_sends_the_letter_no_other_way_to_send_it_is_offered(
    as_admin, ready_request, settings
):
    """The letter's job is queued: the page says it is being sent, offers neither the .eml nor
    «Письмо отправлено», and marking it sent from the organisation's mail is refused, so Sferum
    never gets it twice with the request recording once."""
    from cdt_portal.models import Job

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Job.objects.create(
        kind="registration_send",
        key=f"registration-send:{ready_request.pk}:send:0:{ready_request.message_id}",
        title="Отправка заявки",
        organisation=ready_request.organisation,
    )
    text = page(as_admin)
    assert "data-sending-from-portal" in text
    assert "Почтовый сервер портала не настроен" not in text
    assert reverse("request_eml") not in text and reverse("request_sent") not in text

    response = post(as_admin, "request_sent", {"date": f"{TODAY()}"}, follow=True)
    assert "Письмо сейчас отправляется из портала" in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY
