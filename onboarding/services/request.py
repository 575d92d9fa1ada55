"""The registration request's steps, from the draft to «registered»: one function per step,
each in one transaction with one audit entry; a refusal is a `PortalError` and changes
nothing. Which step is allowed in which state is `models.TRANSITIONS`; views never assign a
state. Sending the e-mail is a job (`request_send_start`, then `request_send_run`)."""

from __future__ import annotations

import datetime as dt
import uuid
from email.utils import make_msgid

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organisation, User
from cdt_portal import outbox
from cdt_portal.audit import changes, history, log_action, snapshot
from cdt_portal.errors import PortalError
from cdt_portal.jobs import job_progress, job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient
from cdt_portal.uploads import CheckedUpload

from ..actions import (
    REQUEST_DETAILS_CHANGED,
    SCAN_REFUSED,
    SEND_ATTEMPT,
    SEND_QUEUED,
    SEND_REFUSED,
    request_action,
)
from ..documents import build_registration_email, new_message_id, portal_can_send, render_letter
from ..models import RegistrationRequest, RequestStatus, SentVia
from ..selectors import missing_letterhead_fields, organisation_mail_domain, send_job

S = RequestStatus


def _lock(request: RegistrationRequest) -> RegistrationRequest:
    return RegistrationRequest.objects.select_for_update().get(pk=request.pk)


