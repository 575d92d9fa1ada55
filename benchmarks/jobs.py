"""The jobs section of `make bench`: long work through gunicorn, a real huey worker and SMTP.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cdt_portal .venv/bin/python benchmarks/jobs.py

Needs PostgreSQL (DATABASE_URL names the server; a database of its own is created next to the
named one and dropped at the end) and Redis on 127.0.0.1:6379 (an empty database number is
claimed with a marker key and emptied at the end). Everything runs on 127.0.0.1:

- gunicorn with `deploy/gunicorn.conf.py` (2 sync workers) and PRODUCTION settings
  (REQUIRE_2FA_FOR_MANAGERS=false, no TLS redirect), after collectstatic into a temporary folder;
- `manage.py run_huey` with production settings: 2 process workers (WORKER_PROCESSES=2), Redis;
- an SMTP server in this process (a small threaded socket server, 5 ms per accepted message).

This process seeds the data with the ORM (the local settings on the same database and
MEDIA_ROOT, the way scripts/deploy_check.py loads the demo) and acts as the people: it signs in
through the login form and makes every request over HTTP, timing each answer. It checks the
issue's targets (issue 11: "Targets (in `make bench`, PostgreSQL, 10,000 staff)") and prints
each with its measured value, its limit and PASS/FAIL. Work that the portal still does inside
the request is reported as "not a job yet" with the time the request took.

Worker memory: the huey worker processes' VmHWM (peak RSS, reset per phase through
/proc/<pid>/clear_refs) and their VmRSS sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = sys.executable
PASSWORD = "cdt-demo"  # the demo's sign-ins (portal/demo)
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
STARTED = time.monotonic()

# Issue 11's targets.
REQUEST_LIMIT_S = 1.0
SHEET_1000_LIMIT_S = 3.0
SHEET_10000_LIMIT_S = 35.0
WORKER_RSS_LIMIT_MB = 300.0
REMINDERS = 1000
REMINDERS_LIMIT_S = 60.0

IMPORT_ROWS = 10_000


def say(message: str) -> None:
    print(f"[jobs {time.monotonic() - STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --- a local SMTP server --------------------------------------------------------------------


class SMTPServer(socketserver.ThreadingTCPServer):
    """Enough SMTP for Django's backend: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
    Every accepted message is kept as (recipients, Message-ID, size, time)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, delay_s: float) -> None:
        super().__init__(("127.0.0.1", 0), SMTPHandler)
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.messages: list[tuple[tuple[str, ...], str, int, float]] = []
        self.connections = 0

    @property
    def port(self) -> int:
        return self.server_address[1]

    def since(self, mark: int) -> list[tuple[tuple[str, ...], str, int, float]]:
        with self.lock:
            return list(self.messages[mark:])

    def mark(self) -> int:
        with self.lock:
            return len(self.messages)


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        server: SMTPServer = self.server  # type: ignore[assignment]
        with server.lock:
            server.connections += 1
        self.reply("220 bench.local ESMTP cdt-bench")
        rcpts: list[str] = []
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            command = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = command[:4].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-bench.local\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n")
                self.reply("250 SIZE 52428800")
            elif verb == "HELO":
                self.reply("250 bench.local")
            elif verb == "MAIL":
                rcpts = []
                self.reply("250 OK")
            elif verb == "RCPT":
                found = re.search(r"<([^>]*)>", command)
                rcpts.append((found.group(1) if found else command[8:]).lower())
                self.reply("250 OK")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                size, message_id, headers = 0, "", True
                while True:
                    chunk = self.rfile.readline(1 << 20)
                    if not chunk or chunk in (b".\r\n", b".\n"):
                        break
                    size += len(chunk)
                    if headers:
                        if chunk in (b"\r\n", b"\n"):
                            headers = False
                        elif chunk[:11].lower() == b"message-id:":
                            message_id = chunk[11:].decode("ascii", "replace").strip()
                time.sleep(server.delay_s)
                with server.lock:
                    server.messages.append((tuple(rcpts), message_id, size, time.monotonic()))
                rcpts = []
                self.reply("250 OK queued")
            elif verb == "RSET":
                rcpts = []
                self.reply("250 OK")
            elif verb == "NOOP":
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


# --- processes and their memory -------------------------------------------------------------


def proc_children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return found


def proc_mb(pid: int) -> dict[str, float]:
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, kb = line.split()[:2]
                    values[key.rstrip(":")] = int(kb) / 1024
    except OSError:
        pass
    return values


