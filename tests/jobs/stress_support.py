"""The machinery of tests/jobs/test_stress.py (and of the killed-worker tests,
tests/jobs/killed_worker.py): a mail server that counts letters (and one that holds a letter
unanswered while the worker is killed), the real
worker (`manage.py run_huey`, two worker processes) on the test's own Redis queue and the test
database, the swap that makes this process's views queue onto that same Redis queue, and
concurrent signed-in clients.

Nothing here knows the scenario: tests/jobs/stress_scenario.py builds the data and says what the
clients press, tests/jobs/stress_checks.py checks what became of it."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import queue
import signal
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def real_worker_marks(
    reason: str = "the real worker's tests try the production setup: PostgreSQL and Redis",
) -> list:
    """A real-worker test module's `pytestmark`: its transactions commit, as the worker reads
    what they wrote, and it runs on PostgreSQL, the production setup (a killed worker on SQLite
    is tests/jobs/test_worker_killed.py)."""
    import pytest
    from django.db import connection

    return [
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(connection.vendor != "postgresql", reason=reason),
    ]


# --- The mail server --------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """One letter as the server saw it: its kind (from the subject) and what makes it one
    logical letter: the recipient, or for the registration e-mail (always to Sferum's address)
    its Message-ID, which names the organisation's request."""

    kind: str
    key: str


def classify(recipients: list[str], raw: bytes) -> list[Letter]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message.get("Subject", ""))
    if subject.startswith("Приглашение"):
        kind = "invitation"
    elif subject.startswith("Напоминание"):
        kind = "reminder"
    elif subject.startswith("СФЕРУМ"):
        return [Letter("registration", str(message.get("Message-ID", "")).strip())]
    else:
        kind = f"other: {subject}"
    return [Letter(kind, rcpt) for rcpt in recipients]


class MailServer(socketserver.ThreadingTCPServer):
    """Just enough SMTP for Django's backend (and `cdt_portal.mailer.Mailer`'s NOOP). A letter
    is counted when its data has fully arrived, before the server answers; the answer comes
    `accept_delay` seconds later, so a worker killed meanwhile leaves a letter that was
    received but never confirmed (the portal must then say «не подтверждено»)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, accept_delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _MailHandler)
        self.accept_delay = accept_delay
        self.lock = threading.Lock()
        self.letters: list[Letter] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def record(self, recipients: list[str], raw: bytes) -> None:
        letters = classify(recipients, raw)
        with self.lock:
            self.letters.extend(letters)

    def take(self) -> Counter[Letter]:
        """The letters received since the last call, counted."""
        with self.lock:
            letters, self.letters = self.letters, []
        return Counter(letters)

    def __enter__(self) -> MailServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()


class HoldingMailServer(MailServer):
    """The mail server, which also holds letter `hold_at` (counted as each letter's data
    arrives) unanswered until `release` is set: the worker is killed while it waits for that
    answer, whatever the machine's load (a kill timed by polling could land between two
    letters). `by_recipient` counts every letter received per address, the held one too."""

    def __init__(self, accept_delay: float, hold_at: int) -> None:
        super().__init__(accept_delay)
        self.hold_at = hold_at
        self.received_total = 0
        self.by_recipient: Counter[str] = Counter()
        self.holding = threading.Event()
        self.release = threading.Event()

    def record(self, recipients: list[str], raw: bytes) -> None:
        super().record(recipients, raw)
        with self.lock:
            self.received_total += 1
            self.by_recipient.update(recipients)
            count = self.received_total
        if count == self.hold_at:
            self.holding.set()
            self.release.wait(60)


class _MailHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: MailServer = self.server  # type: ignore[assignment]
        try:
            self.reply("220 stress.test ESMTP")
            recipients: list[str] = []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                command = raw.decode(errors="replace").strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 stress.test")
                elif verb == "MAIL":
                    recipients = []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.split(":", 1)[1].strip().strip("<>").lower())
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 go on")
                    lines = []
                    while True:
                        line = self.rfile.readline()
                        if not line:
                            return  # the sender died mid-letter: nothing was received
                        if line.rstrip(b"\r\n") == b".":
                            break
                        lines.append(line[1:] if line.startswith(b"..") else line)
                    server.record(recipients, b"".join(lines))
                    time.sleep(server.accept_delay)
                    self.reply("250 queued")
                elif verb == "QUIT":
                    self.reply("221 bye")
                    return
                else:  # NOOP, RSET
                    self.reply("250 OK")
        except OSError:
            return  # the worker was killed: its connection is gone


# --- The queue: the worker's Redis queue, used by this process's views too ---------------------


def redis_url() -> str:
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def redis_reachable(url: str) -> str:
    """Empty when Redis answers at `url`, otherwise why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def new_queue_name() -> str:
    return f"cdt_stress_{uuid.uuid4().hex[:12]}"


