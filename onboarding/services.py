"""Every change the rollout makes: the registration request's steps, the teachers' Sferum
status, the parents' notice and consents. One function per change, in one transaction, each
writing one audit entry; a refusal is a `PortalError` and changes nothing. Views never assign
a state. Which request step is allowed in which state is `models.TRANSITIONS`."""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import uuid
from email.utils import make_msgid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import mailing
from accounts.mailing import Mailer
from accounts.messenger import names_vk, replace_vk_names
from accounts.models import Guardianship, Messenger, Organisation, Role, User
from acknowledgements.models import DocumentVersion, text_sha256
from acknowledgements.selectors import current_version
from acknowledgements.services import version_create
from cdt_portal.audit import changes, history, log_action, snapshot
from cdt_portal.emails import build_templated
from cdt_portal.errors import Gone, PortalError
from cdt_portal.jobs import start_job
from cdt_portal.markup import refuse_images
from cdt_portal.models import Job
from cdt_portal.reminder_schedule import reminder_due

from . import tasks
from .actions import (
    AMENDMENT_ACT_ADDED,
    AMENDMENT_ACT_REMOVED,
    AMENDMENT_UPDATED,
    CONSENT_GIVEN,
    CONSENT_PAPER_GIVEN,
    CONSENT_PAPER_WITHDRAWN,
    CONSENT_WITHDRAWN,
    DIGEST_FAILED,
    DIGEST_SENT,
    FAMILY_DECLINED,
    FAMILY_RETURNED,
    NOTICE_CONFIRMED,
    NOTICE_PUBLISHED,
    PARENT_DEADLINE_SET,
    PARENT_REMINDED,
    REQUEST_DETAILS_CHANGED,
    SCAN_REFUSED,
    SEND_ATTEMPT,
    SEND_JOB_ACTIONS,
    SEND_QUEUED,
    SEND_REFUSED,
    SFERUM_STATUS_CHANGED,
    STUDENT_NOTICE_CONFIRMED,
    STUDENT_NOTICE_PUBLISHED,
    request_action,
)
from .documents import build_registration_email, new_message_id, portal_can_send, render_letter
from .models import (
    TRANSITIONS,
    AmendmentItem,
    AmendmentState,
    ConsentAction,
    ConsentDetails,
    ConsentRecord,
    ConsentText,
    DigestSent,
    FamilyChannel,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    ParentReminder,
    ParentTask,
    RegistrationRequest,
    ReminderStatus,
    RequestStatus,
    SentVia,
    SferumStatus,
    StudentNotice,
    StudentNoticeAcknowledgement,
    TeacherSferumStatus,
)
from .selectors import (
    consent_state,
    current_notice,
    current_student_notice,
    declined_family_ids,
    default_consent_text,
    digest_recipients,
    missing_letterhead_fields,
    open_regulation_draft,
    organisation_mail_domain,
    parent_reminder_history,
    pending_parents,
    weekly_digest_context,
)
from .uploads import CheckedScan

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


