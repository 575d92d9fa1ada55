"""The registration request's states and the teachers' Sferum status: one guarded function per
change, atomic, each writing an append-only event. Views never assign a state."""

from __future__ import annotations

import datetime as dt
import uuid
from email.utils import make_msgid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organisation, User
from cdt_portal.emails import PortalEmail, build_templated

from .documents import render_letter
from .models import (
    FINAL_STATUSES,
    RegistrationRequest,
    RequestEvent,
    RequestStatus,
    SentVia,
    SferumStatus,
    TeacherSferumStatus,
    TeacherStatusEvent,
)
from .uploads import CheckedScan

REGISTRATION_SUBJECT = "СФЕРУМ:Регистрация организации"


class RequestError(Exception):
    """A refused change; the message names what is missing, in Russian."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


S = RequestStatus

NEXT_STEP = {
    S.DRAFT: (
        "Проверьте Ф.И.О. и мобильный телефон администратора и сформируйте письмо о назначении."
    ),
    S.AWAITING_SIGNATURE: (
        "Распечатайте письмо, подпишите у руководителя, поставьте печать, отсканируйте; "
        "заполните анкету организации и отметьте это здесь, приложив скан."
    ),
    S.READY: "Отправьте заявку на info@sferum.ru — из портала или из почты организации (.eml).",
    S.SENT: "Дождитесь ответа «Сферума»: права администратора придут на указанный телефон.",
    S.RETURNED: "Исправьте то, о чём просит «Сферум», и отправьте заявку снова.",
    S.REGISTERED: "Организация зарегистрирована. Педагоги могут подтверждать статус «учитель».",
    S.CANCELLED: "Заявка отменена. Начните новую, если нужно.",
}


def next_step(request: RegistrationRequest | None) -> str:
    if request is None:
        return "Начните заявку на регистрацию организации в «Сферуме»."
    return NEXT_STEP[RequestStatus(request.status)]


def current_request(organisation: Organisation) -> RegistrationRequest | None:
    return organisation.registration_requests.order_by("-created_at", "-pk").first()


def _lock(request: RegistrationRequest) -> RegistrationRequest:
    return RegistrationRequest.objects.select_for_update().get(pk=request.pk)


def _move(
    request: RegistrationRequest,
    to: str,
    actor: User | None,
    fields: list[str],
    comment: str = "",
) -> None:
    from_status = request.status
    request.status = to
    request.save(update_fields=["status", *fields])
    RequestEvent.objects.create(
        request=request, from_status=from_status, to_status=to, actor=actor, comment=comment
    )


def _require(request: RegistrationRequest, allowed: tuple[str, ...], action: str) -> None:
    if request.status not in allowed:
        names = ", ".join(f"«{RequestStatus(s).label}»" for s in allowed)
        raise RequestError(
            f"Нельзя {action}: заявка в состоянии «{request.get_status_display()}», "
            f"а это возможно только в состоянии {names}."
        )


def request_start(*, organisation: Organisation, actor: User) -> RegistrationRequest:
    """A new draft, filled in from the appointed platform administrator."""
    appointee = organisation.platform_administrators.first()
    try:
        with transaction.atomic():
            request = RegistrationRequest.objects.create(
                organisation=organisation,
                appointee=appointee,
                admin_full_name=appointee.full_name if appointee else "",
                admin_position=appointee.position if appointee else "",
                admin_phone=appointee.phone if appointee else "",
            )
            RequestEvent.objects.create(request=request, to_status=S.DRAFT, actor=actor)
    except IntegrityError as exc:
        raise RequestError("У организации уже есть открытая заявка.") from exc
    return request


def request_update_details(
    *, request: RegistrationRequest, actor: User, full_name: str, position: str, phone
) -> RegistrationRequest:
    """Edit the administrator's details. On a letter already printed, the letter is made anew."""
    with transaction.atomic():
        locked = _lock(request)
        _require(
            locked,
            (S.DRAFT, S.AWAITING_SIGNATURE, S.RETURNED),
            "изменить данные администратора",
        )
        locked.admin_full_name = full_name
        locked.admin_position = position
        locked.admin_phone = phone
        fields = ["admin_full_name", "admin_position", "admin_phone"]
        if locked.status == S.AWAITING_SIGNATURE:
            _store_letter(locked)
            _move(
                locked,
                S.AWAITING_SIGNATURE,
                actor,
                [*fields, "letter_pdf"],
                "письмо сформировано заново",
            )
        else:
            locked.save(update_fields=fields)
    return locked


