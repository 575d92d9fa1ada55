"""Issue 12, the weekly digest: the rollout in numbers, what is overdue and what changed in the
week, mailed to the director and the administrators once per organisation and week."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from acknowledgements.models import DocumentVersion
from cdt_portal.models import AuditEntry
from onboarding import tasks
from onboarding.models import DigestSent, ParentDeadline
from onboarding.services import parent_deadline_set, weekly_digest_send

TODAY = timezone.localdate


@pytest.fixture
def readers_with_mail(director, admin):
    director.email = "director@example.ru"
    director.save()
    admin.email = "admin@example.ru"
    admin.save()


def test_the_digest_tells_the_numbers_the_overdue_and_the_changes(
    readers_with_mail, organisation, admin, teacher, parent, notice, regulation
):
    # The teacher has not read the regulation past its due date; the parent has not confirmed
    # the notice past its due date.
    DocumentVersion.objects.filter(pk=regulation.pk).update(read_by=TODAY() - dt.timedelta(days=2))
    parent_deadline_set(organisation=organisation, actor=admin, kind="notice", due_date=TODAY())
    ParentDeadline.objects.update(due_date=TODAY() - dt.timedelta(days=1))
    # The digest of next week's Monday covers the seven days before it, today among them.
    monday = TODAY() + dt.timedelta(days=7 - TODAY().weekday())
    [digest] = weekly_digest_send(today=monday, base_url="http://testserver/")
    assert (digest.week_start, digest.recipients, digest.reason) == (monday, 2, "")

    [message] = mail.outbox
    assert sorted(message.to) == ["admin@example.ru", "director@example.ru"]
    body = message.body
    since = monday - dt.timedelta(days=7)
    assert f"Неделя: {since:%d.%m.%Y} — {monday - dt.timedelta(days=1):%d.%m.%Y}" in body
    assert "- Сотрудники ознакомлены с Положением: 0 из 2" in body
    assert "- Родители ознакомлены с уведомлением: 0 из 1" in body
    assert "Не ознакомились с Положением после срока (2):" in body
    assert f"- {teacher.full_name}" in body
    assert "Родители, не ознакомившиеся с уведомлением после срока (1):" in body
    assert f"- {parent.full_name}" in body
    assert "- Установлен срок для родителей: 1" in body
    assert "- Опубликовано уведомление родителей: 1" in body
    entry = AuditEntry.objects.get(action="digest.sent")
    assert entry.actor_id is None and entry.object_id == str(digest.pk)
    assert entry.data == {"week_start": monday.isoformat(), "recipients": 2}


def test_a_second_run_the_same_week_sends_nothing(readers_with_mail, organisation):
    monday = TODAY() - dt.timedelta(days=TODAY().weekday())
    assert len(weekly_digest_send(today=monday)) == 1
    assert weekly_digest_send(today=monday + dt.timedelta(days=3)) == []
    assert len(mail.outbox) == 1
    assert DigestSent.objects.filter(organisation=organisation).count() == 1
    assert AuditEntry.objects.filter(action="digest.sent").count() == 1
    assert "Ничего не просрочено." in mail.outbox[0].body
    # The next week is a new digest.
    assert len(weekly_digest_send(today=monday + dt.timedelta(days=7))) == 1


def test_an_organisation_without_readers_gets_nothing(organisation, director):
    assert weekly_digest_send(today=TODAY()) == []
    assert mail.outbox == [] and not DigestSent.objects.exists()


def test_a_refused_digest_is_recorded_with_its_reason(readers_with_mail, monkeypatch):
    from accounts.mailing import Delivery, Mailer

    monkeypatch.setattr(Mailer, "send", lambda self, message: Delivery("refused", "550 нет"))
    [digest] = weekly_digest_send(today=TODAY())
    assert DigestSent.objects.get(pk=digest.pk).reason == "550 нет"
    assert AuditEntry.objects.filter(action="digest.failed").count() == 1
    assert weekly_digest_send(today=TODAY()) == []


def test_the_task_runs_on_monday_at_eight_on_the_portals_clock(readers_with_mail, settings):
    """Huey hands the check a naive UTC time (its `utc` default); 08:00 is in TIME_ZONE."""
    settings.TIME_ZONE = "Europe/Moscow"
    schedule = tasks.weekly_digest.task_class().validate_datetime
    assert schedule(dt.datetime(2026, 11, 30, 5, 0))  # Monday 08:00 in Moscow
    assert not schedule(dt.datetime(2026, 11, 30, 8, 0))
    assert not schedule(dt.datetime(2026, 12, 1, 5, 0))
    tasks.weekly_digest.call_local()
    assert len(mail.outbox) == 1
