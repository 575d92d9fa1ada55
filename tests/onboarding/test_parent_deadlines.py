"""Issue 12, deadlines for parents: the administrator sets a due date for the parents' notice
and for the consent; overdue parents are shown; reminders go out by themselves on the shared
schedule (never twice a day, at most REMINDER_MAX), not to families who decline Sferum, and
each one is recorded; parents without e-mail are listed to be reminded in person."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from onboarding.models import ParentDeadline, ParentReminder
from onboarding.selectors import notice_counts, overdue_parents
from onboarding.services import (
    consent_record,
    family_choice_set,
    notice_confirm,
    parent_deadline_set,
    parent_reminders_send,
)
from tests.factories import GuardianshipFactory, UserFactory

TODAY = timezone.localdate


@pytest.fixture
def mailed_parent(parent):
    parent.email = "parent@example.ru"
    parent.save()
    return parent


def test_the_administrator_sets_a_due_date_and_the_director_sees_it(
    client, admin, director, notice
):
    due = TODAY() + dt.timedelta(days=10)
    client.force_login(admin)
    response = client.post(reverse("notice_deadline"), {"due_date": due.isoformat()})
    assert response.status_code == 302 and response["Location"] == reverse("notices")
    deadline = ParentDeadline.objects.get()
    assert (deadline.kind, deadline.due_date, deadline.reminders_from) == ("notice", due, TODAY())
    entry = AuditEntry.objects.get(action="parent_deadline.set")
    assert entry.actor_id == admin.pk and entry.object_id == str(deadline.pk)
    assert entry.data == {"kind": "notice", "due_date": [None, due.isoformat()]}
    # The same date again writes nothing.
    client.post(reverse("notice_deadline"), {"due_date": due.isoformat()})
    assert AuditEntry.objects.filter(action="parent_deadline.set").count() == 1

    client.force_login(director)
    page = client.get(reverse("notices")).content.decode()
    assert f"Срок: до {due:%d.%m.%Y}" in page
    assert 'name="due_date"' not in page  # only the administrator sets it
    assert client.post(reverse("notice_deadline"), {"due_date": ""}).status_code == 403


def test_a_past_or_broken_date_is_refused_and_writes_nothing(client, admin, organisation):
    client.force_login(admin)
    yesterday = TODAY() - dt.timedelta(days=1)
    page = client.post(
        reverse("consent_deadline"), {"due_date": yesterday.isoformat()}, follow=True
    ).content.decode()
    assert "Срок не может быть раньше сегодняшнего дня." in page
    page = client.post(reverse("consent_deadline"), {"due_date": "31.02"}, follow=True)
    assert "Укажите дату срока." in page.content.decode()
    with pytest.raises(PortalError):
        parent_deadline_set(organisation=organisation, actor=admin, kind="x", due_date=TODAY())
    assert not ParentDeadline.objects.exists()
    assert not AuditEntry.objects.filter(action="parent_deadline.set").exists()


def test_clearing_the_due_date_is_audited(admin, organisation):
    parent_deadline_set(organisation=organisation, actor=admin, kind="consent", due_date=TODAY())
    assert (
        parent_deadline_set(organisation=organisation, actor=admin, kind="consent", due_date=None)
        is None
    )
    assert not ParentDeadline.objects.exists()
    assert AuditEntry.objects.filter(action="parent_deadline.set").count() == 2


def test_reminders_go_out_on_exactly_the_right_days_and_never_twice_a_day(
    admin, organisation, notice, mailed_parent
):
    start = TODAY()
    due = start + dt.timedelta(days=10)
    parent_deadline_set(organisation=organisation, actor=admin, kind="notice", due_date=due)
    days = []
    for offset in range(0, 60):
        today = start + dt.timedelta(days=offset)
        first = parent_reminders_send(today=today, base_url="http://testserver/")
        again = parent_reminders_send(today=today, base_url="http://testserver/")
        assert again == []  # never twice a day
        if first:
            days.append(offset)
    # The start, 3 days before, the date, then every 7 days; at most REMINDER_MAX (5).
    assert days == [0, 7, 10, 17, 24]
    assert len(mail.outbox) == 5
    assert {m.to[0] for m in mail.outbox} == {"parent@example.ru"}
    rows = list(ParentReminder.objects.order_by("on_date"))
    assert [(r.on_date - start).days for r in rows] == days
    assert {(r.parent_id, r.kind, r.status) for r in rows} == {(mailed_parent.pk, "notice", "sent")}
    entries = AuditEntry.objects.filter(action="parent.reminded")
    assert entries.count() == 5
    assert entries.first().data["status"] == "sent"


def test_a_day_the_job_did_not_run_is_caught_up_once(admin, organisation, notice, mailed_parent):
    start = TODAY()
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=start + dt.timedelta(5)
    )
    assert parent_reminders_send(today=start)
    # Nothing ran on day 2 (3 days before); day 3 catches it up once, day 4 sends nothing.
    assert parent_reminders_send(today=start + dt.timedelta(3))
    assert parent_reminders_send(today=start + dt.timedelta(4)) == []
    assert parent_reminders_send(today=start + dt.timedelta(5))


def test_a_parent_who_confirmed_is_not_reminded(admin, organisation, notice, mailed_parent):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(9)
    )
    notice_confirm(notice=notice, parent=mailed_parent)
    assert parent_reminders_send(today=TODAY()) == []
    assert mail.outbox == []


def test_declined_families_are_not_reminded(admin, organisation, notice, mailed_parent, student):
    family_choice_set(
        parent=mailed_parent, student=student, declined=True, channel="paper", contact=""
    )
    for kind in ("notice", "consent"):
        parent_deadline_set(
            organisation=organisation, actor=admin, kind=kind, due_date=TODAY() + dt.timedelta(3)
        )
    for offset in range(0, 20):
        assert parent_reminders_send(today=TODAY() + dt.timedelta(offset)) == []
    assert mail.outbox == [] and not ParentReminder.objects.exists()
    assert not overdue_parents(organisation, "notice", today=TODAY() + dt.timedelta(10))


def test_consent_reminders_stop_once_consent_is_given(admin, organisation, mailed_parent, student):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="consent", due_date=TODAY() + dt.timedelta(3)
    )
    [reminder] = parent_reminders_send(today=TODAY())
    assert (reminder.kind, reminder.status) == ("consent", "sent")
    assert "согласие на обработку персональных данных" in mail.outbox[0].subject
    consent_record(parent=mailed_parent, student=student, action="given", ip_address=None)
    assert parent_reminders_send(today=TODAY() + dt.timedelta(3)) == []


def test_parents_without_email_are_recorded_and_listed_to_remind_in_person(
    client, admin, organisation, notice, parent
):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    [reminder] = parent_reminders_send(today=TODAY())
    assert (reminder.status, reminder.reason) == ("no_email", "нет адреса e-mail")
    assert mail.outbox == []
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert "Напомнить лично (нет e-mail)" in page
    assert parent.full_name in page
    assert "нет e-mail: напомнить лично" in page


def test_a_refused_letter_is_recorded_as_failed(
    admin, organisation, notice, mailed_parent, monkeypatch
):
    from accounts.mailing import Delivery, Mailer

    monkeypatch.setattr(Mailer, "send", lambda self, message: Delivery("refused", "550 нет"))
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    [reminder] = parent_reminders_send(today=TODAY())
    assert (reminder.status, reminder.reason) == ("failed", "550 нет")


def test_overdue_parents_are_shown_on_the_lists_and_the_dashboard(
    client, admin, organisation, notice, parent, student
):
    parent_deadline_set(organisation=organisation, actor=admin, kind="notice", due_date=TODAY())
    parent_deadline_set(organisation=organisation, actor=admin, kind="consent", due_date=TODAY())
    # Not yet overdue on the date itself.
    assert notice_counts(organisation).parents_overdue == 0
    ParentDeadline.objects.update(due_date=TODAY() - dt.timedelta(days=1))
    counts = notice_counts(organisation)
    assert (counts.parents_overdue, counts.consents_overdue) == (1, 1)

    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert "просрочено" in page and parent.full_name in page
    page = client.get(reverse("consents")).content.decode()
    assert '<span class="badge text-bg-danger">просрочено</span>' in page
    page = client.get(reverse("consents"), {"overdue": "1"}).content.decode()
    assert student.full_name in page
    page = client.get(reverse("dashboard")).content.decode()
    assert "Просрочили ознакомление с уведомлением" in page
    assert "Просрочили согласие" in page

    consent_record(parent=parent, student=student, action="given", ip_address=None)
    page = client.get(reverse("consents"), {"overdue": "1"}).content.decode()
    assert "Обучающихся нет." in page


def _add_family(organisation, n: int) -> None:
    for i in range(n):
        child = UserFactory(organisation=organisation, roles=[Role.STUDENT])
        grown_up = UserFactory(organisation=organisation, roles=[Role.PARENT])
        GuardianshipFactory(parent=grown_up, student=child)
        del i


def test_notice_counts_query_count_does_not_grow_with_people(admin, organisation, notice):
    parent_deadline_set(organisation=organisation, actor=admin, kind="notice", due_date=TODAY())
    parent_deadline_set(organisation=organisation, actor=admin, kind="consent", due_date=TODAY())
    ParentDeadline.objects.update(due_date=TODAY() - dt.timedelta(days=1))
    _add_family(organisation, 1)
    with CaptureQueriesContext(connection) as few:
        small = notice_counts(organisation)
    _add_family(organisation, 6)
    with CaptureQueriesContext(connection) as many:
        large = notice_counts(organisation)
    assert (small.parents_overdue, large.parents_overdue) == (1, 7)
    assert large.consents_overdue == 7
    assert len(few.captured_queries) == len(many.captured_queries)
