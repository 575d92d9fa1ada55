"""A teacher's Sferum status, one step at a time: the teacher (and, §4.7, the director and the
administrators for themselves) reports the first steps, an administrator verifies."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError

from ..actions import SFERUM_STATUS_CHANGED
from ..models import SferumStatus, TeacherSferumStatus

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
