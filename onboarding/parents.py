"""Informing parents and their consent to personal-data processing."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from accounts.models import Guardianship, Organisation, Role, User
from acknowledgements.models import text_sha256

from .models import ConsentAction, ConsentRecord, ConsentText, NoticeAcknowledgement, ParentNotice


class ParentError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_notice_text(organisation: Organisation) -> str:
    return render_to_string("onboarding/notice_default.md", {"organisation": organisation})


def notice_publish(*, organisation: Organisation, actor: User, text: str) -> ParentNotice:
    if not text.strip():
        raise ParentError("Текст уведомления пустой.")
    return ParentNotice.objects.create(
        organisation=organisation, text=text.strip(), published_by=actor
    )


def notice_confirm(*, notice: ParentNotice, parent: User) -> NoticeAcknowledgement:
    if not parent.has_role(Role.PARENT) or parent.organisation_id != notice.organisation_id:
        raise ParentError("Подтверждать уведомление могут только родители.")
    try:
        with transaction.atomic():
            return NoticeAcknowledgement.objects.create(notice=notice, parent=parent)
    except IntegrityError:
        return NoticeAcknowledgement.objects.get(notice=notice, parent=parent)


def current_consent_text(organisation: Organisation) -> ConsentText:
    """The consent text in force; the first one comes from the portal's template."""
    text = ConsentText.objects.filter(organisation=organisation).first()
    if text is None:
        body = render_to_string("onboarding/consent_default.md", {"organisation": organisation})
        text = ConsentText.objects.create(
            organisation=organisation, text=body, text_sha256=text_sha256(body)
        )
    return text


def consent_state(student: User) -> ConsentRecord | None:
    return ConsentRecord.objects.filter(student=student).order_by("-at", "-pk").first()


def consent_record(
    *, parent: User, student: User, action: str, ip_address: str | None
) -> ConsentRecord:
    """Give or withdraw consent for one's own child. Each act is a new row; nothing is
    overwritten, so the history stays."""
    if action not in ConsentAction.values:
        raise ParentError("Неизвестное действие.")
    if not Guardianship.objects.filter(parent=parent, student=student).exists():
        raise ParentError("Согласие даёт только родитель (законный представитель) этого ребёнка.")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        last = consent_state(student)
        if last is not None and last.action == action:
            return last  # a second click changes nothing
        return ConsentRecord.objects.create(
            parent=parent,
            student=student,
            action=action,
            consent_text=current_consent_text(student.organisation),
            ip_address=ip_address,
        )
