"""A worker killed while sending parents' reminders sends none twice.

Everything is real, as in tests/jobs/test_stress.py (whose machinery, `stress_support`, this
reuses): the huey consumer (`manage.py run_huey`, two worker processes) on a Redis queue of the
test's own name and the test's PostgreSQL database, and a mail server on 127.0.0.1 that counts
every letter as its data arrives and answers only ACCEPT_DELAY seconds later (letter HOLD_AT:
not before the kill).

The scenario: PARENTS parents of one organisation are due today for the notice's reminder (and
WITHOUT_EMAIL more, without an e-mail). The daily chore (`families.tasks
.scheduled_parent_reminders`, called here as the scheduler would call it) starts the day's job;
the worker records the letters in the outbox and sends them. As soon as the mail server has
received letter HOLD_AT, which it holds unanswered, the worker's whole process group is
SIGKILLed: that letter is in flight, its row `sending`. A new worker starts; its start-up
schedules the core's look for lost jobs (`jobs_recover`) for when the job's silence shows its
worker is dead (JOB_SILENCE_SECONDS = SILENCE, plus a second), which queues the job again. Its
run settles the `sending` letter as «отправка не подтверждена» and sends the rest.

What must hold at the end: every parent received at most one letter (counted by recipient at
the mail server), the letter in flight is `unconfirmed` and received once, all the others are
`sent` and received exactly once, the parents without an e-mail are `no_email`, nothing is left
`pending` or `sending`, one audit entry per letter with its outcome, one `job.requeued`.

Proven to fail when `cdt_portal.outbox` does not commit `sending` before the SMTP call (tried
by patching it in the worker so the claim stayed in memory only: the letter in flight was
`pending` at the kill, sent again by the requeued job, and its parent received two letters).

PostgreSQL only, as the stress test whose worker it uses: the production setup (PostgreSQL and
Redis); a killed worker on SQLite is tests/jobs/test_worker_killed.py. About 15 s: two worker
start-ups, the silence, and the slow server."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from cdt_portal.models import AuditEntry, Delivery, Job
from families.services import notice_publish, parent_deadline_set
from tests.counts import report
from tests.factories import GuardianshipFactory, OrganisationFactory, UserFactory
from tests.jobs import stress_support as stress

pytestmark = stress.real_worker_marks()

PARENTS = 30
WITHOUT_EMAIL = 2
# The worker dies while the server holds this letter, unanswered (among the newest 20 of the
# 32, which the parents' page lists).
HOLD_AT = 15
ACCEPT_DELAY = 0.1  # seconds the server takes to answer each letter: the run takes seconds
SILENCE = 3  # JOB_SILENCE_SECONDS in the worker


def build_families():
    organisation = OrganisationFactory(slug="killed")
    admin = UserFactory(
        organisation=organisation, username="admin", roles=[Role.ADMIN, Role.TEACHER]
    )
    parents = []
    for n in range(PARENTS + WITHOUT_EMAIL):
        parent = UserFactory(
            organisation=organisation,
            username=f"parent{n:02d}",
            last_name=f"Родителева-{n:02d}",
            email=f"parent{n:02d}@example.ru" if n < PARENTS else "",
            roles=[Role.PARENT],
        )
        child = UserFactory(organisation=organisation, roles=[Role.STUDENT])
        GuardianshipFactory(parent=parent, student=child)
        parents.append(parent)
    notice_publish(organisation=organisation, actor=admin, text="Мы используем «Сферум».")
    parent_deadline_set(
        organisation=organisation,
        actor=admin,
        kind="notice",
        due_date=timezone.localdate() + dt.timedelta(days=10),
    )
    return organisation, admin, parents


def test_a_worker_killed_while_sending_parents_reminders_sends_none_twice(
    worker, mail_server, redis_queue
):
    from families.tasks import scheduled_parent_reminders

    began = time.monotonic()
    organisation, admin, parents = build_families()
    emails = {p.email for p in parents if p.email}
    worker.start(silence=SILENCE)
    worker.wait_ready()

    scheduled_parent_reminders.call_local()  # the daily chore, as the scheduler runs it
    [job] = Job.objects.filter(kind="parent_reminders")
    assert job.organisation_id == organisation.pk

    # Letter HOLD_AT has arrived and waits for its answer: the worker dies.
    stress.wait_for(mail_server.holding.is_set, 60, f"letter {HOLD_AT} to arrive", worker)
    worker.kill()
    mail_server.release.set()
    killed_after = time.monotonic() - began
    at_kill = Counter(
        Delivery.objects.filter(kind="parent_reminder").values_list("status", flat=True)
    )
    in_flight = list(
        Delivery.objects.filter(kind="parent_reminder", status="sending").values_list(
            "email", flat=True
        )
    )
    with mail_server.lock:
        last_received = mail_server.letters[-1].key
    # The kill must land on a letter in flight, or this test proves nothing.
    assert at_kill == {
        "sent": HOLD_AT - 1,
        "sending": 1,
        "pending": PARENTS - HOLD_AT,
        "no_email": WITHOUT_EMAIL,
    }, at_kill
    assert in_flight == [last_received]
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING

    worker.start(silence=SILENCE)  # its start-up looks for lost jobs after the silence
    stress.wait_for(
        lambda: Job.objects.get(pk=job.pk).status in (Job.Status.DONE, Job.Status.FAILED),
        40,
        "the requeued job to end",
        worker,
    )
    worker.kill()

    job.refresh_from_db()
    assert (job.status, job.requeued, job.attempt) == (Job.Status.DONE, 1, 2), job.message
    assert (job.done, job.total) == (PARENTS + WITHOUT_EMAIL, PARENTS + WITHOUT_EMAIL)

    # At the mail server: nobody twice; everyone but the one in flight exactly once.
    letters = mail_server.take()
    by_recipient = Counter()
    for letter, n in letters.items():
        assert letter.kind == "reminder", letter
        by_recipient[letter.key] += n
    assert set(by_recipient) == emails, set(by_recipient) ^ emails
    twice = {email: n for email, n in by_recipient.items() if n > 1}
    assert not twice, f"letters received more than once: {twice}"

    # In the outbox: the letter in flight not confirmed, the others sent, nothing left going.
    rows = dict(
        Delivery.objects.filter(kind="parent_reminder").values_list("person__username", "status")
    )
    statuses = dict(Delivery.objects.filter(kind="parent_reminder").values_list("email", "status"))
    assert rows == {
        p.username: (
            "no_email" if not p.email else "unconfirmed" if p.email in in_flight else "sent"
        )
        for p in parents
    }
    assert not Delivery.objects.filter(status__in=("pending", "sending")).exists()
    assert statuses[in_flight[0]] == "unconfirmed" and by_recipient[in_flight[0]] == 1

    # One entry per letter with its outcome, and the requeue once.
    entries = Counter(
        AuditEntry.objects.filter(action="parent.reminded").values_list("data__status", flat=True)
    )
    assert entries == {"sent": PARENTS - 1, "unconfirmed": 1, "no_email": WITHOUT_EMAIL}
    assert AuditEntry.objects.filter(action="job.requeued", object_id=str(job.pk)).count() == 1

    # The administrator sees it on the parents' page.
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("notices")).content.decode()
    unconfirmed = next(p for p in parents if p.email == in_flight[0])
    assert f"{unconfirmed.full_name}: отправка не подтверждена" in page

    log = worker.log.read_text(errors="replace")
    assert "Traceback" not in log, worker.tail()
    report(
        f"parents' reminders killed: {PARENTS} letters + {WITHOUT_EMAIL} without e-mail; "
        f"killed after {killed_after:.1f} s at {dict(at_kill)}; received "
        f"{sum(by_recipient.values())} letters by {len(by_recipient)} recipients; "
        f"unconfirmed {in_flight}; total {time.monotonic() - began:.1f} s"
    )
