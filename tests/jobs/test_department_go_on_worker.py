"""«Продолжить рассылку» under the real worker: a department's message whose copies job failed
half-way is carried on by one press, whoever presses how often, and nobody gets a copy twice.

Everything is real, as in tests/jobs/test_parent_reminders_killed.py: the huey consumer
(`manage.py run_huey`, two processes) on a Redis queue of the test's own name and the test's
PostgreSQL database, and a mail server on 127.0.0.1 that counts every letter as its data
arrives and holds letter HOLD_AT unanswered.

The scenario: a specialist sends a message to INSTITUTIONS institutions, one administrator
each. The worker runs with JOB_MAX_ATTEMPTS = 1, so a job that loses its worker is not queued
again but fails («Работа прерывалась…»), as one that lost its worker too often does in
production. While the server holds letter HOLD_AT, the worker's process group is SIGKILLed; a
new worker finds the job silent and fails it. The message's page then offers «Продолжить
рассылку» with the copies still waiting. The specialist and a colleague press it PRESSES times
at once, from as many threads (the views run in this process and commit for real, each commit
half a second late): one press queues the job again, every other one is refused with 400.
The worker's run settles the letter that was in flight as «отправка не подтверждена» and sends
the rest.

What must hold at the end: one `job.retried` entry, the job done at attempt 2, every
administrator received exactly one copy (the one in flight too, before the kill), nothing is
left `pending` or `sending`, and the page no longer offers to go on.

PostgreSQL only, as the stress test whose worker it uses."""

from __future__ import annotations

import threading
import time
from collections import Counter

from django.test import Client
from django.urls import reverse

from accounts.models import Department, Role
from cdt_portal.jobs import NOT_FAILED, TOO_MANY_ATTEMPTS
from cdt_portal.models import AuditEntry, Delivery, Job
from departments.services import message_send
from tests.counts import report
from tests.factories import OrganisationFactory, UserFactory
from tests.jobs import stress_support as stress

pytestmark = stress.real_worker_marks()

INSTITUTIONS = 8
HOLD_AT = 4  # the worker dies while the server holds this letter, unanswered
ACCEPT_DELAY = 0.05
# JOB_SILENCE_SECONDS in the worker. With JOB_MAX_ATTEMPTS = 1 a heartbeat this late fails the
# job at once, the retried run's too: long enough that a busy machine's pause is not one.
SILENCE = 6
PRESSES = 6


def build_department():
    department = Department.objects.create(
        slug="uo-go-on", full_name="Управление образования", short_name="УО"
    )
    admins = []
    for n in range(INSTITUTIONS):
        organisation = OrganisationFactory(slug=f"school{n}", department=department)
        admins.append(
            UserFactory(
                organisation=organisation,
                username=f"admin{n}",
                email=f"admin{n}@school{n}.example.ru",
                roles=[Role.ADMIN],
            )
        )
    officer, colleague = (
        UserFactory(
            organisation=None, department=department, username=name, roles=[Role.DEPARTMENT]
        )
        for name in ("officer", "colleague")
    )
    return officer, colleague, admins


def test_a_failed_copies_job_goes_on_once_and_nobody_gets_a_copy_twice(
    worker, mail_server, redis_queue
):
    began = time.monotonic()
    officer, colleague, admins = build_department()
    worker.env["JOB_MAX_ATTEMPTS"] = "1"
    worker.start(silence=SILENCE)
    worker.wait_ready()

    message = message_send(actor=officer, subject="Срок отчёта", text="До 15.12.2026.")
    [job] = Job.objects.filter(key=message.job_key)
    stress.wait_for(mail_server.holding.is_set, 60, f"letter {HOLD_AT} to arrive", worker)
    worker.kill()
    mail_server.release.set()
    in_flight = list(
        Delivery.objects.filter(batch=message.batch, status="sending").values_list(
            "email", flat=True
        )
    )
    at_kill = Counter(Delivery.objects.filter(batch=message.batch).values_list("status", flat=True))
    # The kill must land on a letter in flight, or this test proves less than it says.
    assert at_kill == {"sent": HOLD_AT - 1, "sending": 1, "pending": INSTITUTIONS - HOLD_AT}

    worker.start(silence=SILENCE)  # its look for lost jobs fails the job: one attempt only
    stress.wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Job.Status.FAILED,
        40,
        "the job to fail",
        worker,
    )
    job.refresh_from_db()
    assert job.message == TOO_MANY_ATTEMPTS.format(count=1)
    page_address = reverse("department_message", kwargs={"pk": message.pk})
    reader = Client()
    reader.force_login(colleague)
    page = reader.get(page_address).content.decode()
    assert "Продолжить рассылку" in page
    assert f"Ждут отправки копий на e-mail: {INSTITUTIONS - HOLD_AT}." in page

    go_on = reverse("department_message_go_on", kwargs={"pk": message.pk})
    answers: list[tuple[int, str]] = []

    def press(client) -> None:
        response = client.post(go_on)
        answers.append((response.status_code, response.get("Location", "")))
        if response.status_code == 400:
            assert NOT_FAILED in response.content.decode()

    presses = [
        stress.Press(f"press {n}", officer if n % 2 else colleague, press) for n in range(PRESSES)
    ]
    # Each press's commit waits, as over a network: the presses overlap for certain, and
    # without the job's row lock several of them would each queue the job again.
    with stress.slow_commits(0.5):
        failures = stress.press_concurrently(presses, PRESSES, threading.Event())
    assert not failures, failures
    assert sorted(answers) == [(302, page_address)] + [(400, "")] * (PRESSES - 1), answers

    stress.wait_for(
        lambda: Job.objects.get(pk=job.pk).status in (Job.Status.DONE, Job.Status.FAILED),
        40,
        "the job to end",
        worker,
    )
    worker.kill()
    job.refresh_from_db()
    # Attempt 1 lost its worker and was failed, not run again; the press made attempt 2.
    assert (job.status, job.attempt) == (Job.Status.DONE, 2), job.message

    # At the mail server: every administrator exactly once, the one in flight too.
    by_recipient = Counter()
    for letter, n in mail_server.take().items():
        by_recipient[letter.key] += n
    assert by_recipient == {admin.email: 1 for admin in admins}, by_recipient

    statuses = dict(Delivery.objects.filter(batch=message.batch).values_list("email", "status"))
    assert statuses == {
        admin.email: "unconfirmed" if admin.email in in_flight else "sent" for admin in admins
    }
    retried = AuditEntry.objects.filter(action="job.retried", object_id=str(job.pk))
    assert retried.count() == 1
    assert retried.get().actor_id in (officer.pk, colleague.pk)

    page = reader.get(page_address).content.decode()
    assert "Продолжить рассылку" not in page
    log = worker.log.read_text(errors="replace")
    assert "Traceback" not in log, worker.tail()
    report(
        f"department go-on: {INSTITUTIONS} copies, killed at {dict(at_kill)}, {PRESSES} presses "
        f"at once → {Counter(code for code, _ in answers)}; received "
        f"{sum(by_recipient.values())} by {len(by_recipient)}; "
        f"total {time.monotonic() - began:.1f} s"
    )