def reset_hwm(pid: int) -> None:
    """Reset a process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class MemorySampler(threading.Thread):
    """Samples the RSS of the huey worker processes (children of `run_huey`) and of the
    gunicorn workers every 0.2 s; `phase()` starts a new peak."""

    def __init__(self, huey_pid: int, gunicorn_pid: int) -> None:
        super().__init__(daemon=True)
        self.huey_pid, self.gunicorn_pid = huey_pid, gunicorn_pid
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.peak: dict[int, float] = {}
        self.web_peak: dict[int, float] = {}

    def workers(self) -> list[int]:
        return proc_children(self.huey_pid)

    def web_workers(self) -> list[int]:
        return proc_children(self.gunicorn_pid)

    def phase(self) -> None:
        with self.lock:
            self.peak, self.web_peak = {}, {}
            for pid in self.workers() + self.web_workers():
                reset_hwm(pid)

    def run(self) -> None:
        while not self.stop.wait(0.2):
            with self.lock:
                for pid in self.workers():
                    rss = proc_mb(pid).get("VmRSS", 0.0)
                    self.peak[pid] = max(self.peak.get(pid, 0.0), rss)
                for pid in self.web_workers():
                    rss = proc_mb(pid).get("VmRSS", 0.0)
                    self.web_peak[pid] = max(self.web_peak.get(pid, 0.0), rss)

    def report(self) -> dict:
        """Peak RSS per huey worker process since `phase()` (VmHWM or the sampled maximum,
        whichever is higher), their RSS now, and the gunicorn workers' peak."""
        with self.lock:
            workers = {}
            for pid in self.workers():
                mb = proc_mb(pid)
                workers[pid] = {
                    "peak_mb": round(max(mb.get("VmHWM", 0.0), self.peak.get(pid, 0.0)), 1),
                    "rss_mb": round(mb.get("VmRSS", 0.0), 1),
                }
            web = {}
            for pid in self.web_workers():
                mb = proc_mb(pid)
                web[pid] = round(max(mb.get("VmHWM", 0.0), self.web_peak.get(pid, 0.0)), 1)
        return {
            "workers": workers,
            "worker_peak_mb": max((w["peak_mb"] for w in workers.values()), default=None),
            "worker_rss_mb": max((w["rss_mb"] for w in workers.values()), default=None),
            "web_peak_mb": max(web.values(), default=None),
        }


# --- a person with a browser: plain HTTP to gunicorn ----------------------------------------