def _store_letter(request: RegistrationRequest) -> None:
    _, pdf = render_letter(request)
    request.letter_pdf.save(
        f"letter-{request.pk}-{uuid.uuid4().hex[:8]}.pdf", ContentFile(pdf), save=False
    )


def request_prepare_letter(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.DRAFT, S.RETURNED), "сформировать письмо")
        missing = []
        if not locked.admin_full_name.strip():
            missing.append("Ф.И.О. администратора")
        if not locked.admin_phone:
            missing.append("мобильный телефон администратора")
        if missing:
            raise RequestError("Не хватает данных для письма: " + ", ".join(missing) + ".")
        _store_letter(locked)
        _move(locked, S.AWAITING_SIGNATURE, actor, ["letter_pdf"])
    return locked


def request_mark_ready(
    *,
    request: RegistrationRequest,
    actor: User,
    scan: CheckedScan,
    questionnaire_filled_on: dt.date,
) -> RegistrationRequest:
    if questionnaire_filled_on > timezone.localdate():
        raise RequestError("Дата заполнения анкеты не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.AWAITING_SIGNATURE,), "приложить подписанное письмо")
        locked.scan.save(
            f"scan-{locked.pk}-{uuid.uuid4().hex}.{scan.extension}",
            ContentFile(scan.content),
            save=False,
        )
        locked.scan_content_type = scan.content_type
        locked.questionnaire_filled_on = questionnaire_filled_on
        _move(
            locked,
            S.READY,
            actor,
            ["scan", "scan_content_type", "questionnaire_filled_on"],
            f"анкета заполнена {questionnaire_filled_on:%d.%m.%Y}",
        )
    return locked


def scan_filename(request: RegistrationRequest) -> str:
    extension = request.scan.name.rsplit(".", 1)[-1] if request.scan else "pdf"
    return f"Письмо о назначении администратора (подписано).{extension}"


def build_registration_email(request: RegistrationRequest) -> PortalEmail:
    """The e-mail to Sferum. The portal's sending and the .eml download both come from here,
    so they cannot differ."""
    if not request.scan:
        raise RequestError("Сначала приложите скан подписанного письма.")
    with request.scan.open("rb") as stored:
        content = stored.read()
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return build_templated(
        "registration_request",
        to=[settings.SFERUM_REGISTRATION_EMAIL],
        context={"request": request, "organisation": request.organisation},
        attachments=[(scan_filename(request), content, request.scan_content_type)],
        from_email=request.organisation.email or settings.DEFAULT_FROM_EMAIL,
        headers={
            "Message-ID": request.message_id or make_msgid(domain=domain),
            "Reply-To": request.organisation.email or settings.DEFAULT_FROM_EMAIL,
        },
    )


def portal_can_send() -> bool:
    """Whether EMAIL_URL points at a real mail server (not files or the console)."""
    return not settings.EMAIL_BACKEND.endswith(
        ("filebased.EmailBackend", "console.EmailBackend", "dummy.EmailBackend")
    )


def request_send(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    """Send through the configured SMTP server. The row stays locked while the message goes,
    so two administrators pressing «Отправить» at once send one e-mail and write one event.
    If the server refuses, nothing changes and the error goes back to the person."""
    if not portal_can_send():
        raise RequestError(
            "Почтовый сервер портала не настроен (EMAIL_URL). Скачайте письмо (.eml) и "
            "отправьте его из почты организации."
        )
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.READY,), "отправить заявку")
        message = build_registration_email(locked)
        try:
            message.send(fail_silently=False)
        except Exception as exc:  # smtplib and socket errors alike
            raise RequestError(
                f"Письмо не отправлено, заявка осталась «Готова к отправке». Ошибка сервера: {exc}"
            ) from exc
        locked.message_id = message.extra_headers["Message-ID"]
        locked.sent_at = timezone.now()
        locked.sent_via = SentVia.SMTP
        _move(
            locked,
            S.SENT,
            actor,
            ["message_id", "sent_at", "sent_via"],
            f"отправлена на {settings.SFERUM_REGISTRATION_EMAIL}, Message-ID {locked.message_id}",
        )
    return locked


def request_eml(*, request: RegistrationRequest) -> bytes:
    """The same message as an .eml file, for sending from the organisation's own mailbox.
    Its Message-ID is kept, so a confirmation later names the same message."""
    _require(request, (S.READY,), "скачать письмо")
    with transaction.atomic():
        locked = _lock(request)
        message = build_registration_email(locked)
        if not locked.message_id:
            locked.message_id = message.extra_headers["Message-ID"]
            locked.save(update_fields=["message_id"])
    return message.message().as_bytes()


