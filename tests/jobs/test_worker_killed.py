"""The worker is killed (SIGKILL) in the middle of an invitation job, then started again: the
job finishes, every person gets exactly one letter, and the one in flight at the kill is
recorded as «отправка не подтверждена», never sent twice.

Everything is real: a huey consumer (`manage.py run_huey`, local settings with a SqliteHuey
queue file in tmp_path) as a subprocess in its own process group, its own database (a SQLite
file, or on a PostgreSQL run a database created for the test), and a small SMTP server in a
thread here that counts letters per recipient and is slow (every letter takes a while to be
accepted). The kill lands while the server holds a letter it has received but not yet
acknowledged: the worst moment, when the portal cannot know whether it went.

How the job comes back: a starting worker schedules `cdt_portal.tasks.recover_lost_jobs` for
when a job's silence means its worker is dead (JOB_SILENCE_SECONDS, 3 s here, plus one), and
that queues the job again; its run settles the `sending` row as unconfirmed and sends the rest.
Runs on SQLite and on PostgreSQL, whichever the suite runs on; about 15 s on an idle
machine (most of it two Django start-ups and the 4 s of silence).
"""

from __future__ import annotations

import os
import signal
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = 30
KILL_AT = 6  # the worker dies while the server holds the 6th letter
ACCEPT_DELAY = 0.15  # seconds the server takes to accept each letter


class SlowSMTP(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Django's backend. `received` counts letters per recipient as they
    arrive (before the answer), so a letter the worker died waiting for is counted once."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: Counter[str] = Counter()
        self.total = 0
        self.lock = threading.Lock()
        self.hold = threading.Event()  # set: answer; clear at the kill letter: hang
        self.hold.set()
        self.holding = threading.Event()


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: SlowSMTP = self.server  # type: ignore[assignment]
        self.reply("220 slow.test ESMTP")
        recipients: list[str] = []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            command = raw.decode(errors="replace").strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 slow.test")
            elif verb == "MAIL":
                recipients = []
                self.reply("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>").lower())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 go on")
                while self.rfile.readline().rstrip(b"\r\n") != b".":
                    pass
                with server.lock:
                    server.total += 1
                    for rcpt in recipients:
                        server.received[rcpt] += 1
                    number = server.total
                if number == KILL_AT:
                    server.holding.set()
                    server.hold.clear()
                    server.hold.wait(60)  # the worker is killed while waiting for this
                    return
                time.sleep(ACCEPT_DELAY)
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


class Database:
    """The subprocess's own database, a copy of the empty, migrated test database (faster than
    migrating again: a copy takes well under a second), and plain SQL on it from here."""

    def __init__(self, tmp_path: Path) -> None:
        from django.db import connection

        default = settings.DATABASES["default"]
        self.vendor = connection.vendor
        if self.vendor == "sqlite":
            self.path = tmp_path / "portal.sqlite3"
            self.url = f"sqlite:///{self.path}"
            connection.ensure_connection()
            with sqlite3.connect(self.path) as target:
                connection.connection.backup(target)
            return
        import psycopg

        self.name = f"cdt_kill_{uuid.uuid4().hex[:8]}"
        self.conninfo = dict(
            host=default.get("HOST") or "127.0.0.1",
            port=default.get("PORT") or 5432,
            user=default.get("USER") or "postgres",
            password=default.get("PASSWORD") or None,
        )
        connection.close()  # a template database must have no other session
        with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as c:
            c.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{default["NAME"]}"')
        auth = self.conninfo["user"] + (
            f":{self.conninfo['password']}" if self.conninfo["password"] else ""
        )
        self.url = f"postgres://{auth}@{self.conninfo['host']}:{self.conninfo['port']}/{self.name}"

    def rows(self, sql: str) -> list[tuple]:
        if self.vendor == "sqlite":
            with sqlite3.connect(self.path) as connection:
                return connection.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(dbname=self.name, **self.conninfo) as connection:
            return connection.execute(sql).fetchall()

    def drop(self) -> None:
        if self.vendor == "postgresql":
            import psycopg

            with psycopg.connect(dbname="postgres", autocommit=True, **self.conninfo) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


SETTINGS_MODULE = """
from cdt_portal.settings.local import *  # noqa: F403
from cdt_portal.settings.local import HUEY

DEBUG = False
MAIL_SEND_RETRIES = 0
MAIL_RETRY_DELAY = 0
HUEY = {**HUEY, "consumer": {"workers": 1, "worker_type": "thread", "periodic": False}}
"""

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


def _manage(env: dict, *args: str, timeout: int = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole, like a dead machine
    )


def _kill(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait(10)


def _wait(predicate, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{log.read_text()[-4000:]}")


@pytest.fixture
def smtp():
    server = SlowSMTP()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def database(tmp_path, transactional_db):
    db = Database(tmp_path)
    yield db
    db.drop()


def test_a_killed_worker_sends_each_invitation_once(tmp_path, smtp, database):
    (tmp_path / "kill_settings.py").write_text(SETTINGS_MODULE)
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
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

    job_id = int(_manage(env, "shell", "-c", SETUP).split("JOB")[1].split()[0])

    worker = _start_worker(env, log)
    try:
        _wait(smtp.holding.is_set, 30, "the worker to reach the letter to die on", log)
        _kill(worker)  # SIGKILL while the server holds letter KILL_AT, unanswered
        smtp.hold.set()
        states = dict(
            database.rows(
                "SELECT status, COUNT(*) FROM accounts_invitationdelivery GROUP BY status"
            )
        )
        assert states == {"sent": KILL_AT - 1, "sending": 1, "pending": PEOPLE - KILL_AT}
        assert database.rows(f"SELECT status FROM cdt_portal_job WHERE id = {job_id}") == [
            ("running",)
        ]

        worker = _start_worker(env, log)
        _wait(
            lambda: (
                database.rows(f"SELECT status FROM cdt_portal_job WHERE id = {job_id}")
                == [("done",)]
            ),
            30,
            "the resumed job to finish",
            log,
        )
    finally:
        _kill(worker)

    emails = [f"p{i:02d}@example.ru" for i in range(PEOPLE)]
    assert smtp.received == Counter(dict.fromkeys(emails, 1))  # each person exactly once
    results = dict(
        database.rows(
            "SELECT d.email, d.status FROM accounts_invitationdelivery d ORDER BY d.email"
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
