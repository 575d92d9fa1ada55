"""Issue 12, deadlines for parents: the administrator sets a due date for the parents' notice
and for the consent; overdue parents are shown; reminders go out by themselves on the shared
schedule (never twice a day, at most REMINDER_MAX), not to families who decline Sferum, each
one a letter of the core's outbox sent by a job per organisation and day, so a job run again
sends nobody twice; parents without e-mail are listed to be reminded in person."""

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
from cdt_portal.models import AuditEntry, Delivery, Job
from families.models import ParentDeadline
from families.selectors import notice_counts, overdue_parents, parent_reminder_history
from families.services import (
    consent_withdraw,
    family_choice_set,
    notice_confirm,
    parent_deadline_set,
    parent_reminders_run,
    parent_reminders_send,
)
from tests.factories import GuardianshipFactory, UserFactory
from tests.families.builders import give_consent

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


def reminded(today) -> list[Delivery]:
    """The day's reminders (its jobs run inline in these tests): the letters they recorded."""
    last = Delivery.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    parent_reminders_send(today=today, base_url="http://testserver/")
    return list(Delivery.objects.filter(kind="parent_reminder", pk__gt=last).order_by("pk"))


def test_reminders_go_out_on_exactly_the_right_days_and_never_twice_a_day(
    admin, organisation, notice, mailed_parent
):
    start = TODAY()
    due = start + dt.timedelta(days=10)
    parent_deadline_set(organisation=organisation, actor=admin, kind="notice", due_date=due)
    days = []
    for offset in range(0, 60):
        today = start + dt.timedelta(days=offset)
        first = reminded(today)
        # Never twice a day: the second start the same day finds nobody due, starts no job.
        assert parent_reminders_send(today=today, base_url="http://testserver/") == []
        if first:
            days.append(offset)
    # The start, 3 days before, the date, then every 7 days; at most REMINDER_MAX (5).
    assert days == [0, 7, 10, 17, 24]
    assert len(mail.outbox) == 5
    assert {m.to[0] for m in mail.outbox} == {"parent@example.ru"}
    letters = list(Delivery.objects.filter(kind="parent_reminder").order_by("pk"))
    assert [
        (dt.date.fromisoformat(letter.data["on_date"]) - start).days for letter in letters
    ] == days
    assert {(d.person_id, d.data["kind"], d.status) for d in letters} == {
        (mailed_parent.pk, "notice", "sent")
    }
    assert [d.batch for d in letters] == [
        f"parent-reminders:{organisation.pk}:notice:{start + dt.timedelta(n):%Y-%m-%d}"
        for n in days
    ]
    # One job per organisation and day, each done.
    jobs = Job.objects.filter(kind="parent_reminders").order_by("pk")
    assert [job.key for job in jobs] == [
        f"parent-reminders:{organisation.pk}:{start + dt.timedelta(n):%Y-%m-%d}" for n in days
    ]
    assert {(job.status, job.organisation_id, job.done) for job in jobs} == {
        ("done", organisation.pk, 1)
    }
    entries = AuditEntry.objects.filter(action="parent.reminded")
    assert entries.count() == 5
    assert entries.first().data["status"] == "sent"


def test_a_parent_due_for_both_gets_two_letters_and_a_second_run_adds_nobody(
    admin, organisation, notice, mailed_parent
):
    due = TODAY() + dt.timedelta(days=5)
    for kind in ("notice", "consent"):
        parent_deadline_set(organisation=organisation, actor=admin, kind=kind, due_date=due)
    letters = reminded(TODAY())
    assert sorted((d.data["kind"], d.status) for d in letters) == [
        ("consent", "sent"),
        ("notice", "sent"),
    ]
    assert len(mail.outbox) == 2
    # The day's job run again (a retry, a requeue after a kill) adds and sends nothing.
    [job] = Job.objects.filter(kind="parent_reminders")
    parent_reminders_run(
        job_id=job.pk,
        organisation_id=organisation.pk,
        on_date=TODAY().isoformat(),
        base_url="http://testserver/",
    )
    assert Delivery.objects.filter(kind="parent_reminder").count() == 2
    assert len(mail.outbox) == 2


class Killed(BaseException):
    """The worker's death in the middle of a letter: nothing after it runs."""


