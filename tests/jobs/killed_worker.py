"""What the killed-worker tests share (tests/jobs/test_worker_killed.py,
tests/jobs/test_reminders_worker_killed.py): the worker subprocess (`manage.py
run_huey` on a SqliteHuey queue file in tmp_path) in its own process group, killed whole with
SIGKILL like a machine that died; its own database, a copy of the empty migrated test database
(a SQLite file, or on a PostgreSQL run a database created from it), read with plain SQL from
here; and the mail server that holds letter KILL_AT unanswered while the worker is killed
(`stress_support.HoldingMailServer`, which tests/jobs/test_parent_reminders_killed.py uses on
Redis with the stress test's worker). Their fixtures, `held_mail` and `worker_database`, are in
tests/jobs/conftest.py."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.jobs import stress_support as stress

ROOT = Path(__file__).resolve().parents[2]
KILL_AT = 6  # the worker dies while the server holds the 6th letter
ACCEPT_DELAY = 0.15  # seconds the server takes to accept each letter


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
            # Threads of earlier tests in this process (a live server's, a consumer's) may
            # still hold a connection to the test database; a template must have none.
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [default["NAME"]],
            )
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


def worker_env(tmp_path: Path, database: Database, smtp: stress.HoldingMailServer) -> dict:
    """The worker's environment: SETTINGS_MODULE, its database, its queue file, the server."""
    (tmp_path / "kill_settings.py").write_text(SETTINGS_MODULE)
    return {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "DJANGO_SETTINGS_MODULE": "kill_settings",
        "DATABASE_URL": database.url,
        "JOBS_QUEUE_FILE": str(tmp_path / "jobs.sqlite3"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
        "EMAIL_TIMEOUT": "1",
        "JOB_SILENCE_SECONDS": "3",
        "REDIS_URL": "",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def set_up(env: dict, script: str) -> int:
    """Run `script` (which prints «JOB <pk>») in the worker's settings; the job's pk."""
    return int(manage(env, "shell", "-c", script).split("JOB")[1].split()[0])


def manage(env: dict, *args: str, timeout: int = 120) -> str:
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


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole, like a dead machine
    )


def kill(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait(10)


def wait(predicate, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}\n--- worker log ---\n{log.read_text()[-4000:]}")