def request_mark_ready(
    *,
    request: RegistrationRequest,
    actor: User,
    scan: CheckedScan,
    questionnaire_filled_on: dt.date,
) -> RegistrationRequest:
    """The signed scan is attached and the questionnaire filled in: ready to send. The e-mail's
    Message-ID is fixed here, so sending and the .eml download (a read) name the same message."""
    if questionnaire_filled_on > timezone.localdate():
        raise PortalError("Дата заполнения анкеты не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("mark_ready")
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


class _Outcome:
    SENT = "sent"
    REFUSED = "refused"
    UNKNOWN = "unknown"


# Errors after which the server certainly did not take the message: it answered with an
# error code (sender, recipients, DATA refused, authentication) or never let us in. Anything
# else once the connection is open (a timeout, a dropped connection) may have happened after
# the server accepted the message, so it is not taken for a failure.
_CERTAIN_REFUSALS = (
    smtplib.SMTPResponseException,
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPNotSupportedError,
    ConnectionRefusedError,
    socket.gaierror,
)


def _drop(connection) -> None:
    """Close without QUIT: after a timeout a polite QUIT would wait EMAIL_TIMEOUT again."""
    smtp = getattr(connection, "connection", None)
    if smtp is not None:
        try:
            smtp.close()
        except OSError:
            pass
        connection.connection = None


def _deliver(message) -> tuple[str, str]:
    """Send one message with EMAIL_TIMEOUT in force; say whether it went, was refused before
    the server took anything, or ended in a way that leaves it unknown (with the error)."""
    connection = get_connection(fail_silently=False)
    try:
        connection.open()  # connecting, TLS and login: nothing is accepted yet
    except Exception as exc:
        _drop(connection)
        return _Outcome.REFUSED, str(exc)
    try:
        connection.send_messages([message])
    except _CERTAIN_REFUSALS as exc:
        return _Outcome.REFUSED, str(exc)
    except Exception as exc:  # a timeout or a dropped line: it may have gone
        return _Outcome.UNKNOWN, str(exc) or type(exc).__name__
    finally:
        _drop(connection)
    return _Outcome.SENT, ""


def _send_and_record(locked: RegistrationRequest, actor: User, action: str) -> None:
    """The sending part of `request_send` and `request_resend`, under the caller's lock and
    transaction. Refused: nothing changes, the error goes back. Unknown: the request moves
    to «не подтверждена», recorded, and the caller's transaction commits it."""
    message = build_registration_email(locked)
    outcome, error = _deliver(message)
    if outcome == _Outcome.REFUSED:
        raise PortalError(
            f"Письмо не отправлено, заявка осталась «{locked.get_status_display()}». "
            f"Ошибка сервера: {error}"
        )
    locked.message_id = message.extra_headers["Message-ID"]
    if outcome == _Outcome.UNKNOWN:
        _move(
            locked,
            action,
            actor,
            ["message_id"],
            f"почтовый сервер не ответил после передачи письма ({error}); "
            f"Message-ID {locked.message_id}",
            target=S.UNCONFIRMED,
        )
        return
    locked.sent_at = timezone.now()
    locked.sent_via = SentVia.SMTP
    _move(
        locked,
        action,
        actor,
        ["message_id", "sent_at", "sent_via"],
        f"отправлена на {settings.SFERUM_REGISTRATION_EMAIL}, Message-ID {locked.message_id}",
    )


def _require_mail_server() -> None:
    if not portal_can_send():
        raise PortalError(
            "Почтовый сервер портала не настроен (EMAIL_URL). Скачайте письмо (.eml) и "
            "отправьте его из почты организации."
        )


def request_send(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    """Send through the configured SMTP server. The row stays locked while the message goes,
    so two administrators pressing «Отправить» at once send one e-mail and write one entry.
    If the server refuses, nothing changes and the error goes back to the person. If it
    stops answering once it may have taken the message (EMAIL_TIMEOUT), the request becomes
    «Отправка не подтверждена» and waits for the administrator's explicit choice
    (`request_confirm_delivered` or `request_resend`): a second press of «Отправить» is
    refused, so the message is never sent twice by accident."""
    _require_mail_server()
    with transaction.atomic():
        locked = _lock(request)
        locked.require("send")
        _send_and_record(locked, actor, "send")
    return locked


def request_resend(*, request: RegistrationRequest, actor: User) -> RegistrationRequest:
    """The administrator checked and the message did not arrive: send it again, on their
    explicit choice, with the same Message-ID so Sferum can tell it is the same request."""
    _require_mail_server()
    with transaction.atomic():
        locked = _lock(request)
        locked.require("resend")
        _send_and_record(locked, actor, "resend")
    return locked


# --- The registration e-mail as a job -------------------------------------------------------

SEND_SERVICES = {"send": "request_send", "resend": "request_resend"}
SEND_INTERRUPTED = (
    "работа прервалась, пока письмо передавалось почтовому серверу; повторно оно само не отправится"
)


def request_send_start(*, request: RegistrationRequest, actor: User, action: str) -> Job:
    """«Отправить» (or «Отправить ещё раз»): check the step is allowed now, then queue the job
    that sends (`request_send_run`). The key is the request, the step, its Message-ID and its
    last change, so a double press finds the first press's job while a later, new send (after
    a return) gets its own. Queue down: `PortalError`, nothing recorded."""
    if action not in SEND_SERVICES:
        raise PortalError("Неизвестное действие.")
    _require_mail_server()
    with transaction.atomic():
        locked = _lock(request)
        locked.require(action)
        last = history(locked).exclude(action__in=SEND_JOB_ACTIONS).order_by("-pk").first()
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
            task=tasks.send_registration_request,
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
    """The job's work: one call of `request_send` (or `request_resend`), never repeated by
    itself. An attempt is recorded (committed) before the message goes; a run that finds its
    job's attempt without an outcome knows the worker stopped mid-send, and moves the request
    to «Отправка не подтверждена» instead of sending again. A refusal is recorded and raised
    (the job fails with the server's reason); «не подтверждена» is committed, not raised."""
    job = Job.objects.select_related("started_by").get(pk=job_id)
    actor = job.started_by
    request = RegistrationRequest.objects.get(pk=request_id)
    entries = history(request).filter(data__job=job_id)
    last_attempt = entries.filter(action=SEND_ATTEMPT).order_by("-pk").first()
    last_refusal = entries.filter(action=SEND_REFUSED).order_by("-pk").first()
    if last_attempt and (last_refusal is None or last_refusal.pk < last_attempt.pk):
        with transaction.atomic():
            locked = _lock(request)
            if locked.status in TRANSITIONS[action].sources:
                _move(locked, action, actor, [], SEND_INTERRUPTED, target=S.UNCONFIRMED)
        return ""
    with transaction.atomic():
        log_action(actor, request, SEND_ATTEMPT, {"job": job_id, "action": action})
    service = request_send if action == "send" else request_resend
    try:
        service(request=request, actor=actor)
    except PortalError as exc:
        with transaction.atomic():
            log_action(actor, request, SEND_REFUSED, {"job": job_id, "reason": exc.message})
        raise
    return ""


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


def request_confirm_sent(
    *, request: RegistrationRequest, actor: User, sent_on: dt.date
) -> RegistrationRequest:
    if sent_on > timezone.localdate():
        raise PortalError("Дата отправки не может быть позже сегодняшней.")
    with transaction.atomic():
        locked = _lock(request)
        locked.require("confirm_sent")
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


# Teachers' Sferum status ------------------------------------------------------------------

# Each step: the status it follows and the date field it fills.
TEACHER_STEPS = {
    SferumStatus.PROFILE_CREATED: (SferumStatus.NOT_STARTED, "profile_created_on"),
    SferumStatus.VERIFICATION_REQUESTED: (
        SferumStatus.PROFILE_CREATED,
        "verification_requested_on",
    ),
    SferumStatus.VERIFIED: (SferumStatus.VERIFICATION_REQUESTED, "verified_on"),
}


def teacher_status_advance(*, person: User, to: str, actor: User) -> TeacherSferumStatus:
    """One step forward. The teacher reports the first two; only an administrator verifies.
    The audit entry is about the person, so it also shows in their page's history."""
    if to not in TEACHER_STEPS:
        raise PortalError("Такого шага нет.")
    required, date_field = TEACHER_STEPS[SferumStatus(to)]
    if to == SferumStatus.VERIFIED:
        if not actor.has_role(Role.ADMIN) or actor.organisation_id != person.organisation_id:
            raise PortalError("Статус «учитель» отмечает администратор ИКОП «Сферум».")
    elif actor.pk != person.pk:
        raise PortalError("Этот шаг педагог отмечает сам.")
    with transaction.atomic():
        # The row is created with the first step (a page only reads a default), then locked,
        # so two clicks at once take the step once.
        TeacherSferumStatus.objects.get_or_create(person=person)
        status = TeacherSferumStatus.objects.select_for_update().get(person=person)
        if status.status != required:
            raise PortalError(
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
        log_action(actor, person, SFERUM_STATUS_CHANGED, {"from": from_status, "to": to})
    return status


# Parents: the notice and the consent --------------------------------------------------------


def _publish_notice(*, model, current, organisation: Organisation, actor: User, text: str, action):
    """A new edition of a notice (parents' or students'); each edition is confirmed anew.
    Publishing the text already in force changes nothing, so the confirmations stay."""
    text = text.strip()
    if not text:
        raise PortalError("Текст уведомления пустой.", field="text")
    refuse_images(text)
    with transaction.atomic():
        in_force = current(organisation)
        if in_force is not None and in_force.text == text:
            return in_force
        notice = model.objects.create(organisation=organisation, text=text, published_by=actor)
        log_action(actor, notice, action, {"text_sha256": text_sha256(text)})
    return notice


def notice_publish(*, organisation: Organisation, actor: User, text: str) -> ParentNotice:
    """A new edition of the parents' notice."""
    return _publish_notice(
        model=ParentNotice,
        current=current_notice,
        organisation=organisation,
        actor=actor,
        text=text,
        action=NOTICE_PUBLISHED,
    )


def notice_confirm(*, notice: ParentNotice, parent: User) -> NoticeAcknowledgement:
    """The parent has read the notice. A second confirmation changes nothing."""
    if not parent.has_role(Role.PARENT) or parent.organisation_id != notice.organisation_id:
        raise PortalError("Подтверждать уведомление могут только родители.")
    with transaction.atomic():
        ack, created = NoticeAcknowledgement.objects.get_or_create(notice=notice, parent=parent)
        if created:
            log_action(parent, notice, NOTICE_CONFIRMED)
    return ack


def _consent_text_in_force(organisation: Organisation) -> ConsentText:
    """The consent text in force, stored when the first consent is recorded under it. The
    organisation row is locked first, so two first consents at once store one text."""
    body = default_consent_text(organisation)
    edition = ConsentText.objects.filter(organisation=organisation, text_sha256=text_sha256(body))
    text = edition.first()
    if text is not None:
        return text
    Organisation.objects.select_for_update().get(pk=organisation.pk)
    text = edition.first()
    if text is None:
        text = ConsentText.objects.create(
            organisation=organisation, text=body, text_sha256=text_sha256(body)
        )
    return text


CONSENT_ACTIONS = {ConsentAction.GIVEN: CONSENT_GIVEN, ConsentAction.WITHDRAWN: CONSENT_WITHDRAWN}


def consent_record(
    *, parent: User, student: User, action: str, ip_address: str | None
) -> ConsentRecord:
    """Give or withdraw consent for one's own child. Each act is a new row; nothing is
    overwritten, so the history stays. Repeating the act in force changes nothing."""
    if action not in ConsentAction.values:
        raise PortalError("Неизвестное действие.")
    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise PortalError("Согласие даёт только родитель (законный представитель) этого ребёнка.")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        last = consent_state(student)
        if last is not None and last.action == action:
            return last
        consent_text = _consent_text_in_force(student.organisation)
        record = ConsentRecord.objects.create(
            parent=parent,
            student=student,
            action=action,
            consent_text=consent_text,
            ip_address=ip_address,
        )
        log_action(
            parent,
            record,
            CONSENT_ACTIONS[action],
            {"student": student.pk, "text_sha256": consent_text.text_sha256},
        )
    return record


# --- Scheduled reminders: the hook for the deadlines issue ----------------------------------


def scheduled_reminders_due(*, now: dt.datetime | None = None) -> list:
    """The reminders that are due now and not yet sent. Nothing uses this hourly hook yet:
    the parents' reminders are daily (`parent_reminders_send`, by
    `tasks.scheduled_parent_reminders`), so nothing is due here and nothing is written.
    Called every hour by `onboarding.tasks.scheduled_reminders`; whatever it returns then
    must be sent by a job keyed by (rule, person, period), so a second run in the same
    period finds the job already there and sends nothing twice."""
    return []


# Issue 12, the family side: the students' notice, families who decline, the full consent ---


def student_notice_publish(*, organisation: Organisation, actor: User, text: str):
    """A new edition of the students' notice; students confirm each edition anew. The text in
    force again changes nothing."""

    return _publish_notice(
        model=StudentNotice,
        current=current_student_notice,
        organisation=organisation,
        actor=actor,
        text=text,
        action=STUDENT_NOTICE_PUBLISHED,
    )


def student_notice_confirm(*, notice, student: User):
    """The student has read their notice. A second confirmation changes nothing."""

    if not student.has_role(Role.STUDENT) or student.organisation_id != notice.organisation_id:
        raise PortalError("Подтверждать это уведомление могут только обучающиеся.")
    with transaction.atomic():
        ack, created = StudentNoticeAcknowledgement.objects.get_or_create(
            notice=notice, student=student
        )
        if created:
            log_action(student, notice, STUDENT_NOTICE_CONFIRMED)
    return ack


def family_choice_set(
    *, parent: User, student: User, declined: bool, channel: str = "", contact: str = ""
):
    """The parent says «не используем „Сферум“» for their child and names another channel, or
    changes their mind. Nobody is pressed: the choice needs no reason. The same choice again
    changes nothing."""

    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise PortalError("Выбор делает только родитель (законный представитель) этого ребёнка.")
    contact = contact.strip()
    if declined:
        if channel not in FamilyChannel.values:
            raise PortalError("Выберите другой способ связи.", field="channel")
        if channel in (FamilyChannel.PHONE, FamilyChannel.EMAIL) and not contact:
            what = "номер телефона" if channel == FamilyChannel.PHONE else "адрес электронной почты"
            raise PortalError(f"Укажите {what} для связи.", field="contact")
        if channel == FamilyChannel.PAPER:
            contact = ""
    else:
        channel, contact = "", ""
    with transaction.atomic():
        choice = (
            FamilyChoice.objects.select_for_update().filter(parent=parent, student=student).first()
        )
        if choice is None:
            if not declined:
                return None
            choice = FamilyChoice.objects.create(
                parent=parent, student=student, declined=True, channel=channel, contact=contact
            )
            log_action(parent, choice, FAMILY_DECLINED, {"student": student.pk, "channel": channel})
            return choice
        before = snapshot(choice, ["declined", "channel", "contact"])
        choice.declined, choice.channel, choice.contact = declined, channel, contact
        changed = changes(before, snapshot(choice, ["declined", "channel", "contact"]))
        if not changed:
            return choice
        choice.save()
        changed.pop("contact", None)  # the contact is personal data: not in the log
        log_action(
            parent,
            choice,
            FAMILY_DECLINED if declined else FAMILY_RETURNED,
            {"student": student.pk, **changed},
        )
    return choice


CONSENT_DETAIL_FIELDS = (
    "parent_full_name",
    "parent_address",
    "id_document",
    "id_series",
    "id_number",
    "id_issued_on",
    "id_issued_by",
    "child_full_name",
    "child_birth_date",
    "child_address",
    "authority_document",
    "authority_series",
    "authority_number",
    "authority_issued_on",
    "authority_issued_by",
)


CONSENT_DATE_FIELDS = ("id_issued_on", "child_birth_date", "authority_issued_on")


def _blank(field: str):
    return None if field in CONSENT_DATE_FIELDS else ""


def _consent_act(
    *,
    actor: User,
    parent: User,
    student: User,
    action: str,
    ip_address: str | None,
    method: str,
    signed_on: dt.date,
    details: dict,
    audit_action: str,
) -> ConsentRecord:

    if action not in ConsentAction.values:
        raise PortalError("Неизвестное действие.")
    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise PortalError("Согласие даёт только родитель (законный представитель) этого ребёнка.")
    if signed_on > timezone.localdate():
        raise PortalError("Дата не может быть в будущем.", field="signed_on")
    if action == ConsentAction.GIVEN:
        missing = [
            f for f in CONSENT_DETAIL_FIELDS if f != "child_birth_date" and not details.get(f)
        ]
        if missing:
            raise PortalError("Заполните все сведения согласия.", field=missing[0])
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        last = consent_state(student)
        if action == ConsentAction.WITHDRAWN and (last is None or last.action == action):
            raise PortalError("Согласие не действует: отзывать нечего.")
        consent_text = _consent_text_in_force(student.organisation)
        record = ConsentRecord.objects.create(
            parent=parent,
            student=student,
            action=action,
            consent_text=consent_text,
            ip_address=ip_address,
        )
        ConsentDetails.objects.create(
            record=record,
            method=method,
            signed_on=signed_on,
            recorded_by=actor if actor != parent else None,
            **{f: details.get(f) or _blank(f) for f in CONSENT_DETAIL_FIELDS},
        )
        # The log names the act, not the personal data (those stay in ConsentDetails).
        log_action(
            actor,
            record,
            audit_action,
            {
                "student": student.pk,
                "parent": parent.pk,
                "method": method,
                "signed_on": signed_on.isoformat(),
                "text_sha256": consent_text.text_sha256,
            },
        )
    return record


def consent_give(
    *, parent: User, student: User, details: dict, ip_address: str | None
) -> ConsentRecord:
    """The parent gives consent online with every element of 152-ФЗ ст. 9 ч. 4 filled in.
    Giving again while consent is in force stores the new details as a new act."""
    return _consent_act(
        actor=parent,
        parent=parent,
        student=student,
        action=ConsentAction.GIVEN,
        ip_address=ip_address,
        method="online",
        signed_on=timezone.localdate(),
        details=details,
        audit_action=CONSENT_GIVEN,
    )


def consent_withdraw(*, parent: User, student: User, ip_address: str | None) -> ConsentRecord:
    """The parent withdraws the consent in force, online, after the confirmation page."""
    return _consent_act(
        actor=parent,
        parent=parent,
        student=student,
        action=ConsentAction.WITHDRAWN,
        ip_address=ip_address,
        method="online",
        signed_on=timezone.localdate(),
        details={},
        audit_action=CONSENT_WITHDRAWN,
    )


def consent_record_paper(
    *,
    actor: User,
    parent: User,
    student: User,
    action: str,
    signed_on: dt.date,
    details: dict,
) -> ConsentRecord:
    """An administrator records a consent or a withdrawal the parent signed on paper, with the
    paper's date."""

    if not actor.has_role(Role.ADMIN) or actor.organisation_id != student.organisation_id:
        raise PortalError("Бумажное согласие записывает администратор организации.")
    return _consent_act(
        actor=actor,
        parent=parent,
        student=student,
        action=action,
        ip_address=None,
        method="paper",
        signed_on=signed_on,
        details=details if action == ConsentAction.GIVEN else {},
        audit_action=(
            CONSENT_PAPER_GIVEN if action == ConsentAction.GIVEN else CONSENT_PAPER_WITHDRAWN
        ),
    )


# Issue 12, §5.1: the checklist of local acts and programmes to amend ---------------------

AMENDMENT_FIELDS = ("state", "amended_on", "note")


def _amendment_apply(
    item: AmendmentItem, actor: User, *, state: str, amended_on: dt.date | None, note: str
) -> AmendmentItem:
    """The item's new state, date and note, and one audit entry, in the caller's transaction.
    «Amended» needs its date (today when none is given); «to do» keeps none."""
    if state not in AmendmentState.values:
        raise PortalError("Неизвестное состояние.", field="state")
    if state == AmendmentState.AMENDED:
        amended_on = amended_on or timezone.localdate()
        if amended_on > timezone.localdate():
            raise PortalError("Дата изменения не может быть позже сегодняшней.", field="amended_on")
    else:
        amended_on = None
    before = snapshot(item, AMENDMENT_FIELDS)  # an unsaved programme item: its defaults
    item.state, item.amended_on, item.note = state, amended_on, note.strip()
    after = snapshot(item, AMENDMENT_FIELDS)
    changed = changes(before, after)
    if not changed:
        return item
    item.save()
    log_action(actor, item, AMENDMENT_UPDATED, changed)
    return item


def amendment_programme_update(
    *, group, actor: User, state: str, amended_on: dt.date | None, note: str = ""
) -> AmendmentItem:
    """A group's additional programme: its row is stored by its first change (the checklist
    reads a group without one as «to do»)."""
    with transaction.atomic():
        item = AmendmentItem.objects.select_for_update().filter(group=group).first()
        if item is None:
            item = AmendmentItem(organisation_id=group.organisation_id, group=group)
        return _amendment_apply(item, actor, state=state, amended_on=amended_on, note=note)


def amendment_act_add(*, organisation: Organisation, actor: User, title: str) -> AmendmentItem:
    title = " ".join(title.split())
    if not title:
        raise PortalError("Укажите название локального акта.", field="title")
    with transaction.atomic():
        # Compared here, not with `iexact`: SQLite folds the case of Latin letters only.
        named = AmendmentItem.objects.filter(organisation=organisation, group__isnull=True)
        if title.casefold() in {t.casefold() for t in named.values_list("title", flat=True)}:
            raise PortalError("Такой локальный акт уже есть в списке.", field="title")
        item = AmendmentItem.objects.create(organisation=organisation, title=title)
        log_action(actor, item, AMENDMENT_ACT_ADDED, {"title": title})
    return item


def amendment_act_update(
    *, item: AmendmentItem, actor: User, state: str, amended_on: dt.date | None, note: str = ""
) -> AmendmentItem:
    with transaction.atomic():
        locked = _locked_act(item)
        return _amendment_apply(locked, actor, state=state, amended_on=amended_on, note=note)


ACT_GONE = "Этого документа уже нет в списке: его убрали."


def _locked_act(item: AmendmentItem) -> AmendmentItem:
    """The act, locked; `Gone` when it was removed since the page was shown."""
    locked = (
        AmendmentItem.objects.select_for_update().filter(pk=item.pk, group__isnull=True).first()
    )
    if locked is None:
        raise Gone(ACT_GONE)
    return locked


def amendment_act_remove(*, item: AmendmentItem, actor: User) -> None:
    """A local act named by mistake leaves the list; the audit log keeps what it was."""
    with transaction.atomic():
        locked = _locked_act(item)
        log_action(
            actor,
            locked,
            AMENDMENT_ACT_REMOVED,
            {"title": locked.title, **snapshot(locked, AMENDMENT_FIELDS)},
        )
        locked.delete()


# The move to MAX --------------------------------------------------------------------------

DRAFT_NOT_NEEDED_VK = "Мессенджер организации — VK Мессенджер: менять в Положении нечего."
DRAFT_NO_REGULATION = "Утверждённой редакции Положения ещё нет: проект новой редакции не из чего."
DRAFT_NOTHING_TO_REPLACE = "Утверждённая редакция Положения уже не называет VK Мессенджер."


def messenger_draft_create(*, organisation: Organisation, actor: User) -> DocumentVersion:
    """A draft of a new regulation version in which VK's names are replaced by the MAX wording
    (`accounts.messenger.REGULATION_REPLACEMENTS`), for the director to review and approve by a
    new order (the order's number is left for the director). Made by acknowledgements'
    `version_create`, which writes its one entry («version.created»). While a draft exists it
    is returned and nothing is written, so a second press makes no second draft."""
    with transaction.atomic():
        # Two presses at once wait for each other here; the second finds the first's draft.
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if locked.messenger == Messenger.VK:
            raise PortalError(DRAFT_NOT_NEEDED_VK)
        draft = open_regulation_draft(organisation)
        if draft is not None:
            return draft
        current = current_version(organisation)
        if current is None:
            raise PortalError(DRAFT_NO_REGULATION)
        if not names_vk(current.text):
            raise PortalError(DRAFT_NOTHING_TO_REPLACE)
        return version_create(
            organisation=organisation,
            actor=actor,
            title=current.title,
            text=replace_vk_names(current.text),
            order_number="",
            order_date=timezone.localdate(),
            approver_position=organisation.head_position,
            approver_name=organisation.head_name,
        )


# Issue 12, deadlines for parents and the weekly digest ---------------------------------------


def parent_deadline_set(
    *, organisation: Organisation, actor: User, kind: str, due_date: dt.date | None
) -> ParentDeadline | None:
    """The administrator sets (or clears, with None) the date by which parents should confirm
    the notice or give the consent. Setting it starts the reminder schedule again from today;
    the same date again changes nothing and logs nothing."""
    if kind not in ParentTask.values:
        raise PortalError("Неизвестный срок.")
    today = timezone.localdate()
    if due_date is not None and due_date < today:
        raise PortalError("Срок не может быть раньше сегодняшнего дня.", field="due_date")
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        deadline = ParentDeadline.objects.filter(organisation=organisation, kind=kind).first()
        old = deadline.due_date.isoformat() if deadline else None
        new = due_date.isoformat() if due_date else None
        if old == new:
            return deadline
        data = {"kind": kind, "due_date": [old, new]}
        if due_date is None:
            log_action(actor, deadline, PARENT_DEADLINE_SET, data)
            deadline.delete()
            return None
        if deadline is None:
            deadline = ParentDeadline(organisation=organisation, kind=kind)
        deadline.due_date = due_date
        deadline.reminders_from = today
        deadline.save()
        log_action(actor, deadline, PARENT_DEADLINE_SET, data)
    return deadline


def _record_reminder(
    *, deadline: ParentDeadline, parent: User, today: dt.date, status: str, reason: str = ""
) -> ParentReminder | None:
    with transaction.atomic():
        try:
            with transaction.atomic():
                reminder = ParentReminder.objects.create(
                    organisation_id=deadline.organisation_id,
                    parent=parent,
                    kind=deadline.kind,
                    on_date=today,
                    status=status,
                    reason=reason,
                )
        except IntegrityError:
            return None  # reminded already today (another run)
        log_action(
            None,
            reminder,
            PARENT_REMINDED,
            {"parent": parent.pk, "kind": deadline.kind, "status": status, "reason": reason},
            organisation_id=deadline.organisation_id,
        )
    return reminder


def parent_reminders_send(
    *, today: dt.date | None = None, base_url: str | None = None
) -> list[ParentReminder]:
    """The reminders to parents due `today` (`cdt_portal.reminder_schedule.reminder_due`, from
    the day the due date was set): to confirm the notice, to give the consent. Each is recorded
    as sent, failed, or «нет e-mail» (the administrator reminds that parent in person); nobody
    is reminded twice a day, at most REMINDER_MAX times; families who decline Sferum never.
    Run daily by `tasks.scheduled_parent_reminders`, one kept SMTP connection for the run."""
    today = today or timezone.localdate()
    base_url = settings.PORTAL_URL if base_url is None else base_url
    done: list[ParentReminder] = []
    deadlines = ParentDeadline.objects.select_related("organisation").order_by("pk")
    with Mailer() as mailer:
        for deadline in deadlines:
            organisation = deadline.organisation
            history = parent_reminder_history(deadline)
            skipped = declined_family_ids(organisation)
            for parent in pending_parents(organisation, deadline.kind):
                if parent.pk in skipped:
                    continue
                count, last = history.get(parent.pk, (0, None))
                if not reminder_due(
                    today=today,
                    start=deadline.reminders_from,
                    due=deadline.due_date,
                    sent_count=count,
                    last_sent=last,
                ):
                    continue
                if not parent.email:
                    status, reason = ReminderStatus.NO_EMAIL, "нет адреса e-mail"
                else:
                    message = build_templated(
                        "parent_reminder",
                        to=[parent.email],
                        context={
                            "organisation": organisation,
                            "person": parent,
                            "kind": deadline.kind,
                            "due_date": deadline.due_date,
                            "base_url": base_url,
                        },
                    )
                    delivery = mailer.send(message)
                    if delivery.outcome == mailing.SENT:
                        status, reason = ReminderStatus.SENT, ""
                    else:
                        status, reason = ReminderStatus.FAILED, delivery.error
                reminder = _record_reminder(
                    deadline=deadline, parent=parent, today=today, status=status, reason=reason
                )
                if reminder is not None:
                    done.append(reminder)
    return done


def weekly_digest_send(
    *, today: dt.date | None = None, base_url: str | None = None
) -> list[DigestSent]:
    """The weekly digest to the director and the administrators of each organisation. The
    week's record (`DigestSent`, unique per organisation and week) is written before the
    letter goes, so a second run the same week sends nothing; a letter the server did not
    take is recorded with its reason (and not sent again by itself)."""
    today = today or timezone.localdate()
    base_url = settings.PORTAL_URL if base_url is None else base_url
    week_start = today - dt.timedelta(days=today.weekday())
    sent: list[DigestSent] = []
    with Mailer() as mailer:
        for organisation in Organisation.objects.order_by("pk"):
            recipients = digest_recipients(organisation)
            if not recipients:
                continue
            with transaction.atomic():
                digest, created = DigestSent.objects.get_or_create(
                    organisation=organisation,
                    week_start=week_start,
                    defaults={"recipients": len(recipients)},
                )
                if not created:
                    continue
                log_action(
                    None,
                    digest,
                    DIGEST_SENT,
                    {"week_start": week_start.isoformat(), "recipients": len(recipients)},
                    organisation_id=organisation.pk,
                )
            context = weekly_digest_context(organisation, week_start=week_start)
            context["base_url"] = base_url
            message = build_templated("weekly_digest", to=recipients, context=context)
            delivery = mailer.send(message)
            if delivery.outcome != mailing.SENT:
                with transaction.atomic():
                    DigestSent.objects.filter(pk=digest.pk).update(reason=delivery.error)
                    log_action(
                        None,
                        digest,
                        DIGEST_FAILED,
                        {"reason": delivery.error},
                        organisation_id=organisation.pk,
                    )
                digest.reason = delivery.error
            sent.append(digest)
    return sent