def _move(
    request: RegistrationRequest,
    action: str,
    actor: User,
    fields: list[str],
    comment: str = "",
    *,
    target: str | None = None,
    extra: dict | None = None,
) -> None:
    """Take `action` (a key of TRANSITIONS, already allowed by `require`): the new state, the
    given fields and one audit entry, all in the caller's transaction. `target` overrides the
    table's state for the one outcome it does not name: a send whose result is unknown."""
    step = request.require(action)
    to = target or step.target
    from_status = request.status
    request.status = to
    request.save(update_fields=["status", *fields])
    log_action(
        actor,
        request,
        request_action(to),
        {"from": from_status, "to": to, "comment": comment, **(extra or {})},
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
            log_action(
                actor, request, request_action(S.DRAFT), {"from": "", "to": S.DRAFT, "comment": ""}
            )
    except IntegrityError as exc:
        raise PortalError("У организации уже есть открытая заявка.") from exc
    return request


DETAILS_FIELDS = ("admin_full_name", "admin_position", "admin_phone")


def request_update_details(
    *, request: RegistrationRequest, actor: User, full_name: str, position: str, phone
) -> RegistrationRequest:
    """Edit the administrator's details. On a letter already printed, the letter is made anew.
    Saving the same details again changes nothing and records nothing."""
    with transaction.atomic():
        locked = _lock(request)
        locked.require("update_details")
        before = snapshot(locked, DETAILS_FIELDS)
        locked.admin_full_name = full_name
        locked.admin_position = position
        # As the field stores it, so "+79123456789" and "+7 912 345-67-89" are no change.
        locked.admin_phone = RegistrationRequest._meta.get_field("admin_phone").to_python(phone)
        changed = changes(before, snapshot(locked, DETAILS_FIELDS))
        if not changed:
            return locked
        fields = list(DETAILS_FIELDS)
        if locked.status == S.AWAITING_SIGNATURE:
            _store_letter(locked)
            fields.append("letter_pdf")
            changed["comment"] = "письмо сформировано заново"
        locked.save(update_fields=fields)
        log_action(actor, locked, REQUEST_DETAILS_CHANGED, changed)
    return locked


def _store_letter(request: RegistrationRequest) -> None:
    _, pdf = render_letter(request)
    request.letter_pdf.save(
        f"letter-{request.pk}-{uuid.uuid4().hex[:8]}.pdf", ContentFile(pdf), save=False
    )


def request_prepare_letter(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    with transaction.atomic():
        locked = _lock(request)
        locked.require("prepare_letter")
        missing = []
        if not locked.admin_full_name.strip():
            missing.append("Ф.И.О. администратора")
        if not locked.admin_phone:
            missing.append("мобильный телефон администратора")
        if missing:
            raise PortalError("Не хватает данных для письма: " + ", ".join(missing) + ".")
        letterhead = missing_letterhead_fields(locked.organisation)
        if letterhead:
            raise PortalError(
                "Письмо о назначении не сформировано: на бланке печатаются адрес, телефон и "
                "e-mail организации, а в сведениях об организации не указано: "
                f"{', '.join(letterhead)}. Заполните их в разделе «Организация»."
            )
        _store_letter(locked)
        _move(locked, "prepare_letter", actor, ["letter_pdf"])
    return locked


LETTER_MADE_ANEW = (
    "Пока вы готовили скан, письмо о назначении сформировано заново: данные администратора "
    "изменены. Распечатайте новое письмо, подпишите его и приложите его скан."
)


def request_mark_ready(
    *,
    request: RegistrationRequest,
    actor: User,
    scan: CheckedUpload,
    questionnaire_filled_on: dt.date,
    letter: str,
) -> RegistrationRequest:
    """The signed scan is attached and the questionnaire filled in: ready to send. The e-mail's
    Message-ID is fixed here, so sending and the .eml download (a read) name the same message.
    `letter`: the stored letter the administrator printed and had signed; a letter made anew
    since then is refused (tests/onboarding/test_request.py)."""
    if questionnaire_filled_on > timezone.localdate():
        raise PortalError("Дата заполнения анкеты не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("mark_ready")
        if letter != locked.letter_pdf.name:
            raise PortalError(LETTER_MADE_ANEW, field="scan")
        locked.scan.save(
            f"scan-{locked.pk}-{uuid.uuid4().hex}.{scan.extension}",
            ContentFile(scan.content),
            save=False,
        )
        locked.scan_content_type = scan.content_type
        locked.questionnaire_filled_on = questionnaire_filled_on
        locked.message_id = _new_message_id(locked.organisation)
        _move(
            locked,
            "mark_ready",
            actor,
            ["scan", "scan_content_type", "questionnaire_filled_on", "message_id"],
            f"анкета заполнена {questionnaire_filled_on:%d.%m.%Y}",
        )
    return locked


def _new_message_id(organisation: Organisation) -> str:
    """The request's Message-ID: on the organisation's mail domain, as its mail program would
    make it for the .eml it sends; on the portal's domain when the organisation has no
    e-mail (then only the portal can send, from its own address)."""
    domain = organisation_mail_domain(organisation)
    return make_msgid(domain=domain) if domain else new_message_id()


def request_scan_refused(
    *, request: RegistrationRequest, actor: User, filename: str, size: int | None, reason: str
) -> None:
    """Record that an uploaded scan was refused (the trust issue asks for an audit entry for a
    refused upload: a file built to pass as a PDF is a signal worth keeping). Its own
    transaction, separate from any change, so the entry stays although nothing else is
    written; the file itself is not kept."""
    with transaction.atomic():
        log_action(
            actor,
            request,
            SCAN_REFUSED,
            {"filename": (filename or "")[:200], "size": size, "reason": reason},
        )


def _require_mail_server() -> None:
    if not portal_can_send():
        raise PortalError(
            "Почтовый сервер портала не настроен (EMAIL_URL). Скачайте письмо (.eml) и "
            "отправьте его из почты организации."
        )


# --- Sending the registration e-mail: a job, its letter through the outbox ---------------

SEND_ACTIONS = ("send", "resend")
SEND_INTERRUPTED = (
    "работа прервалась, пока письмо передавалось почтовому серверу; повторно оно само не отправится"
)


def request_send_start(*, request: RegistrationRequest, actor: User, action: str) -> Job:
    """«Отправить» (or «Отправить ещё раз» from «не подтверждена»): check the step is allowed
    now, then queue the job that sends (`request_send_run`). The key is the request, the step,
    its Message-ID and its last change (a refusal counts, the queueing and the attempt do not),
    so a double press finds the first press's job while a later send (after a return, or after
    the server refused) is a new job with a letter of its own. Queue down:
    `PortalError`, nothing recorded."""
    if action not in SEND_ACTIONS:
        raise PortalError("Неизвестное действие.")
    _require_mail_server()
    with transaction.atomic():
        locked = _lock(request)
        locked.require(action)
        last = (
            history(locked).exclude(action__in=(SEND_QUEUED, SEND_ATTEMPT)).order_by("-pk").first()
        )
        key = (
            f"registration-send:{locked.pk}:{action}:{last.pk if last else 0}:"
            f"{locked.message_id or 'new'}"
        )[:200]
        existing = Job.objects.filter(key=key).exclude(status=Job.Status.FAILED).first()
        if existing is not None:
            return existing
        # Recorded before the job is queued: a worker may run it at once, and the timeline
        # must read «queued» before what the job does. A queue that is down undoes both.
        log_action(actor, locked, SEND_QUEUED, {"action": action, "key": key})
        job = start_job(
            task=send_registration_request,
            key=key,
            kind="registration_send",
            title=f"Отправка заявки на {settings.SFERUM_REGISTRATION_EMAIL}",
            organisation_id=locked.organisation_id,
            actor=actor,
            args=(locked.pk, action),
            total=1,
        )
    return job


def request_send_run(*, job_id: int, request_id: int, action: str) -> str:
    """The job's work: the one letter of the job's batch in the outbox, claimed (`sending`
    committed, an attempt recorded) before the mail server gets it and settled after. The
    request moves as the letter ends: «отправлена»; «не подтверждена» when the server went
    quiet after it may have taken the letter, or when a run finds its letter still `sending`
    because the worker stopped mid-send (never sent again by itself: the administrator
    chooses); a refusal changes nothing, is recorded and fails the job with the reason."""
    job = Job.objects.select_related("started_by").get(pk=job_id)
    actor = job.started_by
    request = RegistrationRequest.objects.select_related("organisation").get(pk=request_id)
    batch = f"registration:{request_id}:{job_id}"
    outbox.record(
        batch=batch,
        kind=Delivery.Kind.REGISTRATION,
        organisation_id=request.organisation_id,
        recipients=[Recipient(None, settings.SFERUM_REGISTRATION_EMAIL, {"action": action})],
    )

    def claim(letter: Delivery) -> None:
        locked = _lock(request)
        try:
            locked.require(action)
        except PortalError as refusal:  # moved on since the job was queued
            letter.status, letter.reason = Delivery.Status.FAILED, refusal.message
            return
        if not locked.message_id:  # kept for a resend; a new one for a corrected request
            locked.message_id = _new_message_id(locked.organisation)
            locked.save(update_fields=["message_id"])
        letter.data = {**letter.data, "message_id": locked.message_id}
        log_action(actor, locked, SEND_ATTEMPT, {"job": job_id, "action": action})

    def build(letter: Delivery):
        return build_registration_email(
            RegistrationRequest.objects.select_related("organisation").get(pk=request_id)
        )

    def settled(letter: Delivery) -> None:
        locked = _lock(request)
        if letter.status == Delivery.Status.FAILED:
            log_action(actor, locked, SEND_REFUSED, {"job": job_id, "reason": letter.reason})
        elif not locked.allows(action):
            return  # moved on meanwhile (cancelled): the letter's row tells what happened
        elif letter.status == Delivery.Status.SENT:
            locked.sent_at = letter.updated_at
            locked.sent_via = SentVia.SMTP
            _move(
                locked,
                action,
                actor,
                ["sent_at", "sent_via"],
                f"отправлена на {letter.email}, Message-ID {locked.message_id}",
            )
        else:
            why = (
                SEND_INTERRUPTED
                if letter.reason == outbox.INTERRUPTED
                else f"почтовый сервер не ответил после передачи письма ({letter.reason})"
            )
            comment = f"{why}; Message-ID {locked.message_id}"
            _move(locked, action, actor, [], comment, target=S.UNCONFIRMED)

    outbox.send(batch=batch, build=build, on_claim=claim, on_settled=settled)
    letter = outbox.letters(batch).get()
    if letter.status == Delivery.Status.FAILED:
        request.refresh_from_db()
        raise PortalError(
            f"Письмо не отправлено, заявка осталась «{request.get_status_display()}». "
            f"Ошибка сервера: {letter.reason}"
        )
    job_progress(job_id, 1)
    return ""


# Never retried by huey nor from the jobs page: a run again after a stop finds its letter and
# sends nothing twice; the request page offers «Отправить» again after a refusal.
@job_task(retryable=False)
def send_registration_request(job_id: int, request_id: int, action: str) -> str:
    return request_send_run(job_id=job_id, request_id=request_id, action=action)


def request_confirm_delivered(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    """The administrator found the message in «Отправленные» (or Sferum answered): it went,
    at the time of the unconfirmed attempt. Nothing is sent."""
    with transaction.atomic():
        locked = _lock(request)
        locked.require("confirm_delivered")
        attempt = (
            history(locked)
            .filter(action=request_action(S.UNCONFIRMED))
            .order_by("-at", "-pk")
            .first()
        )
        locked.sent_at = attempt.at if attempt else timezone.now()
        locked.sent_via = SentVia.SMTP
        _move(
            locked,
            "confirm_delivered",
            actor,
            ["sent_at", "sent_via"],
            f"администратор подтвердил, что письмо дошло, Message-ID {locked.message_id}",
        )
    return locked


def _ready_since(request: RegistrationRequest) -> dt.date:
    """The day the request last became ready, from its audit history: the log is the record
    of when each step happened (migrated from the old event table with its times), so no
    second copy of that date is kept on the request."""
    entry = history(request).filter(action=request_action(S.READY)).order_by("-at", "-pk").first()
    return timezone.localdate(entry.at if entry else request.created_at)


SENDING_FROM_PORTAL = (
    "Письмо сейчас отправляется из портала: дождитесь результата на странице заявки, "
    "а не отправляйте его ещё и из почты организации."
)


def request_confirm_sent(
    *, request: RegistrationRequest, actor: User, sent_on: dt.date
) -> RegistrationRequest:
    if sent_on > timezone.localdate():
        raise PortalError("Дата отправки не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("confirm_sent")
        job = send_job(locked)
        if job is not None and not job.finished:
            # Both ways at once would send Sferum two letters, the request recording one.
            raise PortalError(SENDING_FROM_PORTAL)
        ready_on = _ready_since(locked)
        if sent_on < ready_on:
            raise PortalError(
                f"Дата отправки раньше, чем заявка стала готова к отправке ({ready_on:%d.%m.%Y})."
            )
        locked.sent_at = timezone.make_aware(dt.datetime.combine(sent_on, dt.time(12, 0)))
        locked.sent_via = SentVia.EML
        _move(
            locked,
            "confirm_sent",
            actor,
            ["sent_at", "sent_via"],
            f"отправлена из почты организации {sent_on:%d.%m.%Y}",
        )
    return locked


def request_return(
    *, request: RegistrationRequest, actor: User, reason: str
) -> RegistrationRequest:
    if not reason.strip():
        raise PortalError("Укажите, что «Сферум» просит исправить.", field="reason")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("return")
        locked.return_reason = reason.strip()
        locked.message_id = ""  # the corrected request is a new message, with a new ID
        _move(locked, "return", actor, ["return_reason", "message_id"], reason.strip())
    return locked


# Section 4.5: before the request is marked registered, the administrator confirms that she
# signed in to Sferum with the phone number given in the letter; the audit entry keeps it.
SIGNED_IN_REFUSAL = (
    "Подтвердите, что вы вошли в «Сферум» с номером телефона, указанным в письме о назначении."
)


def request_register(
    *,
    request: RegistrationRequest,
    actor: User,
    registered_on: dt.date,
    signed_in_confirmed: bool,
) -> RegistrationRequest:
    if not signed_in_confirmed:
        raise PortalError(SIGNED_IN_REFUSAL, field="signed_in_confirmed")
    if registered_on > timezone.localdate():
        raise PortalError("Дата регистрации не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("register")
        if locked.sent_at and registered_on < timezone.localdate(locked.sent_at):
            raise PortalError("Дата регистрации не может быть раньше отправки заявки.")
        locked.registered_on = registered_on
        _move(
            locked,
            "register",
            actor,
            ["registered_on"],
            f"права администратора получены на {locked.admin_phone.as_international}",
            extra={"signed_in_with_letter_phone": True},
        )
    return locked


def request_cancel(
    *, request: RegistrationRequest, actor: User, reason: str
) -> RegistrationRequest:
    with transaction.atomic():
        locked = _lock(request)
        locked.require("cancel")
        _move(locked, "cancel", actor, [], reason.strip())
    return locked