class Person:
    def __init__(self, port: int, name: str) -> None:
        self.port = port
        self.name = name
        self.cookies: dict[str, str] = {}
        self.timings: list[tuple[str, float]] = []

    def request(self, method: str, path: str, *, body=None, headers=None, timeout=300):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        all_headers = {"Host": "127.0.0.1", "User-Agent": "cdt-bench-jobs"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            data = response.read()
        except TimeoutError as exc:
            raise BenchError(f"{method} {path}: no answer within {timeout} s") from exc
        finally:
            conn.close()
        elapsed = time.perf_counter() - started
        self.timings.append((f"{method} {path}", elapsed))
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        return Answer(response.status, response.headers, data, elapsed)

    def get(self, path: str, **kwargs) -> Answer:
        return self.request("GET", path, **kwargs)

    def token(self) -> str:
        """The CSRF secret from the cookie: Django accepts it as the form's token."""
        if "csrftoken" not in self.cookies:
            self.get("/accounts/login/")
        return self.cookies["csrftoken"]

    def post(self, path: str, form: dict | None = None, **kwargs) -> Answer:
        fields = {"csrfmiddlewaretoken": self.token(), **(form or {})}
        return self.request(
            "POST",
            path,
            body=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            **kwargs,
        )

    def post_file(self, path: str, fields: dict, name: str, filename: str, content: bytes):
        boundary = "----cdtbench" + secrets.token_hex(8)
        parts = []
        for key, value in {"csrfmiddlewaretoken": self.token(), **fields}.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: text/csv\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request(
            "POST",
            path,
            body=b"".join(parts),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )

    def sign_in(self, username: str) -> None:
        self.get("/accounts/login/")
        answer = self.post("/accounts/login/", {"username": username, "password": PASSWORD})
        location = answer.headers.get("Location", "")
        if answer.status != 302 or "/accounts/login/" in location:
            raise BenchError(f"signing in as {username}: HTTP {answer.status} to {location!r}")


class Answer:
    def __init__(self, status, headers, body, elapsed) -> None:
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    @property
    def is_pdf(self) -> bool:
        return self.status == 200 and self.body.startswith(b"%PDF-")

    @property
    def location(self) -> str:
        location = self.headers.get("Location", "")
        parts = urlsplit(location)
        return urlunsplit(("", "", parts.path, parts.query, "")) if location else ""

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def job_ids(self) -> list[int]:
        return sorted({int(m) for m in re.findall(r"/jobs/(\d+)/", self.text())})


# --- the bench --------------------------------------------------------------------------------


class JobsBench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="cdt-bench-jobs-"))
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.cleanups: list[tuple[str, object]] = []
        self.rows: list[dict] = []
        self.info: dict = {}
        self.errors: list[str] = []
        url = urlsplit(args.database_url)
        if url.scheme not in ("postgres", "postgresql", "pgsql", "postgis"):
            raise BenchError("the jobs section needs DATABASE_URL=postgres://… (PostgreSQL)")
        self.pg_server = urlunsplit((url.scheme, url.netloc, "", "", ""))
        base_name = url.path.strip("/") or "cdt_portal"
        self.database = f"{base_name}_bench_jobs_{os.getpid()}"
        self.app_port = free_port()
        self.secret_key = secrets.token_urlsafe(40)
        self.redis_db: int | None = None

    # --- services --------------------------------------------------------------------------

    def pg_admin(self):
        import psycopg

        return psycopg.connect(f"{self.pg_server}/postgres", autocommit=True)

    def create_database(self) -> None:
        with self.pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.cleanups.append(("drop the database", self.drop_database))

    def drop_database(self) -> None:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        with self.pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def claim_redis(self) -> None:
        import redis

        for db in range(14, 0, -1):
            client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db)
            if client.dbsize() == 0 and client.set("cdt-bench-jobs", os.getpid(), nx=True):
                self.redis_db = db
                self.cleanups.append(("empty the Redis db", client.flushdb))
                return
        raise BenchError("no empty Redis database number (1-14)")

    def env(self, settings: str = "production") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PG"))}
        env.update(
            DJANGO_SETTINGS_MODULE=f"cdt_portal.settings.{settings}",
            SECRET_KEY=self.secret_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"{self.pg_server}/{self.database}",
            REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            MEDIA_ROOT=str(self.tmp / "media"),
            STATIC_ROOT=str(self.tmp / "static"),
            BACKUP_DIR=str(self.tmp / "backups"),
            EMAIL_URL=f"smtp://127.0.0.1:{self.smtp.port}",
            EMAIL_TIMEOUT="10",
            SECURE_SSL_REDIRECT="false",
            SESSION_COOKIE_SECURE="false",
            CSRF_COOKIE_SECURE="false",
            SECURE_HSTS_SECONDS="0",
            REQUIRE_2FA_FOR_MANAGERS="false",
            PRIVATE_DOWNLOADS_VIA_NGINX="false",
            GUNICORN_BIND=f"127.0.0.1:{self.app_port}",
            WEB_CONCURRENCY="2",
            WORKER_PROCESSES=str(self.args.workers),
            GUNICORN_LOG_LEVEL="warning",
            LOG_LEVEL="WARNING",
            DEBUG="false",
        )
        return env

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append((name, process))
        return process

    def log_tail(self, name: str, chars: int = 2500) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def start(self) -> None:
        self.smtp = SMTPServer(self.args.smtp_delay_ms / 1000)
        threading.Thread(target=self.smtp.serve_forever, daemon=True).start()
        self.cleanups.append(("stop the SMTP server", self.smtp.shutdown))
        self.create_database()
        self.claim_redis()
        say(
            f"database {self.database}, Redis db {self.redis_db}, SMTP 127.0.0.1:{self.smtp.port}"
            "; collectstatic and migrate (production settings)"
        )
        collect = self.spawn("collectstatic", [PYTHON, "manage.py", "collectstatic", "--noinput"])
        migrate = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"],
            cwd=BASE_DIR,
            env=self.env(),
            capture_output=True,
            text=True,
        )
        if migrate.returncode:
            raise BenchError(f"migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
        # This process: the local settings on the same database, media and mail server.
        os.environ.update(self.env("local"))
        sys.path.insert(0, str(BASE_DIR / "benchmarks"))
        import run as bench_run

        self.bench_run = bench_run
        say("migrated; loading the demo …")
        # No worker runs yet: the demo's own approval job runs here, at once (as in tests).
        from huey.contrib.djhuey import HUEY

        HUEY.immediate = True
        try:
            self.portal = bench_run.Portal()
        finally:
            HUEY.immediate = False
        say("demo loaded; waiting for collectstatic")
        if collect.wait(timeout=300):
            raise BenchError(f"collectstatic failed:\n{self.log_tail('collectstatic')}")
        self.gunicorn = self.spawn(
            "gunicorn",
            [str(VENV_BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "cdt_portal.wsgi"],
        )
        self.huey = self.spawn("huey", [PYTHON, "manage.py", "run_huey"])
        deadline = time.monotonic() + 60
        while True:
            for name, process in (("gunicorn", self.gunicorn), ("huey", self.huey)):
                if process.poll() is not None:
                    raise BenchError(
                        f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"
                    )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.app_port, timeout=5)
                conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
                if conn.getresponse().status == 200 and len(proc_children(self.huey.pid)) >= 1:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer /healthz:\n{self.log_tail('gunicorn')}")
            time.sleep(0.3)
        time.sleep(1.0)  # the huey workers finish importing Django
        self.memory = MemorySampler(self.huey.pid, self.gunicorn.pid)
        self.memory.start()
        self.admin = Person(self.app_port, "admin")
        self.director = Person(self.app_port, "director")
        self.admin.sign_in("admin")
        self.director.sign_in("director")
        say(
            f"gunicorn on 127.0.0.1:{self.app_port} (pid {self.gunicorn.pid}, workers "
            f"{proc_children(self.gunicorn.pid)}), huey (pid {self.huey.pid}, processes "
            f"{proc_children(self.huey.pid)})"
        )

    def stop(self) -> None:
        if getattr(self, "memory", None) is not None:
            self.memory.stop.set()
        for name, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop: killing it")
                    try:
                        os.killpg(process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    process.wait(timeout=10)
        for name, cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:
                say(f"cleanup {name}: {exc}")
        if self.args.keep:
            say(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- the database, read by this process -----------------------------------------------

    def last_job_pk(self) -> int:
        from cdt_portal.models import Job

        return Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def jobs_after(self, pk: int) -> list:
        from cdt_portal.models import Job

        return list(Job.objects.filter(pk__gt=pk).order_by("pk"))

    def forget_sheets(self) -> None:
        shutil.rmtree(self.tmp / "media" / "documents" / "sheets", ignore_errors=True)

    # --- recording -------------------------------------------------------------------------

    def target(
        self,
        name: str,
        value,
        limit,
        unit: str,
        *,
        how: str = "",
        ratio=None,
        passed=None,
        kind: str = "",
    ) -> dict:
        if passed is None:
            passed = value is not None and limit is not None and value < limit
        row = {
            "target": name,
            "value": value,
            "limit": limit,
            "unit": unit,
            "used": (value / limit) if value is not None and limit else None,
            "ratio": ratio,
            "ratio_kind": kind,
            "result": "PASS" if passed else "FAIL",
            "how": how,
        }
        self.rows.append(row)
        shown = "—" if value is None else f"{value:.2f} {unit}"
        say(f"{row['result']}: {name}: {shown} (limit {limit} {unit}) {how}")
        return row

    def request_target(self, name: str, answer: Answer | None, how: str = "") -> None:
        if answer is None:
            self.target(name, None, REQUEST_LIMIT_S, "s", how=how or "no answer", passed=False)
            return
        ok_status = answer.status in (200, 302)
        self.target(
            name,
            answer.elapsed,
            REQUEST_LIMIT_S,
            "s",
            ratio=answer.elapsed / self.bare_s,
            kind="÷bare",
            how=(how + ("" if ok_status else f" HTTP {answer.status}")).strip(),
            passed=ok_status and answer.elapsed < REQUEST_LIMIT_S,
        )

    def baselines(self) -> None:
        from weasyprint import HTML

        samples = []
        for _ in range(20):
            samples.append(self.admin.get("/healthz").elapsed)
        self.bare_s = statistics.median(samples)
        blank = []
        for _ in range(20):
            started = time.perf_counter()
            HTML(string="<p></p>").write_pdf()
            blank.append(time.perf_counter() - started)
        self.blank_s = statistics.median(blank)
        self.info["bare_request_ms"] = round(self.bare_s * 1000, 2)
        self.info["blank_pdf_ms"] = round(self.blank_s * 1000, 2)
        say(
            f"baselines: GET /healthz through gunicorn {self.bare_s * 1000:.1f} ms, "
            f"blank WeasyPrint page {self.blank_s * 1000:.1f} ms (in this process)"
        )

    # --- waiting for jobs, as the progress bar does ----------------------------------------

    def wait_jobs(
        self, person: Person, since_pk: int, answer: Answer | None, *, timeout: float, done=None
    ) -> dict:
        """Poll /jobs/<pk>/ for the jobs named on the page (or, failing that, every job
        started since `since_pk`) until all are finished and `done()` (if given) is true."""
        from cdt_portal.models import Job

        deadline = time.monotonic() + timeout
        ids = answer.job_ids() if answer is not None else []
        polls: list[float] = []
        statuses: dict[int, dict] = {}
        while time.monotonic() < deadline:
            watched = ids or [j.pk for j in Job.objects.filter(pk__gt=since_pk)]
            all_finished = True
            for pk in watched:
                status = person.get(f"/jobs/{pk}/")
                polls.append(status.elapsed)
                if status.status == 200:
                    statuses[pk] = json.loads(status.body)
                    if not statuses[pk].get("finished"):
                        all_finished = False
                else:  # not this person's job: read it from the database
                    job = Job.objects.get(pk=pk)
                    statuses[pk] = {
                        "status": job.status,
                        "finished": job.finished,
                        "result_url": job.result_url,
                        "message": job.message,
                    }
                    all_finished &= job.finished
            if watched and all_finished and (done is None or done()):
                break
            time.sleep(self.args.poll)
        else:
            raise BenchError(f"the jobs did not finish within {timeout:.0f} s: {statuses}")
        return {"polls": polls, "statuses": statuses}

    # --- the measurements ------------------------------------------------------------------

    def sheet(self, staff: int, limit: float) -> None:
        self.portal.grow_to(staff)
        staff = self.portal.staff_count()
        self.forget_sheets()
        self.memory.phase()
        say(f"{staff} staff: GET /regulation/sheet.pdf cold (director) …")
        before = self.last_job_pk()
        started = time.perf_counter()
        first = self.director.get("/regulation/sheet.pdf")
        polls: list[float] = []
        how = ""
        if first.is_pdf:
            ready = first
            how = "not a job yet: rendered inside the request"
        elif first.status != 200:
            self.request_target(f"GET /regulation/sheet.pdf first, cold ({staff} staff)", first)
            self.target(
                f"{staff}-row sheet ready from the click",
                None,
                limit,
                "s",
                how=f"HTTP {first.status}",
                passed=False,
            )
            return
        else:
            page = first
            if not first.job_ids() and re.search(r'<form method="post"', first.text()):
                # Nothing is written on GET: the page offers a button that starts the job
                # with a POST to the same address. The person presses it at once.
                press = self.director.post("/regulation/sheet.pdf")
                self.request_target(
                    f"POST /regulation/sheet.pdf «Сформировать» ({staff} staff)", press
                )
                page = self.director.get(press.location or "/regulation/sheet.pdf")
                self.request_target(f"→ GET /regulation/sheet.pdf while preparing ({staff})", page)
            waited = self.wait_jobs(self.director, before, page, timeout=self.args.sheet_timeout)
            polls = waited["polls"]
            urls = [s.get("result_url") for s in waited["statuses"].values() if s.get("result_url")]
            failed = [s for s in waited["statuses"].values() if s.get("status") == "failed"]
            if failed:
                raise BenchError(f"the sheet job failed: {failed}")
            url = next((u for u in urls if "sheet" in u), "/regulation/sheet.pdf")
            ready = self.director.get(url)
            for _ in range(100):  # the page may still be preparing the join: as a reload does
                if ready.is_pdf:
                    break
                time.sleep(self.args.poll)
                ready = self.director.get(url)
            jobs = self.jobs_after(before)
            how = f"job: {len(jobs)} job row(s) ({', '.join(sorted({j.kind for j in jobs}))})"
        total = time.perf_counter() - started
        memory = self.memory.report()
        self.request_target(
            f"GET /regulation/sheet.pdf first, cold ({staff} staff)",
            first,
            "answered with the PDF" if first.is_pdf else "answered «being prepared»",
        )
        if polls:
            self.request_target(
                f"GET /jobs/<pk>/ progress polls, slowest ({staff} staff)",
                Answer(200, {}, b"", max(polls)),
                f"{len(polls)} polls",
            )
        self.target(
            f"{staff}-row sheet ready from the click (PDF downloaded)",
            total if ready.is_pdf else None,
            limit,
            "s",
            ratio=total / self.blank_s,
            kind="÷blank PDF",
            how=f"{how}; {len(ready.body) // 1024} KB",
            passed=ready.is_pdf and total < limit,
        )
        self.memory_target(
            f"peak RSS per worker process, {staff}-row sheet", memory, inside_request=first.is_pdf
        )

    def memory_target(
        self, name: str, memory: dict, *, inside_request: bool, key: str = "worker_peak_mb"
    ) -> None:
        value = memory.get(key)
        detail = ", ".join(
            f"{pid}: peak {w['peak_mb']:.0f} / now {w['rss_mb']:.0f}"
            for pid, w in sorted(memory["workers"].items())
        )
        how = f"huey processes {{{detail}}}; gunicorn worker peak {memory.get('web_peak_mb')} MB"
        if inside_request:
            how = "not a job yet (the work ran in gunicorn); " + how
        self.target(name, value, WORKER_RSS_LIMIT_MB, "MB", how=how)

    def reminders(self) -> None:
        from accounts.models import User
        from acknowledgements.selectors import pending_readers

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        version = self.portal.version()
        pending = pending_readers(version)
        with_email = pending.exclude(email="").count()
        need = max(REMINDERS - with_email, 0)
        ids = list(pending.filter(email="").order_by("pk").values_list("pk", flat=True)[:need])
        people = list(User.objects.filter(pk__in=ids))
        for person in people:
            person.email = f"bench-{person.pk}@example.test"
        User.objects.bulk_update(people, ["email"], batch_size=500)
        expected = pending.exclude(email="").count()
        staff = self.portal.staff_count()
        say(f"{staff} staff: POST /regulation/remind/ ({expected} people with e-mail pending) …")
        mark = self.smtp.mark()
        before = self.last_job_pk()
        delivery_before = delivery_counts()
        started = time.monotonic()
        answer = self.director.post("/regulation/remind/")
        is_job = bool(self.jobs_after(before))
        follow = self.director.get(answer.location) if answer.location else None
        if is_job:
            self.wait_jobs(
                self.director,
                before,
                follow,
                timeout=self.args.reminder_timeout,
                done=lambda: len(self.smtp.since(mark)) >= expected,
            )
        total = time.monotonic() - started if is_job else answer.elapsed
        time.sleep(1.0)  # late messages would show here: the count must stay put
        received = self.smtp.since(mark)
        recipients = Counter(r for rcpts, _, _, _ in received for r in rcpts)
        duplicates = sum(n - 1 for n in recipients.values() if n > 1)
        delivery_after = delivery_counts()
        recorded = {k: delivery_after.get(k, 0) - delivery_before.get(k, 0) for k in delivery_after}
        self.request_target(
            f"POST /regulation/remind/ ({staff} staff)",
            answer,
            "job" if is_job else f"not a job yet: sent {len(received)} inside the request",
        )
        if follow is not None:
            self.request_target(f"→ GET {answer.location} after reminders", follow)
        sent_rows = sum(v for k, v in recorded.items() if k.endswith(":sent"))
        all_rows = sum(v for k, v in recorded.items() if k.endswith(":*"))
        self.target(
            f"{expected} reminders through SMTP finished",
            total,
            REMINDERS_LIMIT_S,
            "s",
            how=("job" if is_job else "not a job yet (inside the request)")
            + f"; SMTP server received {len(received)}, duplicates {duplicates}",
            passed=total < REMINDERS_LIMIT_S and len(received) == expected and not duplicates,
        )
        self.target(
            "every reminder's result recorded (rows = messages, no duplicates)",
            float(sent_rows if recorded else 0),
            float(len(received)),
            "rows",
            how=(
                f"delivery rows: {recorded}"
                if recorded
                else "not a job yet: no per-person delivery record"
            )
            + f"; received {len(received)}, duplicates {duplicates}, expected {expected}",
            passed=bool(recorded)
            and sent_rows == len(received) == expected
            and not duplicates
            and all_rows >= expected,
        )
        self.info["reminders"] = {
            "expected": expected,
            "received": len(received),
            "duplicates": duplicates,
            "recorded": recorded,
            "smtp_delay_ms": self.args.smtp_delay_ms,
        }

    def staff_import(self) -> None:
        from accounts.models import User

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        rng = self.portal.rng
        # Every row a new person: a staff member without e-mail and of the same name would be
        # taken for them («уже есть»), and the step counts the people added.
        namesakes = {
            " ".join(p for p in names if p).casefold().replace("ё", "е")
            for names in User.objects.filter(
                organisation=self.portal.organisation, email=""
            ).values_list("last_name", "first_name", "patronymic")
        }
        lines = ["Фамилия;Имя;Отчество;Должность;E-mail"]
        while len(lines) <= IMPORT_ROWS:
            last, first, middle, position = self.bench_run.fake_person(rng)
            if f"{last} {first} {middle}".casefold().replace("ё", "е") in namesakes:
                continue
            lines.append(f"{last};{first};{middle};{position};import-{len(lines):05d}@example.test")
        content = ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")
        staff = self.portal.staff_count()
        say(f"{staff} staff: POST /people/import/ ({IMPORT_ROWS} rows, {len(content) // 1024} KB)")
        before = self.last_job_pk()
        started = time.perf_counter()
        answer = self.admin.post_file(
            "/people/import/", {"role": "teacher"}, "file", "staff.csv", content
        )
        is_job = bool(self.jobs_after(before))
        self.request_target(
            f"POST /people/import/ upload of {IMPORT_ROWS} rows",
            answer,
            "job" if is_job else "not a job yet: parsed inside the request",
        )
        if answer.status != 302:
            say(f"the import answered {answer.status}: {answer.text()[:500]}")
            return
        follow = self.admin.get(answer.location)
        if is_job:
            self.wait_jobs(self.admin, before, follow, timeout=120)
            preview = self.admin.get(answer.location)
            ready = time.perf_counter() - started
            self.request_target(f"→ GET {answer.location} while preparing", follow)
            self.request_target(f"→ GET {answer.location} the preview, ready", preview)
            self.target(
                "import preview ready from the upload (informational)",
                ready,
                None,
                "s",
                how="job",
                passed=True,
            )
        else:
            preview = follow
            self.request_target(f"→ GET {answer.location} the preview", follow)
        self.staff_import_confirm(answer.location, preview)

    def staff_import_confirm(self, page: str, preview: Answer) -> None:
        """Press «Добавить» on the preview as a person would, follow the job to its end and
        count the people added; then remove them, so that later steps still find the
        institution at its size."""
        from accounts.models import ImportBatch, User

        # The preview's form (no action: it posts to the page) with the «Добавить N» button.
        form = re.search(
            r'<form method="post"[^>]*>(?:(?!</form>).)*name="confirm"', preview.text(), re.S
        )
        if form is None:
            raise BenchError(f"no «Добавить» button on {page}: {preview.text()[:500]}")
        action = re.search(r'action="([^"]+)"', form.group(0).split(">", 1)[0])
        target = action.group(1) if action else page
        batch = ImportBatch.objects.get(pk=int(page.rstrip("/").rsplit("/", 1)[1]))
        imported = User.objects.filter(
            organisation=batch.organisation,
            email__endswith="@example.test",
            email__startswith="import-",
        )
        before_people = imported.count()
        before = self.last_job_pk()
        say(f"POST {target} «Добавить» ({IMPORT_ROWS} rows) …")
        started = time.perf_counter()
        answer = self.admin.post(target, {"confirm": ""})
        is_job = bool(self.jobs_after(before))
        state = ImportBatch.objects.get(pk=batch.pk).status
        self.request_target(
            f"POST /people/import/<pk>/ «Добавить» ({IMPORT_ROWS} rows)",
            answer,
            f"job; the list was «{state}» at the answer"
            if is_job
            else f"not a job yet: added inside the request; «{state}» at the answer",
        )
        if answer.status != 302:
            say(f"«Добавить» answered {answer.status}: {answer.text()[:500]}")
            return

        def applied() -> bool:
            return ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.APPLIED

        follow = self.admin.get(answer.location)
        if is_job:
            self.wait_jobs(self.admin, before, follow, timeout=300, done=applied)
        done_s = time.perf_counter() - started
        result = self.admin.get(answer.location)
        self.request_target(f"→ GET {answer.location} while adding", follow)
        self.request_target(f"→ GET {answer.location} the people added", result)
        added = imported.count() - before_people
        state = ImportBatch.objects.get(pk=batch.pk).status
        self.target(
            "import applied from the click (informational)",
            done_s,
            None,
            "s",
            how=("job" if is_job else "not a job yet")
            + f"; people added {added} of {IMPORT_ROWS} rows; list «{state}»",
            passed=state == ImportBatch.Status.APPLIED and added == IMPORT_ROWS,
        )
        removed = imported.delete()[0]
        say(f"removed the {added} imported people ({removed} rows with their roles)")

    def registration_email(self) -> None:
        from django.core.files.base import ContentFile

        from onboarding.models import RequestStatus
        from onboarding.selectors import current_request

        organisation = self.portal.organisation
        registration = current_request(organisation)
        if registration is None:
            from onboarding.models import RegistrationRequest

            registration = RegistrationRequest(organisation=organisation)
        registration.status = RequestStatus.READY
        registration.admin_full_name = registration.admin_full_name or "Иванова Анна Петровна"
        registration.admin_phone = registration.admin_phone or "+79161234567"
        registration.scan_content_type = "application/pdf"
        registration.scan.save("scan.pdf", ContentFile(b"%PDF-1.4\n%bench\n"), save=False)
        registration.save()
        say("POST /onboarding/request/send/ (the registration e-mail) …")
        mark = self.smtp.mark()
        before = self.last_job_pk()
        answer = self.admin.post("/onboarding/request/send/")
        is_job = bool(self.jobs_after(before))
        follow = self.admin.get(answer.location) if answer.location else None
        if is_job:
            self.wait_jobs(
                self.admin, before, follow, timeout=60, done=lambda: len(self.smtp.since(mark)) >= 1
            )
        received = len(self.smtp.since(mark))
        registration.refresh_from_db()
        self.request_target(
            "POST /onboarding/request/send/ (registration e-mail)",
            answer,
            ("job" if is_job else "not a job yet: sent inside the request")
            + f"; SMTP received {received}; request «{registration.status}»",
        )

    def approval(self) -> None:
        from accounts.models import User
        from acknowledgements.models import DocumentVersion, VersionStatus
        from acknowledgements.services import version_create

        self.portal.grow_to(10000)  # the size, when run alone (--only)
        version = self.portal.version()
        director = User.objects.get(username="director")
        draft = version_create(
            organisation=self.portal.organisation,
            actor=director,
            title=version.title,
            text=version.text + "\n\nРедакция для замера утверждения.",
            order_number=f"{version.order_number}-b",
            order_date=dt.date.today(),
            approver_position=version.approver_position,
            approver_name=version.approver_name,
        )
        staff = self.portal.staff_count()
        self.memory.phase()
        say(f"{staff} staff: POST /regulation/versions/{draft.pk}/approve/ (director) …")
        before = self.last_job_pk()
        started = time.perf_counter()
        answer = self.director.post(
            f"/regulation/versions/{draft.pk}/approve/", timeout=self.args.approval_timeout
        )
        state = DocumentVersion.objects.get(pk=draft.pk).status
        is_job = bool(self.jobs_after(before)) or state == VersionStatus.APPROVING
        follow = self.director.get(answer.location) if answer.location else None

        def approved() -> bool:
            v = DocumentVersion.objects.get(pk=draft.pk)
            return v.status == VersionStatus.APPROVED and bool(v.order_pdf)

        if is_job:
            self.wait_jobs(
                self.director, before, follow, timeout=self.args.approval_timeout, done=approved
            )
        done_s = time.perf_counter() - started
        memory_peak = self.memory.report()
        time.sleep(2.0)  # what the worker keeps once the job is over
        memory_after = self.memory.report()
        self.request_target(
            f"POST /regulation/versions/<pk>/approve/ ({staff} staff)",
            answer,
            f"job; the version was «{state}» at the answer"
            if is_job
            else f"not a job yet: rendered inside the request; «{state}» at the answer",
        )
        if follow is not None:
            self.request_target("→ GET the version page after approval", follow)
        self.target(
            f"approval at {staff} staff completes as a job (informational time)",
            done_s,
            None,
            "s",
            how=("job" if is_job else "not a job yet") + f"; approved: {approved()}",
            passed=is_job and approved(),
        )
        self.memory_target(
            "peak RSS per worker process during approval", memory_peak, inside_request=not is_job
        )
        self.memory_target(
            "worker RSS after approval",
            memory_after,
            inside_request=not is_job,
            key="worker_rss_mb",
        )

    def run(self) -> None:
        self.start()
        self.baselines()
        steps = [
            ("sheet 1000", lambda: self.sheet(1000, SHEET_1000_LIMIT_S)),
            ("sheet 10000", lambda: self.sheet(10000, SHEET_10000_LIMIT_S)),
            ("reminders", self.reminders),
            ("staff import", self.staff_import),
            ("registration e-mail", self.registration_email),
            ("approval", self.approval),
        ]
        for name, step in steps:
            if self.args.only and name not in self.args.only:
                continue
            try:
                step()
            except Exception as exc:
                traceback.print_exc()
                self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                self.target(f"{name}", None, None, "", how=f"ERROR {exc}", passed=False)
        for name in ("gunicorn", "huey"):
            tail = [
                line
                for line in self.log_tail(name, 20000).splitlines()
                if "Traceback" in line or "Error" in line
            ]
            if tail:
                self.info[f"{name}_log_errors"] = tail[-10:]


def delivery_counts() -> dict[str, int]:
    """Rows of every model that records a delivery (its name has «remind» or «deliver»):
    `Model:*` counts all rows, `Model:<status>` rows per status when it has one."""
    from django.apps import apps
    from django.db.models import Count

    counts: dict[str, int] = {}
    for model in apps.get_models():
        name = model.__name__.lower()
        if "remind" not in name and "deliver" not in name:
            continue
        label = model._meta.label
        counts[f"{label}:*"] = model.objects.count()
        fields = {f.name for f in model._meta.fields}
        for field in ("status", "result", "outcome"):
            if field in fields:
                for row in model.objects.values(field).annotate(n=Count("pk")):
                    counts[f"{label}:{row[field]}"] = row["n"]
                break
    return counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine(bench: JobsBench) -> dict:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("show server_version")
        pg = cursor.fetchone()[0]
    import redis

    info = redis.Redis(host=REDIS_HOST, port=REDIS_PORT).info("server")
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "python": sys.version.split()[0],
        "django": django.get_version(),
        "postgresql": pg,
        "redis": info.get("redis_version"),
        "gunicorn": "deploy/gunicorn.conf.py, 2 sync workers, production settings",
        "huey": f"run_huey, {bench.args.workers} process workers, RedisHuey db {bench.redis_db}",
        "smtp": f"local threaded server, {bench.args.smtp_delay_ms} ms per message",
    }


def table(report: dict) -> str:
    m = report.get("machine", {})
    lines = [
        f"== jobs: issue 11 targets — {report['started']} ==",
        f"machine: {m.get('cpus')} CPU(s), PostgreSQL {m.get('postgresql')}, Redis "
        f"{m.get('redis')}; gunicorn: {m.get('gunicorn')}; huey: {m.get('huey')}; "
        f"SMTP: {m.get('smtp')}",
        f"baselines: GET /healthz through gunicorn {report.get('bare_request_ms')} ms (÷bare), "
        f"blank WeasyPrint page {report.get('blank_pdf_ms')} ms (÷blank PDF); used = measured "
        "÷ limit",
    ]
    header = f"{'target':<62} {'measured':>11} {'limit':>9} {'used':>6} {'ratio':>15} result"
    lines += [header, "-" * len(header)]
    for row in report["rows"]:
        unit = row["unit"]
        value = "—" if row["value"] is None else f"{row['value']:.2f} {unit}"
        limit = "—" if row["limit"] is None else f"{row['limit']:g} {unit}"
        used = "—" if row["used"] is None else f"{row['used']:.2f}"
        ratio = "—" if row["ratio"] is None else f"{row['ratio']:.0f} {row['ratio_kind']}"
        result = (
            row["result"]
            if row["limit"] is not None
            else ("info" if row["result"] == "PASS" else "FAIL")
        )
        lines.append(
            f"{row['target'][:62]:<62} {value:>11} {limit:>9} {used:>6} {ratio:>15} {result}"
        )
        if row["how"]:
            lines.append(f"    {row['how']}")
    if report.get("errors"):
        lines += ["", "errors:"] + [f"  {e}" for e in report["errors"]]
    failed = sum(1 for r in report["rows"] if r["result"] == "FAIL")
    lines += [
        "",
        f"jobs: {len(report['rows']) - failed} passed, {failed} failed, "
        f"in {report['total_s']:.0f} s",
    ]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--smtp-delay-ms", type=float, default=5.0)
    parser.add_argument("--poll", type=float, default=0.2, help="progress poll interval, s")
    parser.add_argument("--sheet-timeout", type=float, default=240)
    parser.add_argument("--approval-timeout", type=float, default=300)
    parser.add_argument("--reminder-timeout", type=float, default=240)
    parser.add_argument(
        "--only",
        type=lambda s: [x.strip() for x in s.split(",")],
        default=None,
        help="steps: sheet 1000, sheet 10000, reminders, staff import, "
        "registration e-mail, approval",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument(
        "--json",
        default=str(BASE_DIR / "var" / "benchmarks" / "jobs.json"),
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    report = {
        "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "rows": [],
        "errors": [],
    }
    try:
        bench = JobsBench(args)
    except BenchError as exc:
        print(f"== jobs: skipped — {exc} ==")
        return 0

    def stop_on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_signal)
    try:
        bench.run()
        report["machine"] = machine(bench)
    except (Exception, KeyboardInterrupt) as exc:
        traceback.print_exc()
        bench.errors.append(f"the jobs run stopped early: {type(exc).__name__}: {exc}")
    finally:
        bench.stop()
    report.update(bench.info)
    report["rows"] = bench.rows
    report["errors"] = bench.errors
    report["total_s"] = round(time.monotonic() - STARTED, 1)
    print(table(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    say(f"written: {out}")
    return 1 if bench.errors else 0


if __name__ == "__main__":
    sys.exit(main())
