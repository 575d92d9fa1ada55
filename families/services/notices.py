"""The parents' and the students' notices: a new edition published by an administrator, confirmed
by each parent or student once."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Organisation, Role, User
from acknowledgements.models import text_sha256
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError
from cdt_portal.markup import refuse_images

from ..actions import (
    NOTICE_CONFIRMED,
    NOTICE_PUBLISHED,
    STUDENT_NOTICE_CONFIRMED,
    STUDENT_NOTICE_PUBLISHED,
)
from ..models import (
    NoticeAcknowledgement,
    ParentNotice,
    StudentNotice,
    StudentNoticeAcknowledgement,
)
from ..selectors import (
    current_notice,
    current_student_notice,
)


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