@contextmanager
def views_queue_on_redis(url: str, name: str):
    """This process's huey (the test settings' MemoryHuey in immediate mode, to which every
    task was bound at import) queues onto the worker's Redis queue instead: not immediate, its
    storage a RedisStorage of the same name. Put back as it was afterwards, and every key of
    the queue removed from Redis."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage

    saved_storage, saved_immediate = HUEY.storage, HUEY.immediate
    HUEY.immediate = False
    storage = RedisStorage(name=name, url=url)
    HUEY.storage = storage
    try:
        yield storage
    finally:
        HUEY.immediate = saved_immediate
        HUEY.storage = saved_storage
        flush_queue(storage)


def flush_cache(url: str, prefix: str) -> None:
    """Removes the keys of the Django cache with KEY_PREFIX `prefix` on the Redis at `url`,
    and nothing else. Never `cache.clear()` there: Django's Redis cache clears with FLUSHDB,
    which also empties the queue and schedule of every other real-worker test running in
    another process on the same database (a killed-worker test once lost its worker's
    scheduled look for lost jobs to it)."""
    import redis

    conn = redis.Redis.from_url(url)
    keys = list(conn.scan_iter(match=f"{prefix}:*"))
    if keys:
        conn.delete(*keys)


def flush_queue(storage) -> None:
    names = [storage.queue_key, storage.schedule_key, storage.result_key, storage.counter_key]
    keys = set(names) | set(storage.conn.scan_iter(match=f"{storage.notify_prefix}*"))
    if keys:
        storage.conn.delete(*keys)


# --- The worker ---------------------------------------------------------------------------------

WORKER_SETTINGS = """
import faulthandler
import os
import signal

from cdt_portal.settings.test import *  # noqa: F403
from cdt_portal.settings.test import INSTALLED_APPS

# SIGUSR1 prints every thread's Python stack to the log: a stalled test shows where each
# process of the worker waits (`Worker.tail`). Set here, before the consumer forks.
faulthandler.register(signal.SIGUSR1, all_threads=True)

# The test database (DATABASE_URL), the queue on the test's own Redis name, two worker
# processes with the periodic checks on, as in production.
HUEY = {
    "name": os.environ["STRESS_QUEUE"],
    "huey_class": "huey.RedisHuey",
    "immediate": False,
    "results": False,
    "connection": {"url": os.environ["STRESS_REDIS_URL"]},
    "consumer": {"workers": 2, "worker_type": "process", "periodic": True, "max_delay": 1.0},
}
INSTALLED_APPS = [*INSTALLED_APPS, "stress_chores"]
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["STRESS_SMTP_PORT"])
EMAIL_HOST_USER = EMAIL_HOST_PASSWORD = ""
EMAIL_USE_TLS = EMAIL_USE_SSL = False
EMAIL_TIMEOUT = 10
MAIL_SEND_RETRIES = 0
MAIL_RETRY_DELAY = 0
MEDIA_ROOT = os.environ["STRESS_MEDIA_ROOT"]
BACKUP_DIR = os.environ["STRESS_BACKUP_DIR"]
# The cache the test process shares with the worker, when a test needs one (`shared_cache`).
if os.environ.get("STRESS_CACHE_PREFIX"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["STRESS_REDIS_URL"],
            "KEY_PREFIX": os.environ["STRESS_CACHE_PREFIX"],
        }
    }
