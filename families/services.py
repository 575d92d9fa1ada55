"""Every change on the families' side: the parents' and the students' notices and their
confirmations, the consent acts (online and on paper), a family's choice of another channel,
the parents' deadlines and the reminders they start. One function per change, in one
transaction, each writing one audit entry; a refusal is a `PortalError` and changes nothing."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Guardianship, Organisation, Role, User
from acknowledgements.models import text_sha256
from cdt_portal import outbox
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.jobs import ThrottledProgress, job_task, start_job
from cdt_portal.markup import refuse_images
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from .actions import (
    CONSENT_DATA_ERASED,
    CONSENT_DATA_TO_ERASE,
    CONSENT_ENDED,
    CONSENT_GIVEN,
    CONSENT_PAPER_GIVEN,
    CONSENT_PAPER_WITHDRAWN,
    CONSENT_WITHDRAWN,
    FAMILY_CHOICE_ENDED,
    FAMILY_DECLINED,
    FAMILY_RETURNED,
    NOTICE_CONFIRMED,
    NOTICE_PUBLISHED,
    PARENT_DEADLINE_SET,
    PARENT_REMINDED,
    STUDENT_CONSENT_GIVEN,
    STUDENT_CONSENT_WITHDRAWN,
    STUDENT_NOTICE_CONFIRMED,
    STUDENT_NOTICE_PUBLISHED,
)
from .models import (
    CONSENT_DATE_FIELDS,
    CONSENT_DETAIL_FIELDS,
    STUDENT_CONSENT_FIELDS,
    ConsentAction,
    ConsentDetails,
    ConsentMethod,
    ConsentRecord,
    ConsentText,
    FamilyChannel,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    ParentTask,
    SignatureTerms,
    StudentConsent,
    StudentNotice,
    StudentNoticeAcknowledgement,
)
from .selectors import (
    ADULT_AGE,
    OWN_CONSENT_AGE,
    REMINDER_KIND,
    age_on,
    child_birth_date,
    consent_data_due_for_erasure,
    consent_state,
    current_notice,
    current_student_notice,
    declined_family_ids,
    default_consent_text,
    default_signature_terms,
    default_student_consent_text,
    parent_reminder_batch,
    parent_reminders_job_key,
    parents_due_reminder,
    pending_parents,
    student_consent_state,
    with_child_document,
)

# The notices: published by an administrator, confirmed by parents and students ----------------


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


# The consent: given and withdrawn by the parent, or recorded from paper -----------------------


def _stored_edition(model, organisation: Organisation, body: str):
    """The edition of `body` (a consent text, or the signature terms) in force, stored when the
    first act is signed under it. The organisation row is locked first, so two first consents
    at once store one edition."""
    edition = model.objects.filter(organisation=organisation, text_sha256=text_sha256(body))
    found = edition.first()
    if found is not None:
        return found
    Organisation.objects.select_for_update().get(pk=organisation.pk)
    return edition.first() or model.objects.create(
        organisation=organisation, text=body, text_sha256=text_sha256(body)
    )


def _consent_text_in_force(organisation: Organisation) -> ConsentText:
    return _stored_edition(ConsentText, organisation, default_consent_text(organisation))


def _student_consent_text_in_force(organisation: Organisation) -> ConsentText:
    return _stored_edition(ConsentText, organisation, default_student_consent_text(organisation))


TERMS_NOT_ACCEPTED = (
    "Отметьте, что принимаете условия простой электронной подписи: без них согласие в портале "
    "не подписать. Или распечатайте согласие, подпишите его и передайте в учреждение."
)
# A student has no printable consent of their own in the portal: the paper way goes through
# the operator (the signature terms' point 4).
STUDENT_TERMS_NOT_ACCEPTED = (
    "Отметьте, что принимаете условия простой электронной подписи: без них согласие в портале "
    "не подписать. Или оформите согласие на бумаге, обратившись к администратору учреждения."
)


def _require_terms(accepted: bool, message: str = TERMS_NOT_ACCEPTED) -> None:
    """An online consent is signed only under accepted terms of the простая электронная
    подпись; otherwise it is refused before anything is written."""
    if not accepted:
        raise PortalError(message, field="terms")


def _signature_terms(organisation: Organisation) -> SignatureTerms:
    """The edition of the terms an online consent is signed under, stored with the first."""
    return _stored_edition(SignatureTerms, organisation, default_signature_terms(organisation))


def _blank(field: str):
    return None if field in CONSENT_DATE_FIELDS else ""


ADULT_CONSENTS_ALONE = (
    "С 18 лет обучающийся даёт согласие на обработку своих персональных данных сам: родитель "
    "(законный представитель) за совершеннолетнего его не даёт."
)
OLDER_THAN_IN_FORCE = (
    "Бумага подписана {signed:%d.%m.%Y}, раньше действующего решения от {last:%d.%m.%Y}: более "
    "ранний документ его не отменяет. Если родитель подписал новый, укажите его дату."
)


def _signed_on(record: ConsentRecord | None) -> dt.date | None:
    """The day an act was signed: on its paper, or the day it was given online."""
    if record is None:
        return None
    details = getattr(record, "details", None)
    if details is not None and details.signed_on:
        return details.signed_on
    return timezone.localdate(record.at)


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
    terms_accepted: bool | None = None,
) -> ConsentRecord:
    """One act; `terms_accepted` (True or False) for an act signed online, None on paper and
    for a withdrawal, which need no signature terms."""
    if terms_accepted is not None:
        _require_terms(terms_accepted)
    if action not in ConsentAction.values:
        raise PortalError("Неизвестное действие.")
    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise PortalError("Согласие даёт только родитель (законный представитель) этого ребёнка.")
    if signed_on > timezone.localdate():
        raise PortalError("Дата не может быть в будущем.", field="signed_on")
    if action == ConsentAction.GIVEN:
        born = child_birth_date(details)
        if born and age_on(born, signed_on) >= ADULT_AGE:
            raise PortalError(ADULT_CONSENTS_ALONE, field="child_birth_date")
        # A paper is recorded as it was signed: one on a blank printed before the child's
        # document was asked for has none, and the record must still be made.
        details = with_child_document(details, signed_on, required=method == "online")
        optional = {"child_birth_date"}
        if not details.get("child_id_document"):
            optional |= {f for f in CONSENT_DETAIL_FIELDS if f.startswith("child_id_")}
        missing = [f for f in CONSENT_DETAIL_FIELDS if f not in optional and not details.get(f)]
        if missing:
            raise PortalError("Заполните все сведения согласия.", field=missing[0])
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        last = consent_state(student)
        if action == ConsentAction.WITHDRAWN and (last is None or last.action == action):
            raise PortalError("Согласие не действует: отзывать нечего.")
        # The act in force is the newest: a paper signed before a parent's last decision cannot
        # undo it. The end of a consent by an unlink is nobody's decision: a paper the other
        # parent signed before it is recorded.
        decided = (
            ConsentRecord.objects.filter(student=student)
            .exclude(details__method=ConsentMethod.UNLINKED)
            .select_related("details")
            .order_by("-at", "-pk")
            .first()
        )
        last_on = _signed_on(decided)
        if last_on is not None and signed_on < last_on:
            raise PortalError(
                OLDER_THAN_IN_FORCE.format(signed=signed_on, last=last_on), field="signed_on"
            )
        consent_text = _consent_text_in_force(student.organisation)
        terms = _signature_terms(student.organisation) if terms_accepted else None
        record = ConsentRecord.objects.create(
            parent=parent,
            student=student,
            action=action,
            consent_text=consent_text,
            ip_address=ip_address,
            signature_terms=terms,
        )
        ConsentDetails.objects.create(
            record=record,
            method=method,
            signed_on=signed_on,
            # A paper is recorded by someone, even by the parent who is also an administrator.
            recorded_by=actor if method == "paper" else None,
            **{f: details.get(f) or _blank(f) for f in CONSENT_DETAIL_FIELDS},
        )
        # The log names the act, not the personal data (those stay in ConsentDetails).
        data = {
            "student": student.pk,
            "parent": parent.pk,
            "method": method,
            "signed_on": signed_on.isoformat(),
            "text_sha256": consent_text.text_sha256,
        }
        if terms is not None:
            data["signature_terms_sha256"] = terms.text_sha256
        log_action(actor, record, audit_action, data)
    return record


WRONG_PASSWORD = "Неверный пароль. Согласие не записано."


def consent_give(
    *,
    parent: User,
    student: User,
    details: dict,
    password: str,
    terms_accepted: bool,
    ip_address: str | None,
) -> ConsentRecord:
    """The parent gives consent online with every element of 152-ФЗ ст. 9 ч. 4 filled in,
    signing with their password under the organisation's terms of the простая электронная
    подпись, which they accept (63-ФЗ ст. 6 ч. 2, ст. 9; the record keeps the terms' edition).
    Giving again while consent is in force stores the new details as a new act."""
    if not parent.check_password(password):
        raise PortalError(WRONG_PASSWORD, field="password")
    return _consent_act(
        terms_accepted=terms_accepted,
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


def end_what_the_guardianship_carried(
    *, parent: User, student: User, actor: User | None, **signal
) -> None:
    """`accounts.signals.guardianship_ended`, inside the unlink's transaction: a consent the
    former parent gave and that is still in force ends with an act of its own (method
    «связь с родителем удалена», recorded by who unlinked), so the child's consent is asked
    of the family again and the former parent's data are erased after the retention, as
    after a withdrawal. Their other consents, not the one in force, keep their data no longer
    either: the retention runs from now for them too (`parent_unlinked_at`).
    Their «не используем Сферум» choice for the child is taken away. Each is audited
    (tests/families/test_guardianship_ended.py)."""
    User.objects.select_for_update().get(pk=student.pk)
    last = consent_state(student)
    earlier = list(
        ConsentDetails.objects.filter(
            record__parent=parent,
            record__student=student,
            record__action=ConsentAction.GIVEN,
            erased_at__isnull=True,
            parent_unlinked_at__isnull=True,
        )
        .exclude(record=last)
        .order_by("record__at", "record__pk")
        .values_list("record_id", flat=True)
    )
    if earlier:
        ConsentDetails.objects.filter(record__in=earlier).update(parent_unlinked_at=timezone.now())
        log_action(
            actor,
            student,
            CONSENT_DATA_TO_ERASE,
            {"student": student.pk, "parent": parent.pk, "consents": earlier},
            organisation_id=student.organisation_id,
        )
    if last is not None and last.action == ConsentAction.GIVEN and last.parent_id == parent.pk:
        today = timezone.localdate()
        record = ConsentRecord.objects.create(
            parent=parent,
            student=student,
            action=ConsentAction.WITHDRAWN,
            consent_text=last.consent_text,
            ip_address=None,
            signature_terms=None,
        )
        ConsentDetails.objects.create(
            record=record,
            method=ConsentMethod.UNLINKED,
            signed_on=today,
            recorded_by=actor,
            **{f: _blank(f) for f in CONSENT_DETAIL_FIELDS},
        )
        log_action(
            actor,
            record,
            CONSENT_ENDED,
            {"student": student.pk, "parent": parent.pk, "signed_on": today.isoformat()},
            organisation_id=student.organisation_id,
        )
    choice = FamilyChoice.objects.filter(parent=parent, student=student, declined=True).first()
    if choice is not None:
        choice.delete()
        log_action(
            actor,
            student,
            FAMILY_CHOICE_ENDED,
            {"student": student.pk, "parent": parent.pk, "channel": choice.channel},
            organisation_id=student.organisation_id,
        )


# A student's own consent, from 14 (ГК РФ ст. 26) ---------------------------------------------


BIRTH_DATE_DIFFERS = (
    "Дата рождения не совпадает с указанной в согласии родителя ({recorded:%d.%m.%Y}). "
    "Проверьте её; если ошибка в согласии родителя, скажите администратору."
)


def _birth_date_in_parents_consent(student: User) -> dt.date | None:
    """The child's date of birth in the parent's consent in force, if it says one."""
    record = consent_state(student)
    if record is None or record.action != ConsentAction.GIVEN:
        return None
    details = getattr(record, "details", None)
    return details.child_birth_date if details is not None else None


def student_consent_give(
    *,
    student: User,
    details: dict,
    password: str,
    terms_accepted: bool,
    ip_address: str | None,
    today: dt.date | None = None,
) -> StudentConsent:
    """A student of 14 or older gives their own consent online, signing with their password,
    alongside their parent's (which stays needed until 18: `ConsentRecord`). Under 14 only the
    parent consents, and the date of birth says so."""
    today = today or timezone.localdate()
    if not student.has_role(Role.STUDENT):
        raise PortalError("Собственное согласие даёт обучающийся.")
    birth_date = details.get("birth_date")
    if birth_date is None:
        raise PortalError("Укажите дату рождения.", field="birth_date")
    if birth_date > today:
        raise PortalError("Дата не может быть в будущем.", field="birth_date")
    if age_on(birth_date, today) < OWN_CONSENT_AGE:
        raise PortalError(
            f"Вам нет {OWN_CONSENT_AGE} лет: согласие на обработку ваших персональных данных "
            "даёт родитель (законный представитель), ваше собственное не нужно.",
            field="birth_date",
        )
    missing = [f for f in STUDENT_CONSENT_FIELDS if f != "id_series" and not details.get(f)]
    if missing:
        raise PortalError("Заполните все сведения согласия.", field=missing[0])
    recorded = _birth_date_in_parents_consent(student)
    if recorded is not None and recorded != birth_date:
        # The age decides whether a student may consent at all: a date the parent's consent
        # contradicts is not taken on the student's word.
        raise PortalError(BIRTH_DATE_DIFFERS.format(recorded=recorded), field="birth_date")
    if not student.check_password(password):
        raise PortalError(WRONG_PASSWORD, field="password")
    _require_terms(terms_accepted, STUDENT_TERMS_NOT_ACCEPTED)
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        consent_text = _student_consent_text_in_force(student.organisation)
        terms = _signature_terms(student.organisation)
        row = StudentConsent.objects.create(
            student=student,
            action=ConsentAction.GIVEN,
            consent_text=consent_text,
            signature_terms=terms,
            ip_address=ip_address,
            **{f: details.get(f) or _blank(f) for f in STUDENT_CONSENT_FIELDS},
        )
        log_action(
            student,
            row,
            STUDENT_CONSENT_GIVEN,
            {
                "student": student.pk,
                "adult": age_on(birth_date, today) >= ADULT_AGE,
                "text_sha256": consent_text.text_sha256,
                "signature_terms_sha256": terms.text_sha256,
            },
        )
    return row


def student_consent_withdraw(*, student: User, ip_address: str | None) -> StudentConsent:
    """The student withdraws their own consent in force (as easily as it was given: no
    password, the confirmation page is the step)."""
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        last = student_consent_state(student)
        if last is None or last.action != ConsentAction.GIVEN:
            raise PortalError("Ваше согласие не действует: отзывать нечего.")
        row = StudentConsent.objects.create(
            student=student,
            action=ConsentAction.WITHDRAWN,
            consent_text=last.consent_text,
            ip_address=ip_address,
        )
        log_action(student, row, STUDENT_CONSENT_WITHDRAWN, {"student": student.pk})
    return row


# The retention: identity data erased when it has passed -------------------------------------


def consent_data_erase(*, now: dt.datetime | None = None) -> int:
    """The nightly job: the identity and address data of each consent whose retention ends
    before the next night's run (CONSENT_RETENTION_DAYS after a withdrawal or after the
    student's account was switched off: `selectors.consent_data_due_for_erasure`) are
    blanked, one transaction and one audit entry per consent; the act, its way and its dates
    stay. Returns how many were erased; a second run the same night finds none."""
    now = now or timezone.now()
    erased = 0
    for due in consent_data_due_for_erasure(now):
        model = type(due.row)
        fields = CONSENT_DETAIL_FIELDS if model is ConsentDetails else STUDENT_CONSENT_FIELDS
        with transaction.atomic():
            row = model.objects.select_for_update().get(pk=due.row.pk)
            if row.erased_at is not None:
                continue
            for name in fields:
                setattr(row, name, _blank(name))
            row.erased_at = now
            row.save(update_fields=[*fields, "erased_at"])
            student = row.record.student if model is ConsentDetails else row.student
            log_action(
                None,
                row.record if model is ConsentDetails else row,
                CONSENT_DATA_ERASED,
                {
                    "student": student.pk,
                    "own": model is StudentConsent,
                    "reason": due.reason,
                    "since": timezone.localtime(due.since).date().isoformat(),
                },
                organisation_id=student.organisation_id,
            )
        erased += 1
    return erased


# A family's choice of another channel ---------------------------------------------------------


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


# Deadlines for parents and the reminders they start -------------------------------------------


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


# The reminders: letters of the core's outbox, sent by a job per organisation and day ---------

NO_LONGER_ACTIVE = "учётная запись отключена"
# Why a letter was withdrawn as its turn came: the parent did meanwhile what it asks.
ALREADY_DONE = {
    ParentTask.NOTICE: "родитель уже ознакомился с уведомлением",
    ParentTask.CONSENT: "согласие уже дано",
}
FAMILY_DECLINES = "семья не использует «Сферум»: напоминание не нужно"


def parent_reminders_send(
    *, today: dt.date | None = None, base_url: str | None = None
) -> list[Job]:
    """The reminders to parents due `today` (`cdt_portal.reminder_schedule.reminder_due`, from
    the day the due date was set): to confirm the notice, to give the consent. Started daily
    by `tasks.scheduled_parent_reminders`: one job per organisation with a parent due (or a
    letter of the day still waiting), keyed by the day, so a second start the same day finds
    that job; the letters go through the outbox (`parent_reminders_run`). Returns the jobs."""
    today = today or timezone.localdate()
    base_url = settings.PORTAL_URL if base_url is None else base_url
    jobs = []
    deadlines = ParentDeadline.objects.select_related("organisation").order_by("pk")
    by_organisation: dict[int, list[ParentDeadline]] = {}
    for deadline in deadlines:
        by_organisation.setdefault(deadline.organisation_id, []).append(deadline)
    for organisation_id, its_deadlines in by_organisation.items():
        batches = [
            parent_reminder_batch(organisation_id, kind, today) for kind in ParentTask.values
        ]
        waiting = Delivery.objects.filter(
            batch__in=batches, status__in=(Delivery.Status.PENDING, Delivery.Status.SENDING)
        ).exists()
        if not waiting and not any(parents_due_reminder(d, today=today) for d in its_deadlines):
            continue
        jobs.append(
            start_job(
                task=send_parent_reminders,
                key=parent_reminders_job_key(organisation_id, today),
                kind="parent_reminders",
                title=f"Напоминания родителям {today:%d.%m.%Y}",
                organisation_id=organisation_id,
                actor=None,
                args=(organisation_id, today.isoformat(), base_url),
            )
        )
    return jobs


def _reminded(letter: Delivery) -> None:
    """The audit entry of one reminder, once its outcome is known (inside its row's
    transaction): sent, failed, not confirmed, or nobody to write to."""
    log_action(
        None,
        letter.person,
        PARENT_REMINDED,
        {
            "parent": letter.person_id,
            "kind": letter.data.get("kind"),
            "status": letter.status,
            "reason": letter.reason,
            "letter": letter.pk,
        },
        organisation_id=letter.organisation_id,
    )


def _record_reminders(*, deadline: ParentDeadline, today: dt.date) -> str:
    """The day's letters of one deadline in the outbox, each due parent once (a parent
    without an e-mail is a `no_email` letter, audited now: nothing more happens to it).
    Returns the batch."""
    batch = parent_reminder_batch(deadline.organisation_id, deadline.kind, today)
    due = parents_due_reminder(deadline, today=today)
    data = {
        "kind": deadline.kind,
        "on_date": today.isoformat(),
        "due_date": deadline.due_date.isoformat(),
    }
    with transaction.atomic():
        known = set(outbox.letters(batch).values_list("person_id", flat=True))
        fresh = [parent for parent in due if parent.pk not in known]
        if not fresh:
            return batch
        outbox.record(
            batch=batch,
            kind=REMINDER_KIND,
            organisation_id=deadline.organisation_id,
            recipients=[Recipient(parent, parent.email, data) for parent in fresh],
        )
        without_email = outbox.letters(batch).filter(
            status=Delivery.Status.NO_EMAIL, person__in=[p for p in fresh if not p.email]
        )
        for letter in without_email:
            _reminded(letter)
    return batch


def parent_reminders_run(*, job_id: int, organisation_id: int, on_date: str, base_url: str) -> str:
    """The job's work for one organisation and day: the due parents' letters recorded in the
    outbox (one batch per kind), then sent through it, each claimed `sending` before the SMTP
    call and settled after. Run again (a retry, a worker that was killed), it adds nobody and
    sends nothing twice: a letter that was in flight becomes «отправка не подтверждена» and is
    not sent again by itself."""
    today = dt.date.fromisoformat(on_date)
    for deadline in ParentDeadline.objects.filter(organisation_id=organisation_id).select_related(
        "organisation"
    ):
        _record_reminders(deadline=deadline, today=today)
    # Every kind's batch of the day, also one whose deadline was cleared since it was recorded:
    # its letters were promised and are sent.
    batches = [parent_reminder_batch(organisation_id, kind, today) for kind in ParentTask.values]
    letters = Delivery.objects.filter(batch__in=batches)
    total = letters.count()
    progress = ThrottledProgress(job_id, total)
    # `outbox.send` goes through the pending letters and those left `sending` (settling each),
    # calling `advance` once for each.
    done = (
        total
        - letters.filter(status__in=(Delivery.Status.PENDING, Delivery.Status.SENDING)).count()
    )
    progress(done)
    organisation = Organisation.objects.get(pk=organisation_id)

    def claim(letter: Delivery) -> None:
        # Between the record and the send (seconds, or a requeue after a kill) the parent may
        # have been switched off, done what the letter asks, or declined Sferum.
        kind = letter.data["kind"]
        if not letter.person.is_active:
            letter.status, letter.reason = Delivery.Status.FAILED, NO_LONGER_ACTIVE
        elif not pending_parents(organisation, kind).filter(pk=letter.person_id).exists():
            declined = letter.person_id in declined_family_ids(organisation)
            letter.status = Delivery.Status.WITHDRAWN
            letter.reason = FAMILY_DECLINES if declined else ALREADY_DONE[kind]

    def build(letter: Delivery):
        return build_templated(
            "parent_reminder",
            to=[letter.email],
            context={
                "organisation": organisation,
                "person": letter.person,
                "kind": letter.data["kind"],
                "due_date": dt.date.fromisoformat(letter.data["due_date"]),
                "base_url": base_url,
            },
        )

    def advance() -> None:
        nonlocal done
        done += 1
        progress(done)

    for batch in batches:
        outbox.send(
            batch=batch, build=build, on_claim=claim, on_settled=_reminded, progress=advance
        )
    progress(total, final=True)
    return ""


# No huey retries: a letter the server refused for now is tried again inside the job, and a
# job whose worker stopped is queued again by the core's `jobs_recover`.
@job_task()
def send_parent_reminders(job_id: int, organisation_id: int, on_date: str, base_url: str) -> str:
    return parent_reminders_run(
        job_id=job_id, organisation_id=organisation_id, on_date=on_date, base_url=base_url
    )
