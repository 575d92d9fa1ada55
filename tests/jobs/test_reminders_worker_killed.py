"""The worker is killed (SIGKILL) in the middle of a reminder run that sends every letter over
one kept SMTP connection, then started again: the run finishes, every person with an e-mail
gets exactly one letter, the one in flight at the kill is «отправка не подтверждена» and
never sent again, and the people without an e-mail are recorded once (the run's letters are
the outbox's rows, `cdt_portal_delivery`, recorded before the first is sent).

The same real setting as tests/jobs/test_worker_killed.py (tests/jobs/killed_worker.py): a
huey consumer subprocess, its own database, a slow SMTP server that holds the 6th letter
unanswered when the worker is killed."""

from __future__ import annotations

from collections import Counter

from tests.jobs import killed_worker as killed

WITH_EMAIL = 30
WITHOUT_EMAIL = 4 + 1  # and the administrator, a reader too

SETUP = f"""
import datetime as dt
from django.contrib.auth.hashers import make_password
from accounts.models import Organisation, Role, User, UserRole
from acknowledgements.models import Document, DocumentVersion, text_sha256
from acknowledgements.services import reminders_start

org = Organisation.objects.create(full_name="МКУ ДО «ЦДТ»", short_name="ЦДТ", slug="cdt")
admin = User.objects.create(username="admin", organisation=org, last_name="Админова",
                            first_name="Анна", password=make_password("x"))
UserRole.objects.create(user=admin, role=Role.ADMIN)
document = Document.objects.create(organisation=org, title="Положение")
text = "Текст положения."
version = DocumentVersion.objects.create(
    document=document, number=1, title="Положение", text=text, order_number="201-О",
    order_date=dt.date(2023, 11, 30), approver_position="Директор",
    approver_name="О.Б. Денисенко", status="approved", text_sha256=text_sha256(text),
)
people = [
    User.objects.create(username=f"p{{i:02d}}", organisation=org, last_name=f"Педагог{{i:02d}}",
                        first_name="Иван", email=f"p{{i:02d}}@example.ru",
                        password=make_password(None))
    for i in range({WITH_EMAIL})
] + [
    User.objects.create(username=f"n{{i:02d}}", organisation=org, last_name=f"Безадресов{{i:02d}}",
                        first_name="Пётр", password=make_password(None))
    for i in range({WITHOUT_EMAIL} - 1)
]
UserRole.objects.bulk_create([UserRole(user=p, role=Role.TEACHER) for p in people])
run = reminders_start(version=version, actor=admin, base_url="http://portal.test/")
from cdt_portal.models import Job
print("JOB", Job.objects.get(key=run.job_key).pk)
"""


def test_a_killed_worker_sends_each_reminder_once(tmp_path, held_mail, worker_database):
    smtp, database = held_mail, worker_database
    env = killed.worker_env(tmp_path, database, smtp)
    log = tmp_path / "worker.log"
    job_id = killed.set_up(env, SETUP)

    def states() -> dict[str, int]:
        return dict(
            database.rows(
                "SELECT status, COUNT(*) FROM cdt_portal_delivery WHERE kind = 'reminder' "
                "GROUP BY status"
            )
        )

    def job() -> list[tuple]:
        return database.rows(f"SELECT status, done, total FROM cdt_portal_job WHERE id = {job_id}")

    worker = killed.start_worker(env, log)
    try:
        killed.wait(smtp.holding.is_set, 30, "the worker to reach the letter to die on", log)
        killed.kill(worker)  # SIGKILL while the server holds letter KILL_AT, unanswered
        smtp.release.set()
        assert states() == {
            "no_email": WITHOUT_EMAIL,
            "sent": killed.KILL_AT - 1,
            "sending": 1,
            "pending": WITH_EMAIL - killed.KILL_AT,
        }
        assert job()[0][0] == "running"

        worker = killed.start_worker(env, log)
        killed.wait(lambda: job()[0][0] == "done", 30, "the resumed job to finish", log)
    finally:
        killed.kill(worker)

    emails = [f"p{i:02d}@example.ru" for i in range(WITH_EMAIL)]
    assert smtp.by_recipient == Counter(dict.fromkeys(emails, 1))  # each person exactly once
    rows = database.rows(
        "SELECT u.username, d.status, d.attempts FROM cdt_portal_delivery d "
        "JOIN accounts_user u ON u.id = d.person_id WHERE d.kind = 'reminder'"
    )
    results = {name: (status, attempts) for name, status, attempts in rows}
    in_flight = f"p{killed.KILL_AT - 1:02d}"
    assert results == {
        **{f"p{i:02d}": ("sent", 1) for i in range(WITH_EMAIL)},
        in_flight: ("unconfirmed", 0),
        **{f"n{i:02d}": ("no_email", 0) for i in range(WITHOUT_EMAIL - 1)},
        "admin": ("no_email", 0),
    }
    total = WITH_EMAIL + WITHOUT_EMAIL
    assert job() == [("done", total, total)]
    actions = Counter(
        dict(
            database.rows(
                "SELECT action, COUNT(*) FROM cdt_portal_auditentry "
                "WHERE action IN ('version.reminded', 'job.requeued') GROUP BY action"
            )
        )
    )
    assert actions == {"version.reminded": 1, "job.requeued": 1}
