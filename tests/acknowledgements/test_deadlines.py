"""Due dates for reading a version and the reminders that go out by themselves: the pure rule
(`cdt_portal.reminder_schedule`), the administrator's due date, the overdue list, and the daily
job walked day by day (the day is passed explicitly: no clock is moved)."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from acknowledgements import tasks
from acknowledgements.models import ReminderRun
from acknowledgements.selectors import is_overdue, scheduled_targets, version_history
from acknowledgements.services import (
    acknowledgement_confirm,
    reminders_due,
    reminders_start,
    version_set_deadline,
)
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Delivery
from cdt_portal.reminder_schedule import latest_milestone, reminder_due
from tests.factories import PASSWORD, UserFactory
from tests.helpers import changed_outside_services

D = dt.date


def walk_schedule(*, start, due, days, **settings) -> list[dt.date]:
    """The days a person is reminded, if the job runs every day and they never read it."""
    sent: list[dt.date] = []
    for offset in range(days):
        today = start + dt.timedelta(days=offset)
        if reminder_due(
            today=today,
            start=start,
            due=due,
            sent_count=len(sent),
            last_sent=sent[-1] if sent else None,
            **settings,
        ):
            sent.append(today)
    return sent


# --- the rule ---------------------------------------------------------------------------------


def test_at_the_start_three_days_before_on_the_date_then_weekly_at_most_five():
    assert walk_schedule(start=D(2026, 3, 2), due=D(2026, 3, 16), days=120) == [
        D(2026, 3, 2),
        D(2026, 3, 13),
        D(2026, 3, 16),
        D(2026, 3, 23),
        D(2026, 3, 30),
    ]


@override_settings(REMINDER_DAYS_BEFORE=2, REMINDER_REPEAT_DAYS=3, REMINDER_MAX=4)
def test_the_settings_shape_the_schedule():
    assert walk_schedule(start=D(2026, 3, 2), due=D(2026, 3, 10), days=60) == [
        D(2026, 3, 2),
        D(2026, 3, 8),
        D(2026, 3, 10),
        D(2026, 3, 13),
    ]


def test_explicit_values_win_over_the_settings():
    days = walk_schedule(
        start=D(2026, 3, 2), due=D(2026, 3, 4), days=30, days_before=1, repeat_days=10,
        max_count=9,
    )  # fmt: skip
    assert days == [D(2026, 3, 2), D(2026, 3, 3), D(2026, 3, 4), D(2026, 3, 14), D(2026, 3, 24)]


def test_without_a_due_date_only_the_start():
    assert walk_schedule(start=D(2026, 3, 2), due=None, days=60) == [D(2026, 3, 2)]


def test_a_due_date_close_to_the_start_skips_the_milestones_before_it():
    assert walk_schedule(start=D(2026, 3, 14), due=D(2026, 3, 16), days=10) == [
        D(2026, 3, 14),
        D(2026, 3, 16),
        D(2026, 3, 23),
    ]


def test_never_twice_a_day_and_nothing_before_the_start():
    kwargs = {"start": D(2026, 3, 2), "due": D(2026, 3, 16)}
    assert not reminder_due(today=D(2026, 3, 16), sent_count=2, last_sent=D(2026, 3, 16), **kwargs)
    assert not reminder_due(today=D(2026, 3, 1), sent_count=0, last_sent=None, **kwargs)
    assert latest_milestone(today=D(2026, 3, 1), **kwargs) is None


def test_a_missed_day_is_caught_up_once_the_next_day():
    kwargs = {"start": D(2026, 3, 2), "due": D(2026, 3, 16)}
    # Reminded at the start; the job did not run on the 13th (3 days before).
    assert reminder_due(today=D(2026, 3, 14), sent_count=1, last_sent=D(2026, 3, 2), **kwargs)
    assert not reminder_due(today=D(2026, 3, 15), sent_count=2, last_sent=D(2026, 3, 14), **kwargs)
    assert reminder_due(today=D(2026, 3, 16), sent_count=2, last_sent=D(2026, 3, 14), **kwargs)


def test_the_maximum_stops_even_a_due_milestone():
    assert not reminder_due(
        today=D(2026, 3, 30), start=D(2026, 3, 2), due=D(2026, 3, 16), sent_count=5,
        last_sent=D(2026, 3, 23),
    )  # fmt: skip


# --- the due date -------------------------------------------------------------------------------


def test_the_administrator_sets_the_due_date_on_the_version_page(
    client, admin, director, regulation
):
    due = timezone.localdate() + dt.timedelta(days=14)
    since = AuditEntry.objects.count()
    client.force_login(admin)
    url = reverse("version_deadline", kwargs={"pk": regulation.pk})
    response = client.post(url, {"read_by": due.isoformat()})
    assert (response.status_code, response["Location"]) == (
        302,
        f"/regulation/versions/{regulation.pk}/",
    )
    regulation.refresh_from_db()
    assert (regulation.read_by, regulation.reminders_from) == (due, timezone.localdate())
    (entry,) = AuditEntry.objects.order_by("pk")[since:]
    assert (entry.action, entry.actor, entry.object_id) == (
        "version.deadline_set",
        admin,
        str(regulation.pk),
    )
    assert entry.data == {"read_by": [None, due.isoformat()]}
    assert version_history(regulation)[-1][1] == f"срок: до {due:%d.%m.%Y}"
    # The same date again changes nothing.
    client.post(url, {"read_by": due.isoformat()})
    assert AuditEntry.objects.count() == since + 1
    # The director sees it, and may not change it.
    client.force_login(director)
    page = client.get(reverse("version_detail", kwargs={"pk": regulation.pk})).content.decode()
    assert f"До {due:%d.%m.%Y}" in page and "Сохранить срок" not in page
    assert client.post(url, {"read_by": ""}).status_code == 403
    regulation.refresh_from_db()
    assert regulation.read_by == due


def test_a_past_due_date_or_a_superseded_version_is_refused_and_writes_nothing(
    client, admin, regulation, draft_version
):
    since = AuditEntry.objects.count()
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    client.force_login(admin)
    url = reverse("version_deadline", kwargs={"pk": regulation.pk})
    response = client.post(url, {"read_by": yesterday.isoformat()}, follow=True)
    assert "Срок ознакомления не может быть раньше сегодняшнего дня." in response.content.decode()
    response = client.post(url, {"read_by": "31.02.2026"}, follow=True)
    assert "Срок не изменён" in response.content.decode()
    with pytest.raises(PortalError, match="не утверждена"):
        version_set_deadline(version=draft_version, actor=admin, read_by=timezone.localdate())
    regulation.refresh_from_db()
    assert regulation.read_by is None
    assert AuditEntry.objects.count() == since


def test_clearing_the_due_date(admin, regulation):
    due = timezone.localdate() + dt.timedelta(days=3)
    version_set_deadline(version=regulation, actor=admin, read_by=due)
    version_set_deadline(version=regulation, actor=admin, read_by=None)
    regulation.refresh_from_db()
    assert regulation.read_by is None
    entry = AuditEntry.objects.filter(action="version.deadline_set").order_by("pk").last()
    assert entry.data == {"read_by": [due.isoformat(), None]}
    assert version_history(regulation)[-1][1] == "срок снят"


def test_the_list_shows_who_is_overdue(client, admin, teacher, regulation):
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    client.force_login(admin)
    url = reverse("acknowledgement_list")
    page = client.get(url, {"status": "overdue"}).content.decode()
    assert "Никого не найдено." in page and "просрочено" not in page.split("<table")[1]
    # The due date passed (set earlier; a service refuses a past date, so the row is moved).
    type(regulation).objects.filter(pk=regulation.pk).update(
        read_by=timezone.localdate() - dt.timedelta(days=1)
    )
    changed_outside_services()
    regulation.refresh_from_db()
    assert is_overdue(regulation)
    page = client.get(url, {"status": "overdue"}).content.decode()
    table = page.split("<tbody>")[1]
    assert admin.full_name in table and teacher.full_name not in table
    assert '<span class="badge text-bg-danger">просрочено</span>' in table
    assert '<option value="overdue" selected>Просрочено</option>' in page
    page = client.get(url).content.decode()
    assert teacher.full_name in page.split("<tbody>")[1]


# --- reminders by the schedule --------------------------------------------------------------------


@pytest.fixture
def readers_with_email(admin, teacher):
    for person, email in ((admin, "admin@example.ru"), (teacher, "teacher@example.ru")):
        person.email = email
        person.save()
    return admin, teacher


def run_days(first: dt.date, days: int) -> dict[dt.date, list[str]]:
    """Run the daily job on each day (twice, to show the second finds nothing); the letters
    sent each day, by address."""
    sent = {}
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        mail.outbox.clear()
        reminders_due(base_url="http://portal.example/", on_date=day)
        assert reminders_due(base_url="http://portal.example/", on_date=day) == []
        if mail.outbox:
            sent[day] = sorted(m.to[0] for m in mail.outbox)
    return sent


def test_reminders_go_out_on_exactly_the_right_days(admin, teacher, regulation, readers_with_email):
    today = timezone.localdate()
    version_set_deadline(version=regulation, actor=admin, read_by=today + dt.timedelta(days=10))
    both = ["admin@example.ru", "teacher@example.ru"]
    sent = run_days(today, 60)
    assert sent == {today + dt.timedelta(days=n): both for n in (0, 7, 10, 17, 24)}
    runs = ReminderRun.objects.filter(version=regulation).order_by("number")
    assert [(r.on_date, r.scheduled, r.started_by) for r in runs] == [
        (today + dt.timedelta(days=n), True, None) for n in (0, 7, 10, 17, 24)
    ]
    batches = [run.batch for run in runs]
    for person in (admin, teacher):
        letters = Delivery.objects.filter(person=person, batch__in=batches, kind="reminder")
        assert letters.count() == 5
        assert set(letters.values_list("status", flat=True)) == {Delivery.Status.SENT}
    entries = AuditEntry.objects.filter(
        action="version.reminded", object_id=str(regulation.pk)
    ).order_by("pk")
    assert entries.count() == 5
    assert entries.first().data == {
        "run": 1, "sent": 2, "without_email": 0, "failed": 0, "unconfirmed": 0,
    }  # fmt: skip


def test_whoever_reads_it_is_not_reminded_again(admin, teacher, regulation, readers_with_email):
    today = timezone.localdate()
    version_set_deadline(version=regulation, actor=admin, read_by=today + dt.timedelta(days=10))
    assert run_days(today, 1) == {today: ["admin@example.ru", "teacher@example.ru"]}
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    sent = run_days(today + dt.timedelta(days=1), 30)
    assert sent == {today + dt.timedelta(days=n): ["admin@example.ru"] for n in (7, 10, 17, 24)}


def test_a_manual_reminder_today_means_no_scheduled_one_today(
    admin, teacher, regulation, readers_with_email
):
    today = timezone.localdate()
    reminders_start(version=regulation, actor=admin, base_url="http://portal.example/")
    mail.outbox.clear()
    assert reminders_due(base_url="http://portal.example/", on_date=today) == []
    assert scheduled_targets(regulation, on_date=today) == []
    assert mail.outbox == []
    # Without a due date there is nothing more to remind of.
    assert run_days(today + dt.timedelta(days=1), 20) == {}


def test_a_failed_letter_does_not_count_and_is_tried_the_next_day(
    admin, teacher, regulation, readers_with_email, monkeypatch
):
    def refused(self, messages):
        to = messages[0].to[0]
        raise smtplib.SMTPRecipientsRefused({to: (550, b"no such user")})

    today = timezone.localdate()
    with monkeypatch.context() as patch:
        patch.setattr(EmailBackend, "send_messages", refused)
        (run,) = reminders_due(base_url="http://portal.example/", on_date=today)
    assert set(run.deliveries.values_list("status", flat=True)) == {Delivery.Status.FAILED}
    tomorrow = today + dt.timedelta(days=1)
    assert {p.pk for p in scheduled_targets(regulation, on_date=tomorrow)} == {admin.pk, teacher.pk}
    assert run_days(tomorrow, 1) == {tomorrow: ["admin@example.ru", "teacher@example.ru"]}
    assert run_days(tomorrow + dt.timedelta(days=1), 20) == {}


def test_people_without_email_are_recorded_for_the_administrator_once(
    client, admin, organisation, regulation, readers_with_email
):
    no_email = UserFactory(organisation=organisation, last_name="Безадресова", roles=["teacher"])
    today = timezone.localdate()
    version_set_deadline(version=regulation, actor=admin, read_by=today + dt.timedelta(days=10))
    run_days(today, 3)
    run = ReminderRun.objects.get(on_date=today)
    letters = Delivery.objects.filter(person=no_email).values_list("batch", "kind", "status")
    assert list(letters) == [(run.batch, "reminder", "no_email")]
    client.force_login(admin)
    page = client.get(reverse("acknowledgement_remind")).content.decode()
    assert "напомните им лично" in page and no_email.full_name in page


def test_a_version_approved_before_the_schedule_has_no_scheduled_reminders(
    regulation, readers_with_email
):
    type(regulation).objects.filter(pk=regulation.pk).update(reminders_from=None)
    regulation.refresh_from_db()
    assert reminders_due(base_url="http://portal.example/") == []
    assert mail.outbox == []


def test_the_daily_task_calls_the_hook_with_the_portal_address(settings):
    settings.PORTAL_URL = "https://portal.example.ru/"
    with mock.patch.object(tasks.services, "reminders_due") as due:
        tasks.scheduled_reading_reminders.call_local()
    due.assert_called_once_with(base_url="https://portal.example.ru/")