def test_a_letter_in_flight_when_the_worker_died_is_unconfirmed_and_never_sent_again(
    client, admin, organisation, notice, monkeypatch
):
    parents = []
    for n in range(3):
        parent = UserFactory(
            organisation=organisation, roles=[Role.PARENT], email=f"p{n}@example.ru"
        )
        GuardianshipFactory(parent=parent, student=UserFactory(organisation=organisation))
        parents.append(parent)
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    queued = []
    monkeypatch.setattr("cdt_portal.jobs._after_commit", queued.append)  # started, not run
    [job] = parent_reminders_send(today=TODAY(), base_url="http://testserver/")
    assert len(queued) == 1

    from cdt_portal.mailer import Mailer

    real_send, handed = Mailer.send, []

    def dies_on_the_second(self, message):
        handed.append(message.to[0])
        if len(handed) == 2:
            raise Killed
        return real_send(self, message)

    monkeypatch.setattr(Mailer, "send", dies_on_the_second)
    run = dict(
        job_id=job.pk,
        organisation_id=organisation.pk,
        on_date=TODAY().isoformat(),
        base_url="http://testserver/",
    )
    with pytest.raises(Killed):
        parent_reminders_run(**run)
    letters = Delivery.objects.filter(kind="parent_reminder").order_by("pk")
    assert [d.status for d in letters] == ["sent", "sending", "pending"]

    monkeypatch.setattr(Mailer, "send", real_send)
    parent_reminders_run(**run)  # the job queued again after the kill
    letters = list(letters.all())
    in_flight = letters[1].person
    assert [(d.person, d.status) for d in letters] == [
        (letters[0].person, "sent"),
        (in_flight, "unconfirmed"),
        (letters[2].person, "sent"),
    ]
    assert in_flight.email not in [m.to[0] for m in mail.outbox]  # not sent again
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        p.email for p in parents if p != in_flight
    )
    statuses = AuditEntry.objects.filter(action="parent.reminded").values_list(
        "object_id", "data__status"
    )
    assert sorted(statuses) == sorted(
        (str(d.person_id), d.status) for d in letters
    )  # one entry per letter, with its outcome
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert f"{in_flight.full_name}: отправка не подтверждена" in page


def test_a_day_the_job_did_not_run_is_caught_up_once(admin, organisation, notice, mailed_parent):
    start = TODAY()
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=start + dt.timedelta(5)
    )
    assert reminded(start)
    # Nothing ran on day 2 (3 days before); day 3 catches it up once, day 4 sends nothing.
    assert reminded(start + dt.timedelta(3))
    assert reminded(start + dt.timedelta(4)) == []
    assert reminded(start + dt.timedelta(5))


def test_a_parent_who_confirmed_is_not_reminded(admin, organisation, notice, mailed_parent):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(9)
    )
    notice_confirm(notice=notice, parent=mailed_parent)
    assert parent_reminders_send(today=TODAY()) == []  # no job: nobody is due
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
    assert mail.outbox == []
    assert not Delivery.objects.filter(kind="parent_reminder").exists()
    assert not overdue_parents(organisation, "notice", today=TODAY() + dt.timedelta(10))


def test_consent_reminders_stop_once_consent_is_given(admin, organisation, mailed_parent, student):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="consent", due_date=TODAY() + dt.timedelta(3)
    )
    [letter] = reminded(TODAY())
    assert (letter.data["kind"], letter.status) == ("consent", "sent")
    assert "согласие на обработку персональных данных" in mail.outbox[0].subject
    give_consent(mailed_parent, student)
    assert reminded(TODAY() + dt.timedelta(3)) == []


def test_a_family_that_withdrew_its_consent_is_neither_reminded_nor_overdue(
    client, admin, organisation, mailed_parent, student
):
    """A withdrawal is a decision, as declining Sferum is: a consent is voluntary, so no
    reminder presses the family and no list calls them overdue; the consents list shows the
    withdrawal. A family that never answered is still reminded."""
    other_child = UserFactory(organisation=organisation, roles=[Role.STUDENT])
    silent = UserFactory(organisation=organisation, roles=[Role.PARENT], email="silent@example.ru")
    GuardianshipFactory(parent=silent, student=other_child)
    give_consent(mailed_parent, student)
    consent_withdraw(parent=mailed_parent, student=student, ip_address=None)
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="consent", due_date=TODAY() + dt.timedelta(3)
    )
    [letter] = reminded(TODAY())
    assert letter.email == "silent@example.ru"
    assert mail.outbox[0].to == ["silent@example.ru"]
    body = mail.outbox[0].body
    assert "отказаться" not in body
    assert "Давать его не обязательно." in body

    ParentDeadline.objects.update(due_date=TODAY() - dt.timedelta(days=1))
    assert list(overdue_parents(organisation, "consent")) == [silent]
    client.force_login(admin)
    page = client.get(reverse("consents"), {"overdue": "1"}).content.decode()
    assert other_child.full_name in page and student.full_name not in page
    page = client.get(reverse("consents")).content.decode()
    assert f'<span class="badge text-bg-danger">отозвано {TODAY():%d.%m.%Y}</span>' in page


