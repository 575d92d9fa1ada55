"""The consent acts: given and withdrawn by a parent online or recorded from paper, a student's
own consent from 14, what an unlinking ends, and the erasure of identity data once its
retention has passed."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from accounts.models import Guardianship, Organisation, Role, User
from acknowledgements.models import text_sha256
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError

from ..actions import (
    CONSENT_DATA_ERASED,
    CONSENT_DATA_TO_ERASE,
    CONSENT_ENDED,
    CONSENT_GIVEN,
    CONSENT_PAPER_GIVEN,
    CONSENT_PAPER_WITHDRAWN,
    CONSENT_WITHDRAWN,
    FAMILY_CHOICE_ENDED,
    STUDENT_CONSENT_GIVEN,
    STUDENT_CONSENT_WITHDRAWN,
)
from ..models import (
    CONSENT_DATE_FIELDS,
    CONSENT_DETAIL_FIELDS,
    STUDENT_CONSENT_FIELDS,
    ConsentAction,
    ConsentDetails,
    ConsentMethod,
    ConsentRecord,
    ConsentText,
    FamilyChoice,
    SignatureTerms,
    StudentConsent,
)
from ..selectors import (
    ADULT_AGE,
    OWN_CONSENT_AGE,
    age_on,
    child_birth_date,
    consent_data_due_for_erasure,
    consent_state,
    default_consent_text,
    default_signature_terms,
    default_student_consent_text,
    student_consent_state,
    with_child_document,
)


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
