"""How a reminder run sends (issue 11): one SMTP connection for the whole run, a connection
the server dropped between two people reopened without sending anyone twice, the people
without an e-mail recorded together, and the job's progress written now and then, not after
each person. The guarantees of tests/acknowledgements/test_jobs.py hold as before. The letters
are the outbox's (`cdt_portal.outbox`, the run's batch)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from acknowledgements.models import ReminderRun
from acknowledgements.services import reminders, reminders_start
from cdt_portal import jobs, outbox
from cdt_portal.models import AuditEntry, Delivery, Job
from tests.accounts.smtp_server import smtp_server
from tests.acknowledgements.builders import reminder_letters
from tests.factories import PASSWORD, UserFactory


def staff(organisation, count: int, *, email: bool, start: int = 0) -> list:
    return [
        UserFactory(
            organisation=organisation,
            last_name=f"Сотрудник{i:03d}",
            email=f"p{i:03d}@example.ru" if email else "",
            roles=["teacher"],
        )
        for i in range(start, start + count)
    ]


def new_run(regulation, admin) -> tuple[ReminderRun, Job]:
    """A run and its job as `reminders_start` makes them, without running it yet."""
    number = ReminderRun.objects.filter(version=regulation).count() + 1
    run = ReminderRun.objects.create(
        version=regulation, number=number, on_date=timezone.localdate(), started_by=admin,
        base_url="http://testserver/",
    )  # fmt: skip
    return run, Job.objects.create(key=run.job_key, kind="reminders", title="t")


def results(run) -> dict[str, tuple[str, int]]:
    return {
        d.person.last_name: (d.status, d.attempts) for d in run.deliveries.select_related("person")
    }


@pytest.fixture
def slow_progress(monkeypatch):
    """Progress written only by the count of people, so the query counts do not depend on
    how fast the machine is."""
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_SECONDS", 3600)


def test_one_run_sends_every_letter_through_one_smtp_connection(
    admin, teacher, organisation, regulation
):
    with_email = staff(organisation, 6, email=True)
    without = staff(organisation, 2, email=False, start=100)
    with smtp_server() as server:
        run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert server.connections == 1
    assert server.received() == {p.email: 1 for p in with_email}
    assert server.commands["EHLO"] == 1
    assert results(run) == {
        **{p.last_name: ("sent", 1) for p in with_email},
        **{p.last_name: ("no_email", 0) for p in [admin, teacher, *without]},
    }
    job = Job.objects.get(key=run.job_key)
    assert (job.status, job.done, job.total) == ("done", 10, 10)
    entry = AuditEntry.objects.get(action="version.reminded")
    assert entry.data == {"run": 1, "sent": 6, "without_email": 4, "failed": 0, "unconfirmed": 0}


@pytest.mark.parametrize("how", ["421", "close", "reset"])
def test_a_connection_dropped_between_two_people_is_reopened_and_each_sent_once(
    admin, teacher, organisation, regulation, monkeypatch, how
):
    with_email = staff(organisation, 5, email=True)
    built = itertools.count(1)
    real_build = reminders.build_templated

    with smtp_server() as server:

        def build(*args, **kwargs):
            if next(built) == 3:
                server.drop_all(how)  # the connection idled out before the third letter
            return real_build(*args, **kwargs)

        monkeypatch.setattr(reminders, "build_templated", build)
        run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert server.connections == 2
    assert server.received() == {p.email: 1 for p in with_email}
    assert results(run) == {
        **{p.last_name: ("sent", 1) for p in with_email},
        **{p.last_name: ("no_email", 0) for p in [admin, teacher]},
    }


def test_a_server_that_hangs_up_after_each_letter_gets_each_letter_once(
    admin, organisation, regulation
):
    with_email = staff(organisation, 4, email=True)
    with smtp_server(letters_per_connection=1) as server:
        run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert server.connections == 4
    assert server.received() == {p.email: 1 for p in with_email}
    assert {d.status for d in run.deliveries.exclude(status="no_email")} == {"sent"}


def test_a_letter_refused_on_the_shared_connection_fails_alone(admin, organisation, regulation):
    first, refused, last = staff(organisation, 3, email=True)
    with smtp_server() as server:
        server.refuse[refused.email] = "550 5.1.1 no such user"
        run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert server.received() == {first.email: 1, last.email: 1}
    assert server.connections == 2  # the refusal closed the first one
    delivery = run.deliveries.get(person=refused)
    assert (delivery.status, delivery.reason, delivery.attempts) == (
        "failed", "550 5.1.1 no such user", 1,
    )  # fmt: skip


def test_people_without_email_are_recorded_in_queries_that_do_not_grow_with_their_number(
    admin, teacher, organisation, regulation, slow_progress
):
    staff(organisation, 3, email=False)
    small, small_job = new_run(regulation, admin)
    with CaptureQueriesContext(connection) as few:
        reminders.reminders_run(job_id=small_job.pk, run_id=small.pk)
    staff(organisation, 60, email=False, start=100)
    large, large_job = new_run(regulation, admin)
    with CaptureQueriesContext(connection) as many:
        reminders.reminders_run(job_id=large_job.pk, run_id=large.pk)
    assert (small.deliveries.count(), large.deliveries.count()) == (5, 65)
    assert set(large.deliveries.values_list("status", flat=True)) == {"no_email"}
    assert len(many) == len(few) <= 16
    assert mail.outbox == []
    assert Job.objects.filter(pk=large_job.pk).values_list("done", "total").get() == (65, 65)


def test_each_person_with_email_costs_the_same_few_queries(
    admin, teacher, organisation, regulation, slow_progress
):
    staff(organisation, 2, email=True)
    two, two_job = new_run(regulation, admin)
    with CaptureQueriesContext(connection) as before:
        reminders.reminders_run(job_id=two_job.pk, run_id=two.pk)
    staff(organisation, 6, email=True, start=100)
    eight, eight_job = new_run(regulation, admin)
    with CaptureQueriesContext(connection) as after:
        reminders.reminders_run(job_id=eight_job.pk, run_id=eight.pk)
    assert len(mail.outbox) == 2 + 8
    # The outbox's claim and settlement, each its own transaction (a savepoint here) that
    # locks the letter's row and writes it: `sending` committed, then the outcome (8); and at
    # the claim, whether the person confirmed meanwhile (1).
    assert len(after) - len(before) == 6 * 9


def test_progress_is_written_every_so_many_people_and_at_the_end(
    admin, teacher, organisation, regulation, slow_progress, monkeypatch
):
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_STEPS", 10)
    staff(organisation, 3, email=False)
    staff(organisation, 30, email=True, start=100)
    writes = []
    real = jobs.job_progress
    monkeypatch.setattr(
        jobs, "job_progress", lambda job_id, *a: writes.append(a) or real(job_id, *a)
    )
    run, job = new_run(regulation, admin)
    reminders.reminders_run(job_id=job.pk, run_id=run.pk)
    # 5 without e-mail (the admin and the teacher too) recorded at once, then 30 letters.
    assert writes == [(0, 35), (10,), (20,), (30,), (35,)]
    assert Job.objects.filter(pk=job.pk).values_list("done", "total").get() == (35, 35)
    assert len(mail.outbox) == 30


def test_progress_is_written_every_half_second(
    admin, teacher, organisation, regulation, monkeypatch
):
    staff(organisation, 8, email=True)
    ticks = itertools.count()
    monkeypatch.setattr(jobs, "time", SimpleNamespace(monotonic=lambda: next(ticks) * 0.3))
    writes = []
    real = jobs.job_progress
    monkeypatch.setattr(
        jobs, "job_progress", lambda job_id, *a: writes.append(a) or real(job_id, *a)
    )
    run, job = new_run(regulation, admin)
    reminders.reminders_run(job_id=job.pk, run_id=run.pk)
    # Each check reads the clock once, 0.3 s apart: every second check is 0.6 s after a write.
    assert writes == [(0, 10), (3,), (5,), (7,), (9,), (10,)]


def test_a_run_started_again_after_the_people_without_email_were_recorded(
    admin, teacher, organisation, regulation
):
    """The worker stopped after recording those without an e-mail and two of the letters."""
    without = staff(organisation, 3, email=False)
    sent, in_flight, rest = staff(organisation, 3, email=True, start=100)
    run, job = new_run(regulation, admin)
    reminder_letters(run, without, "no_email")
    reminder_letters(run, [sent], "sent", attempts=1)
    reminder_letters(run, [in_flight], "sending")
    reminder_letters(run, [rest], "pending")
    reminders.reminders_run(job_id=job.pk, run_id=run.pk)
    assert [m.to for m in mail.outbox] == [[rest.email]]
    assert results(run) == {
        **{p.last_name: ("no_email", 0) for p in [admin, teacher, *without]},
        sent.last_name: ("sent", 1),
        in_flight.last_name: ("unconfirmed", 0),
        rest.last_name: ("sent", 1),
    }
    assert run.deliveries.get(person=in_flight).reason == outbox.INTERRUPTED
    assert Job.objects.filter(pk=job.pk).values_list("done", "total").get() == (8, 8)
    entry = AuditEntry.objects.get(action="version.reminded")
    assert entry.data == {"run": 1, "sent": 2, "without_email": 5, "failed": 0, "unconfirmed": 1}


def test_a_person_another_worker_took_meanwhile_is_not_sent_twice(
    admin, teacher, organisation, regulation, monkeypatch
):
    """Two workers on one run (a slow one thought dead, and its resumption): the letter the
    other one claimed after this one recorded the run is not sent by this one, and shown as
    unconfirmed: that worker's outcome no longer counts, the administrator decides."""
    mine, theirs = staff(organisation, 2, email=True)
    real = outbox.send

    def after_the_other_worker_claims(*, batch, **hooks):
        outbox.letters(batch).filter(person=theirs).update(status=Delivery.Status.SENDING)
        real(batch=batch, **hooks)

    monkeypatch.setattr(outbox, "send", after_the_other_worker_claims)
    run, job = new_run(regulation, admin)
    reminders.reminders_run(job_id=job.pk, run_id=run.pk)
    assert [m.to for m in mail.outbox] == [[mine.email]]
    assert results(run)[theirs.last_name] == (Delivery.Status.UNCONFIRMED, 0)
    assert results(run)[mine.last_name] == (Delivery.Status.SENT, 1)


def test_a_person_who_confirms_after_being_recorded_is_not_reminded(
    admin, teacher, organisation, regulation
):
    """The run was recorded, then the worker stopped; meanwhile one person confirmed. The run
    going on withdraws that letter as its turn comes and sends the other."""
    from acknowledgements.services import acknowledgement_confirm

    confirmed, waiting = staff(organisation, 2, email=True)
    run, job = new_run(regulation, admin)
    reminder_letters(run, [confirmed, waiting], "pending")
    acknowledgement_confirm(
        version=regulation, person=confirmed, password=PASSWORD, ip_address=None, user_agent=""
    )
    reminders.reminders_run(job_id=job.pk, run_id=run.pk)
    assert [m.to for m in mail.outbox] == [[waiting.email]]
    letter = run.deliveries.get(person=confirmed)
    assert (letter.status, letter.reason) == ("withdrawn", reminders.ALREADY_READ)
    assert results(run)[waiting.last_name] == ("sent", 1)