"""

# Installed last, so its `tasks` module is found after every app's (run_huey autodiscovers
# them in INSTALLED_APPS order).
CHORES = '''
"""Only the core's minute chores stay scheduled: the look for lost jobs and the worker's beat.
The daily and hourly ones (reading reminders at 09:00, the weekly digest, the nightly backup,
the nightly sheet cleanup) would send letters or remove files the test counts, were it to run
across their minute."""

import logging

from huey.contrib.djhuey import HUEY

KEEP = {"cdt_portal.tasks.worker_beat", "cdt_portal.tasks.recover_lost_jobs_every_minute"}
registry = HUEY._registry
registry._periodic_tasks = [
    task for task in registry._periodic_tasks if registry.task_to_string(task) in KEEP
]
left = sorted(registry.task_to_string(task) for task in registry._periodic_tasks)
logging.getLogger("huey").info("stress: periodic tasks %s", left)
'''


def database_url() -> str:
    """The test database (pytest-django's, on the same server) as a URL for the worker."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    auth = quote(db.get("USER") or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(db['NAME'], safe='')}"


class Worker:
    """`manage.py run_huey --workers 2 --worker-type process` in its own process group (killed
    whole with SIGKILL, like a machine that died), logging to one file across restarts."""

    def __init__(self, tmp_path: Path, *, queue: str, redis: str, smtp_port: int, media: str):
        (tmp_path / "stress_settings.py").write_text(WORKER_SETTINGS)
        app = tmp_path / "stress_chores"
        app.mkdir(exist_ok=True)
        (app / "__init__.py").write_text("")
        (app / "tasks.py").write_text(CHORES)
        (tmp_path / "backups").mkdir(exist_ok=True)
        self.log = tmp_path / "worker.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
            "DJANGO_SETTINGS_MODULE": "stress_settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": redis,
            "STRESS_QUEUE": queue,
            "STRESS_REDIS_URL": redis,
            "STRESS_SMTP_PORT": str(smtp_port),
            "STRESS_MEDIA_ROOT": media,
            "STRESS_BACKUP_DIR": str(tmp_path / "backups"),
        }
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.starts = 0

    def start(self, *, silence: int) -> None:
        from django.utils import timezone

        with self.log.open("a") as log:
            log.write(f"\n=== start {self.starts + 1}: JOB_SILENCE_SECONDS={silence} ===\n")
        self.started_at = time.monotonic()
        self.started_wall = timezone.now()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "run_huey",
                "--workers",
                "2",
                "--worker-type",
                "process",
            ],
            cwd=ROOT,
            env={**self.env, "JOB_SILENCE_SECONDS": str(silence)},
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed whole
        )
        self.starts += 1

    def wait_ready(self, seconds: float = 60) -> None:
        """Until a worker process of this start has stamped its beat (its start-up hook does,
        after Django, the tasks and WeasyPrint are loaded)."""
        from cdt_portal.models import ServiceBeat

        def ready() -> bool:
            beat = ServiceBeat.objects.filter(name="worker").first()
            return beat is not None and beat.at >= self.started_wall

        wait_for(ready, seconds, "the worker to start", self)

    def kill(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)
        self.process = None

    def processes(self) -> str:
        """Each process of the running worker's session (its own, `start_new_session`): its
        state and kernel wait channel; then each one's Python stacks, which its SIGUSR1 handler
        prints into the log."""
        if self.process is None:
            return "(not running)"
        listing = subprocess.run(
            ["ps", "-o", "pid,ppid,stat,wchan:32,etime,args", "-s", str(self.process.pid)],
            capture_output=True,
            text=True,
        ).stdout
        with self.log.open("a") as log:
            log.write("\n--- the worker's Python stacks (SIGUSR1) ---\n")
        for line in listing.splitlines()[1:]:
            try:
                os.kill(int(line.split()[0]), signal.SIGUSR1)
            except (ProcessLookupError, ValueError):
                continue
            time.sleep(0.3)  # one process writes at a time
        return listing

    def tail(self, chars: int = 16000) -> str:
        """Why a test waits in vain: the worker's processes and their stacks (while it runs),
        its Redis queue and schedule, the database's other sessions, the log's warnings and
        errors (each cut short), then the log's last lines."""
        if not self.log.exists():
            return ""
        processes = self.processes()
        text = self.log.read_text(errors="replace")
        problems = [
            line[:400]
            for line in text.splitlines()
            if (" WARNING " in line or " ERROR " in line) and "pypdf" not in line
        ]
        parts = [
            "(processes)",
            processes,
            "(queue)",
            self.queue_state(),
            "(database sessions)",
            database_sessions(),
            "(warnings and errors)",
            *problems[:30],
            "(last lines)",
            text[-chars:],
        ]
        return "\n".join(parts)

    def queue_state(self) -> str:
        """What waits on the worker's Redis queue and in its schedule (with each eta)."""
        from huey.storage import RedisStorage

        try:
            storage = RedisStorage(name=self.env["STRESS_QUEUE"], url=self.env["STRESS_REDIS_URL"])
            waiting = storage.conn.llen(storage.queue_key)
            scheduled = storage.conn.zrange(storage.schedule_key, 0, -1, withscores=True)
        except Exception as exc:
            return f"unreadable: {type(exc).__name__}: {exc}"
        now = storage.convert_ts(dt.datetime.now(dt.UTC).replace(tzinfo=None))
        etas = [round(score - now, 1) for _, score in scheduled]
        return f"{waiting} waiting; {len(scheduled)} scheduled, due in {etas} s"


