"""The worker is killed (SIGKILL) in the middle of a reminder run that sends every letter over
one kept SMTP connection, then started again: the run finishes, every person with an e-mail
gets exactly one letter, the one in flight at the kill is «отправка не подтверждена» and
never sent again, and the people without an e-mail are recorded once.

The same real setting as tests/jobs/test_worker_killed.py (whose server, database copy and
worker helpers this uses): a huey consumer subprocess, its own database, a slow SMTP server
that holds the 6th letter unanswered when the worker is killed."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tests.jobs import test_worker_killed as killed

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


@pytest.fixture
def smtp():
    server = killed.SlowSMTP()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def database(tmp_path, transactional_db):
    db = killed.Database(tmp_path)
    yield db
    db.drop()


def test_a_killed_worker_sends_each_reminder_once(tmp_path, smtp, database):
    (tmp_path / "kill_settings.py").write_text(killed.SETTINGS_MODULE)
    env = {
        **killed.os.environ,
        "PYTHONPATH": f"{tmp_path}{killed.os.pathsep}{killed.ROOT}",
        "DJANGO_SETTINGS_MODULE": "kill_settings",
        "DATABASE_URL": database.url,
        "JOBS_QUEUE_FILE": str(tmp_path / "jobs.sqlite3"),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.server_address[1]}",
        "EMAIL_TIMEOUT": "1",
        "JOB_SILENCE_SECONDS": "3",
        "REDIS_URL": "",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    log = tmp_path / "worker.log"
    job_id = int(killed._manage(env, "shell", "-c", SETUP).split("JOB")[1].split()[0])

    def states() -> dict[str, int]:
        return dict(
            database.rows(
                "SELECT status, COUNT(*) FROM acknowledgements_reminderdelivery GROUP BY status"
            )
        )

    def job() -> list[tuple]:
        return database.rows(f"SELECT status, done, total FROM cdt_portal_job WHERE id = {job_id}")

    worker = killed._start_worker(env, log)
    try:
        killed._wait(smtp.holding.is_set, 30, "the worker to reach the letter to die on", log)
        killed._kill(worker)  # SIGKILL while the server holds letter KILL_AT, unanswered
        smtp.hold.set()
        assert states() == {
            "no_email": WITHOUT_EMAIL,
            "sent": killed.KILL_AT - 1,
            "sending": 1,
        }
        assert job()[0][0] == "running"

        worker = killed._start_worker(env, log)
        killed._wait(lambda: job()[0][0] == "done", 30, "the resumed job to finish", log)
    finally:
        killed._kill(worker)

    emails = [f"p{i:02d}@example.ru" for i in range(WITH_EMAIL)]
    assert smtp.received == Counter(dict.fromkeys(emails, 1))  # each person exactly once
    rows = database.rows(
        "SELECT u.username, d.status, d.attempts FROM acknowledgements_reminderdelivery d "
        "JOIN accounts_user u ON u.id = d.person_id"
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
