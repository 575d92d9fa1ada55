"""The reminder letters moved from `acknowledgements.ReminderDelivery` into the portal's one
outbox (`cdt_portal.Delivery`, migration 0007): each old row is a letter of its run's batch with
the same person, status, reason and attempts, its run's page shows it as before, and going back
restores the old rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from acknowledgements.models import ReminderRun
from acknowledgements.selectors import reminder_counts, reminder_deliveries
from cdt_portal.models import Delivery
from tests.acknowledgements.builders import reminder_letters
from tests.factories import UserFactory
from tests.migrating import migrate

BEFORE = [("acknowledgements", "0006_job_task_names")]
AT = dt.datetime(2025, 9, 1, 9, 30, tzinfo=dt.UTC)
# (status, reason, attempts) of each old row, one person each.
OLD = {
    "Отправленова": ("sent", "", 1),
    "Отказанова": ("failed", "550 5.1.1 no such user", 1),
    "Неясная": ("unconfirmed", "работа прервалась во время отправки; письмо могло уйти", 0),
    "Прерванова": ("sending", "", 0),
    "Безадресова": ("no_email", "", 0),
}


@pytest.fixture
def run(organisation, admin, regulation):
    return ReminderRun.objects.create(
        version=regulation, number=1, on_date=dt.date(2025, 9, 1), started_by=admin,
        base_url="http://testserver/", finished_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def people(organisation):
    return {
        name: UserFactory(
            organisation=organisation,
            last_name=name,
            email="" if status == "no_email" else f"{name.lower()}@example.ru",
            roles=["teacher"],
        )
        for name, (status, _, _) in OLD.items()
    }


@pytest.mark.django_db(transaction=True)
def test_old_reminder_rows_become_their_runs_letters_and_its_page_shows_them(
    client, organisation, admin, run, people
):
    old = migrate(BEFORE)
    try:
        Old = old.get_model("acknowledgements", "ReminderDelivery")
        for name, (status, reason, attempts) in OLD.items():
            Old.objects.create(
                run_id=run.pk,
                person_id=people[name].pk,
                status=status,
                reason=reason,
                attempts=attempts,
            )
        Old.objects.update(at=AT)  # `at` is auto_now: the day the rows were last written
    finally:
        migrate()

    letters = Delivery.objects.filter(batch=f"reminders:{run.pk}").select_related("person")
    assert {
        letter.person.last_name: (letter.status, letter.reason, letter.attempts)
        for letter in letters
    } == OLD
    for letter in letters:
        assert (letter.kind, letter.organisation_id) == ("reminder", organisation.pk)
        assert letter.email == letter.person.email  # "" for the one without an e-mail
        assert (letter.created_at, letter.updated_at) == (AT, AT)
    assert list(run.deliveries.order_by("pk")) == list(letters.order_by("pk"))

    assert [d.person.last_name for d in reminder_deliveries(run)] == sorted(OLD)
    assert reminder_counts(run) == {
        "pending": 0, "sending": 1, "sent": 1, "failed": 1, "unconfirmed": 1, "no_email": 1,
            "withdrawn": 0,
    }  # fmt: skip
    client.force_login(admin)
    page = client.get(reverse("acknowledgement_remind")).content.decode()
    assert "Напоминания отправлены: 1. Не отправлено: 1. Без e-mail: 1." in page
    assert "не отправлено: 550 5.1.1 no such user" in page
    assert "отправка не подтверждена: работа прервалась во время отправки" in page
    assert "нет e-mail — напомните лично" in page
    assert "Повторить неотправленные и неподтверждённые (2)" in page


@pytest.mark.django_db(transaction=True)
def test_going_back_restores_the_old_rows_without_the_letters_never_tried(run, people):
    for name, (status, reason, attempts) in OLD.items():
        reminder_letters(run, [people[name]], status, reason=reason, attempts=attempts)
    waiting = UserFactory(organisation=run.version.document.organisation, roles=["teacher"])
    reminder_letters(run, [waiting], "pending")
    Delivery.objects.update(updated_at=AT)
    other = Delivery.objects.create(batch="invitations:1", kind="invitation", person=waiting)

    old = migrate(BEFORE)
    try:
        Old = old.get_model("acknowledgements", "ReminderDelivery")
        rows = Old.objects.filter(run_id=run.pk).select_related("person")
        assert {row.person.last_name: (row.status, row.reason, row.attempts) for row in rows} == OLD
        assert {row.at for row in rows} == {AT}
        remaining = old.get_model("cdt_portal", "Delivery").objects.values_list("pk", flat=True)
        assert list(remaining) == [other.pk]  # the reminders left the outbox, nothing else
    finally:
        migrate()

    letters = Delivery.objects.filter(batch=run.batch).select_related("person")
    assert {
        letter.person.last_name: (letter.status, letter.reason, letter.attempts)
        for letter in letters
    } == OLD