def database_sessions() -> str:
    """The test database's other sessions: what each runs or waits for (a stuck job's why)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, wait_event_type, wait_event, now() - xact_start, "
            "left(query, 200) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return "\n".join(str(row) for row in cursor.fetchall())


class Stalled(AssertionError):
    pass


def wait_for(predicate: Callable[[], bool], seconds: float, what: str, worker=None) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            tail = f"\n--- worker ---\n{worker.tail()}" if worker else ""
            raise Stalled(f"timed out after {seconds:.0f} s waiting for {what}{tail}")
        time.sleep(0.1)


# --- Concurrent clients -------------------------------------------------------------------------


@dataclass(frozen=True)
class Press:
    """One press of a button: `user` signed in, `do(client)` posts and checks the answer."""

    name: str
    user: object
    do: Callable[[object], None]


def press_concurrently(presses: list[Press], threads: int, stop: threading.Event) -> list[str]:
    """The presses, taken in order by `threads` threads, each with its own Django test client
    per person (a session of their own, signed in with force_login). The views run here, so
    their transactions commit for real. Returns the failures (press name and traceback)."""
    from django.db import connections
    from django.test import Client

    todo: queue.Queue[Press] = queue.Queue()
    for press in presses:
        todo.put(press)
    failures: list[str] = []

    def run() -> None:
        clients: dict[int, Client] = {}
        try:
            while not stop.is_set():
                try:
                    press = todo.get_nowait()
                except queue.Empty:
                    return
                client = clients.get(press.user.pk)
                if client is None:
                    client = clients[press.user.pk] = Client()
                    client.force_login(press.user)
                try:
                    press.do(client)
                except Exception:
                    failures.append(f"{press.name}: {traceback.format_exc(limit=6)}")
        finally:
            connections.close_all()

    pool = [threading.Thread(target=run, name=f"client-{n}") for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return failures


@contextmanager
def slow_commits(seconds: float, thread_prefix: str = "client-"):
    """Every commit made by the clients' threads (the views) waits `seconds` first, as a
    commit over a network or on a busy database server would: a worker that took a job's task
    before its row committed would find nothing to claim. Only the timing changes."""
    from django.db.backends.base.base import BaseDatabaseWrapper

    original = BaseDatabaseWrapper._commit

    def _commit(self):
        if threading.current_thread().name.startswith(thread_prefix):
            time.sleep(seconds)
        return original(self)

    BaseDatabaseWrapper._commit = _commit
    try:
        yield
    finally:
        BaseDatabaseWrapper._commit = original


def pdf_is_whole(path: Path) -> bool:
    from pypdf import PdfReader

    try:
        return len(PdfReader(str(path), strict=True).pages) > 0
    except Exception:
        return False