def test_parents_without_email_are_recorded_and_listed_to_remind_in_person(
    client, admin, organisation, notice, parent
):
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    [letter] = reminded(TODAY())
    assert (letter.status, letter.email, letter.person) == ("no_email", "", parent)
    assert mail.outbox == []
    entry = AuditEntry.objects.get(action="parent.reminded")
    assert (entry.data["status"], entry.data["letter"]) == ("no_email", letter.pk)
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert "Напомнить лично (нет e-mail)" in page
    assert parent.full_name in page
    assert "нет e-mail: напомнить лично" in page
    # Recorded once: the day's second start finds nobody due.
    assert reminded(TODAY()) == []


def test_a_refused_letter_is_recorded_as_failed(
    client, admin, organisation, notice, mailed_parent, monkeypatch
):
    from cdt_portal.mailer import Mailer, Outcome

    monkeypatch.setattr(Mailer, "send", lambda self, message: Outcome("refused", "550 нет"))
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    [letter] = reminded(TODAY())
    assert (letter.status, letter.reason) == ("failed", "550 нет")
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert f"{mailed_parent.full_name}: не отправлено (550 нет)" in page


def test_a_letter_whose_parent_changed_meanwhile_is_not_sent(
    client, admin, organisation, notice, mailed_parent, monkeypatch
):
    """Between the record and the send (or a requeue after a kill) a parent may be switched
    off (not sent: failed), confirm the notice or decline Sferum (withdrawn: not needed)."""
    others = {}
    for name in ("switched_off", "confirmed", "declined"):
        person = UserFactory(
            organisation=organisation, roles=[Role.PARENT], email=f"{name}@example.ru",
            last_name=f"Я-{name}",  # after the mailed parent («Кузнецова»): their letters after
        )  # fmt: skip
        child = UserFactory(organisation=organisation, roles=[Role.STUDENT])
        GuardianshipFactory(parent=person, student=child)
        others[name] = (person, child)
    parent_deadline_set(
        organisation=organisation, actor=admin, kind="notice", due_date=TODAY() + dt.timedelta(3)
    )
    from cdt_portal.mailer import Mailer

    real_send = Mailer.send

    def meanwhile(self, message):
        assert message.to == [mailed_parent.email]
        switched_off = others["switched_off"][0]
        switched_off.is_active = False
        switched_off.save(update_fields=["is_active"])
        notice_confirm(notice=notice, parent=others["confirmed"][0])
        family_choice_set(
            parent=others["declined"][0], student=others["declined"][1], declined=True,
            channel="paper",
        )  # fmt: skip
        monkeypatch.setattr(Mailer, "send", real_send)
        return real_send(self, message)

    monkeypatch.setattr(Mailer, "send", meanwhile)
    letters = reminded(TODAY())
    assert {d.email: (d.status, d.reason) for d in letters} == {
        "parent@example.ru": ("sent", ""),
        "switched_off@example.ru": ("failed", "учётная запись отключена"),
        "confirmed@example.ru": ("withdrawn", "родитель уже ознакомился с уведомлением"),
        "declined@example.ru": ("withdrawn", "семья не использует «Сферум»: напоминание не нужно"),
    }
    assert [m.to for m in mail.outbox] == [["parent@example.ru"]]
    statuses = AuditEntry.objects.filter(action="parent.reminded").values_list(
        "data__status", flat=True
    )
    assert sorted(statuses) == ["failed", "sent", "withdrawn", "withdrawn"]
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    assert "не понадобилось (родитель уже ознакомился с уведомлением)" in page
    # A withdrawn letter was no reminder: the schedule does not count it.
    deadline = ParentDeadline.objects.get(kind="notice")
    assert others["confirmed"][0].pk not in parent_reminder_history(deadline)


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

    give_consent(parent, student)
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
