"""The request's and the teachers' old event tables move into the audit log with their times,
actors and organisations (migration 0003), and a ready request gets its Message-ID there."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from accounts.models import Role
from cdt_portal.models import AuditEntry
from onboarding.models import RegistrationRequest
from tests.factories import OrganisationFactory, UserFactory

BEFORE = [("onboarding", "0002_parents")]
AFTER = [("onboarding", "0004_remove_event_tables")]
AT = timezone.make_aware(dt.datetime(2025, 3, 4, 10, 30))


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_events_become_audit_entries():
    organisation = OrganisationFactory(short_name="МКУ ДО «ЦДТ»")
    admin = UserFactory(
        organisation=organisation, last_name="Захарова", first_name="Ольга",
        patronymic="Викторовна", roles=[Role.ADMIN],
    )  # fmt: skip
    teacher = UserFactory(
        organisation=organisation, last_name="Иванова", first_name="Софья", roles=[Role.TEACHER]
    )
    old = migrate(BEFORE)
    try:
        request = RegistrationRequest.objects.create(
            organisation=organisation, status="ready", admin_full_name="Захарова"
        )
        RequestEvent = old.get_model("onboarding", "RequestEvent")
        TeacherStatusEvent = old.get_model("onboarding", "TeacherStatusEvent")
        RequestEvent.objects.create(
            request_id=request.pk, from_status="", to_status="draft", actor_id=admin.pk
        )
        RequestEvent.objects.create(
            request_id=request.pk, from_status="awaiting_signature", to_status="ready",
            actor_id=admin.pk, comment="анкета заполнена 20.11.2026",
        )  # fmt: skip
        TeacherStatusEvent.objects.create(
            person_id=teacher.pk, from_status="not_started", to_status="profile_created",
            actor_id=teacher.pk,
        )  # fmt: skip
        RequestEvent.objects.update(at=AT)
        TeacherStatusEvent.objects.update(at=AT)
    finally:
        migrate(AFTER)

    request_type = ContentType.objects.get_for_model(RegistrationRequest)
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [
        (e.action, e.content_type, e.object_id, e.actor_id, e.organisation_id, e.at, e.data)
        for e in entries
    ] == [
        (
            "request.draft", request_type, str(request.pk), admin.pk, organisation.pk, AT,
            {"from": "", "to": "draft", "comment": ""},
        ),
        (
            "request.ready", request_type, str(request.pk), admin.pk, organisation.pk, AT,
            {"from": "awaiting_signature", "to": "ready", "comment": "анкета заполнена 20.11.2026"},
        ),
        (
            "sferum_status.changed", ContentType.objects.get_for_model(teacher), str(teacher.pk),
            teacher.pk, organisation.pk, AT, {"from": "not_started", "to": "profile_created"},
        ),
    ]  # fmt: skip
    assert entries[0].actor_name == "Захарова Ольга Викторовна"
    assert entries[0].object_repr == "МКУ ДО «ЦДТ»: Готова к отправке"
    assert entries[2].object_repr == teacher.full_name
    request.refresh_from_db()
    assert request.message_id.startswith("<") and request.message_id.endswith(">")