def request_confirm_sent(
    *, request: RegistrationRequest, actor: User, sent_on: dt.date
) -> RegistrationRequest:
    if sent_on > timezone.localdate():
        raise RequestError("Дата отправки не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.READY,), "отметить заявку отправленной")
        ready_at = locked.events.filter(to_status=S.READY).latest("at").at
        if sent_on < timezone.localdate(ready_at):
            raise RequestError(
                f"Дата отправки раньше, чем заявка стала готова к отправке "
                f"({timezone.localdate(ready_at):%d.%m.%Y})."
            )
        locked.sent_at = timezone.make_aware(dt.datetime.combine(sent_on, dt.time(12, 0)))
        locked.sent_via = SentVia.EML
        _move(
            locked,
            S.SENT,
            actor,
            ["sent_at", "sent_via"],
            f"отправлена из почты организации {sent_on:%d.%m.%Y}",
        )
    return locked


def request_return(
    *, request: RegistrationRequest, actor: User, reason: str
) -> RegistrationRequest:
    if not reason.strip():
        raise RequestError("Укажите, что «Сферум» просит исправить.")
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.SENT,), "отметить возврат заявки")
        locked.return_reason = reason.strip()
        locked.message_id = ""  # the corrected request is a new message
        _move(locked, S.RETURNED, actor, ["return_reason", "message_id"], reason.strip())
    return locked


def request_register(
    *, request: RegistrationRequest, actor: User, registered_on: dt.date
) -> RegistrationRequest:
    if registered_on > timezone.localdate():
        raise RequestError("Дата регистрации не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        _require(locked, (S.SENT,), "отметить регистрацию")
        if locked.sent_at and registered_on < timezone.localdate(locked.sent_at):
            raise RequestError("Дата регистрации не может быть раньше отправки заявки.")
        locked.registered_on = registered_on
        _move(
            locked,
            S.REGISTERED,
            actor,
            ["registered_on"],
            f"права администратора получены на {locked.admin_phone.as_international}",
        )
    return locked


def request_cancel(
    *, request: RegistrationRequest, actor: User, reason: str
) -> RegistrationRequest:
    with transaction.atomic():
        locked = _lock(request)
        if locked.status in FINAL_STATUSES:
            raise RequestError(
                f"Заявка уже в состоянии «{locked.get_status_display()}»: отменить её нельзя."
            )
        _move(locked, S.CANCELLED, actor, [], reason.strip())
    return locked


# Teachers' Sferum status ------------------------------------------------------------------

TEACHER_STEPS = {
    SferumStatus.PROFILE_CREATED: (SferumStatus.NOT_STARTED, "profile_created_on"),
    SferumStatus.VERIFICATION_REQUESTED: (
        SferumStatus.PROFILE_CREATED,
        "verification_requested_on",
    ),
    SferumStatus.VERIFIED: (SferumStatus.VERIFICATION_REQUESTED, "verified_on"),
}


def teacher_status(person: User) -> TeacherSferumStatus:
    status, _ = TeacherSferumStatus.objects.get_or_create(person=person)
    return status


def teacher_status_advance(*, person: User, to: str, actor: User) -> TeacherSferumStatus:
    """One step forward. The teacher reports the first two; only an administrator verifies."""
    required, date_field = TEACHER_STEPS[SferumStatus(to)]
    if to == SferumStatus.VERIFIED:
        if not actor.has_role("admin") or actor.organisation_id != person.organisation_id:
            raise RequestError("Статус «учитель» отмечает администратор ИКОП «Сферум».")
    elif actor.pk != person.pk:
        raise RequestError("Этот шаг педагог отмечает сам.")
    with transaction.atomic():
        TeacherSferumStatus.objects.get_or_create(person=person)
        status = TeacherSferumStatus.objects.select_for_update().get(person=person)
        if status.status != required:
            raise RequestError(
                f"Сейчас статус «{status.get_status_display()}»: "
                f"сначала нужен шаг «{SferumStatus(required).label}»."
            )
        from_status = status.status
        status.status = to
        setattr(status, date_field, timezone.localdate())
        fields = ["status", date_field]
        if to == SferumStatus.VERIFIED:
            status.verified_by = actor
            fields.append("verified_by")
        status.save(update_fields=fields)
        TeacherStatusEvent.objects.create(
            person=person, from_status=from_status, to_status=to, actor=actor
        )
    return status
