"""The worker is killed (SIGKILL) in the middle of an invitation job, then started again: the
job finishes, every person gets exactly one letter, and the one in flight at the kill is
recorded as «отправка не подтверждена», never sent twice.

Everything is real (tests/jobs/killed_worker.py): a huey consumer (`manage.py run_huey`, local
settings with a SqliteHuey queue file in tmp_path) as a subprocess in its own process group,
its own database (a SQLite file, or on a PostgreSQL run a database created for the test), and
a small SMTP server in a thread here that counts letters per recipient and is slow (every
letter takes a while to be accepted). The kill lands while the server holds a letter it has
received but not yet acknowledged: the worst moment, when the portal cannot know whether it
went.

How the job comes back: a starting worker schedules `cdt_portal.tasks.recover_lost_jobs` for
when a job's silence means its worker is dead (JOB_SILENCE_SECONDS, 3 s here, plus one), and
that queues the job again; its run settles the `sending` row as unconfirmed and sends the rest.
Runs on SQLite and on PostgreSQL, whichever the suite runs on; about 15 s on an idle
machine (most of it two Django start-ups and the 4 s of silence).
"""

from __future__ import annotations

from collections import Counter

from tests.jobs.killed_worker import (
    KILL_AT,
    kill,
    set_up,
    start_worker,
    wait,
    worker_env,
)

PEOPLE = 30

SETUP = f"""
from django.contrib.auth.hashers import make_password
from accounts.models import Organisation, Role, User, UserRole
from accounts.services import invitations_email_start

org = Organisation.objects.create(full_name="МКУ ДО «ЦДТ»", short_name="ЦДТ", slug="cdt")
admin = User.objects.create(username="admin", organisation=org, last_name="Админова",
                            first_name="Анна", password=make_password("x"))
UserRole.objects.create(user=admin, role=Role.ADMIN)
people = [
    User.objects.create(username=f"p{{i:02d}}", organisation=org, last_name=f"Педагог{{i:02d}}",
                        first_name="Иван", email=f"p{{i:02d}}@example.ru",
                        password=make_password(None))
    for i in range({PEOPLE})
]
job = invitations_email_start(organisation=org, people=people, actor=admin,
                              base_url="http://portal.test/")
print("JOB", job.pk)
"""


def test_a_killed_worker_sends_each_invitation_once(tmp_path, held_mail, worker_database):
    smtp, database = held_mail, worker_database
    env = worker_env(tmp_path, database, smtp)
    log = tmp_path / "worker.log"
    job_id = set_up(env, SETUP)

    worker = start_worker(env, log)
    try:
        wait(smtp.holding.is_set, 30, "the worker to reach the letter to die on", log)
        kill(worker)  # SIGKILL while the server holds letter KILL_AT, unanswered
        smtp.release.set()
        states = dict(
            database.rows(
                "SELECT status, COUNT(*) FROM cdt_portal_delivery WHERE kind = 'invitation' "
                "GROUP BY status"
            )
        )
        assert states == {"sent": KILL_AT - 1, "sending": 1, "pending": PEOPLE - KILL_AT}
        assert database.rows(f"SELECT status FROM cdt_portal_job WHERE id = {job_id}") == [
            ("running",)
        ]

        worker = start_worker(env, log)
        wait(
            lambda: (
                database.rows(f"SELECT status FROM cdt_portal_job WHERE id = {job_id}")
                == [("done",)]
            ),
            30,
            "the resumed job to finish",
            log,
        )
    finally:
        kill(worker)

    emails = [f"p{i:02d}@example.ru" for i in range(PEOPLE)]
    assert smtp.by_recipient == Counter(dict.fromkeys(emails, 1))  # each person exactly once
    results = dict(
        database.rows(
            "SELECT email, status FROM cdt_portal_delivery WHERE kind = 'invitation' ORDER BY email"
        )
    )
    in_flight = emails[KILL_AT - 1]
    assert results == {e: ("unconfirmed" if e == in_flight else "sent") for e in emails}
    assert database.rows(f"SELECT done, total FROM cdt_portal_job WHERE id = {job_id}") == [
        (PEOPLE, PEOPLE)
    ]
    # Each letter's outcome is in the audit log, and the resumption too.
    actions = Counter(
        dict(
            database.rows(
                "SELECT action, COUNT(*) FROM cdt_portal_auditentry "
                "WHERE action LIKE 'invitation.email%' OR action = 'job.requeued' GROUP BY action"
            )
        )
    )
    assert actions == {
        "invitation.emailed": PEOPLE - 1,
        "invitation.email_unconfirmed": 1,
        "job.requeued": 1,
    }
