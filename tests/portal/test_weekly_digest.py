"""Issue 12, the weekly digest: the rollout in numbers, what is overdue and what changed in the
week, mailed to the director and to each administrator once a week, through the outbox."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from acknowledgements.models import DocumentVersion
from acknowledgements.services import acknowledgement_record_paper
from cdt_portal.models import AuditEntry, Delivery, Job
from families.models import ParentDeadline
from families.services import parent_deadline_set
from portal import tasks
from portal.services import digest_batch, weekly_digest_send

TODAY = timezone.localdate


def week_start() -> dt.date:
    return TODAY() - dt.timedelta(days=TODAY().weekday())


def director_of(organisation):
    from accounts.models import Role, User

    return User.objects.active_in(organisation).with_role(Role.DIRECTOR).get()


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
    letters = weekly_digest_send(today=monday, base_url="http://testserver/")
    assert [
        (letter.person_id, letter.email, letter.status, letter.batch) for letter in letters
    ] == [
        (person.pk, person.email, "sent", f"digest:{organisation.pk}:{monday:%Y-%m-%d}")
        for person in sorted([admin, director_of(organisation)], key=lambda p: p.pk)
    ]

    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@example.ru",
        "director@example.ru",
    ]
    assert mail.outbox[0].body == mail.outbox[1].body  # one digest, a letter each
    body = mail.outbox[0].body
    since = monday - dt.timedelta(days=7)
    assert f"Неделя: {since:%d.%m.%Y} — {monday - dt.timedelta(days=1):%d.%m.%Y}" in body
    assert "- Сотрудники ознакомлены с Положением: 0 из 2" in body
    assert "- Родители ознакомлены с уведомлением: 0 из 1" in body
    read_by = TODAY() - dt.timedelta(days=2)
    assert f"Не ознакомились с Положением к сроку {read_by:%d.%m.%Y} (2):" in body
    assert f"- {teacher.full_name}" in body
    assert "Родители, не ознакомившиеся с уведомлением к сроку (1):" in body
    assert f"- {parent.full_name}" in body
    assert "- Установлен срок для родителей: 1" in body
    assert "- Опубликовано уведомление родителей: 1" in body
    entries = AuditEntry.objects.filter(action="digest.sent").order_by("pk")
    assert [(e.actor_id, e.object_id) for e in entries] == [
        (None, str(letter.person_id)) for letter in letters
    ]


def test_a_second_run_the_same_week_sends_nothing(readers_with_mail, organisation):
    monday = TODAY() - dt.timedelta(days=TODAY().weekday())
    assert len(weekly_digest_send(today=monday)) == 2
    assert weekly_digest_send(today=monday + dt.timedelta(days=3)) == []
    assert len(mail.outbox) == 2
    assert Delivery.objects.filter(kind="digest", organisation=organisation).count() == 2
    assert AuditEntry.objects.filter(action="digest.sent").count() == 2
    assert "Ничего не просрочено." in mail.outbox[0].body
    # The next week is a new digest.
    assert len(weekly_digest_send(today=monday + dt.timedelta(days=7))) == 2


def test_an_organisation_without_readers_gets_nothing(organisation, director):
    assert weekly_digest_send(today=TODAY()) == []
    assert mail.outbox == [] and not Delivery.objects.exists()


def test_a_refused_digest_is_recorded_with_its_reason(readers_with_mail, monkeypatch):
    from cdt_portal.mailer import Mailer, Outcome

    monkeypatch.setattr(Mailer, "send", lambda self, message: Outcome("refused", "550 нет"))
    letters = weekly_digest_send(today=TODAY())
    assert [(letter.status, letter.reason) for letter in letters] == [("failed", "550 нет")] * 2
    assert AuditEntry.objects.filter(action="digest.failed").count() == 2
    assert weekly_digest_send(today=TODAY()) == []  # not sent again by itself


def test_the_task_runs_on_monday_at_eight_on_the_portals_clock(readers_with_mail, settings):
    """Huey hands the check a naive UTC time (its `utc` default); 08:00 is in TIME_ZONE."""
    settings.TIME_ZONE = "Europe/Moscow"
    schedule = tasks.weekly_digest.task_class().validate_datetime
    assert schedule(dt.datetime(2026, 11, 30, 5, 0))  # Monday 08:00 in Moscow
    assert not schedule(dt.datetime(2026, 11, 30, 8, 0))
    assert not schedule(dt.datetime(2026, 12, 1, 5, 0))
    tasks.weekly_digest.call_local()
    tasks.weekly_digest.call_local()  # fired twice: one job for the week
    [job] = Job.objects.filter(kind="weekly_digest")
    assert (job.status, job.key) == (Job.Status.DONE, f"weekly-digest:{week_start():%Y-%m-%d}")
    assert len(mail.outbox) == 2


def test_a_digest_letter_in_flight_when_the_worker_stopped_is_not_sent_again(
    readers_with_mail, director, admin
):
    """A run that finds a letter still `sending` (its worker stopped after handing it over)
    marks it unconfirmed and sends the others; nobody gets it twice."""
    from cdt_portal import outbox

    batch = digest_batch(director.organisation, week_start())
    outbox.record(
        batch=batch,
        kind=Delivery.Kind.DIGEST,
        organisation_id=director.organisation_id,
        recipients=[outbox.Recipient(director, director.email)],
    )
    Delivery.objects.filter(batch=batch).update(status=Delivery.Status.SENDING)
    letters = weekly_digest_send(today=TODAY())
    assert [(letter.person_id, letter.status) for letter in letters] == [
        (director.pk, "unconfirmed"),
        (admin.pk, "sent"),
    ]
    assert [message.to for message in mail.outbox] == [["admin@example.ru"]]
    assert AuditEntry.objects.filter(action="digest.unconfirmed").count() == 1


def test_the_digest_lists_who_is_overdue_on_each_document(
    readers_with_mail, organisation, director, admin, teacher, regulation
):
    from tests.acknowledgements.builders import make_act

    act = make_act(organisation, director)
    past = TODAY() - dt.timedelta(days=3)
    DocumentVersion.objects.filter(pk__in=[regulation.pk, act.pk]).update(read_by=past)
    acknowledgement_record_paper(version=act, person=admin, paper_date=TODAY(), recorded_by=admin)
    monday = TODAY() + dt.timedelta(days=7 - TODAY().weekday())
    weekly_digest_send(today=monday, base_url="http://testserver/")
    body = mail.outbox[0].body
    overdue = body[body.index("ПРОСРОЧЕНО") : body.index("ЧТО ИЗМЕНИЛОСЬ")]
    assert overdue.splitlines()[1:] == [
        f"Не ознакомились с Положением к сроку {past:%d.%m.%Y} (2):",
        *sorted(f"- {p.full_name}" for p in (admin, teacher)),
        "Не ознакомились с документом «Правила внутреннего трудового распорядка» к сроку "
        f"{past:%d.%m.%Y} (1):",
        f"- {teacher.full_name}",
        "",
    ]
