"""What the jobs section's JobsBench (benchmarks/jobs.py) stands on, and scale.py's ScaleBench
through it: PostgreSQL, Redis, gunicorn, the huey worker and the SMTP server, started and
stopped; the database read back; targets recorded; jobs followed as the progress bar does.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from jobs_common import BASE_DIR, PYTHON, VENV_BIN, BenchError, say
from jobs_http import Answer, Person
from jobs_memory import MemorySampler, proc_children
from jobs_smtp import SMTPServer

# Issue 11's limit for one request (its other targets are in jobs.py).
REQUEST_LIMIT_S = 1.0


class Services:
    """JobsBench's services, the database it reads, the targets it records and the jobs it
    waits for (the measurements are JobsBench's)."""

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
        self.app_port = args.app_port or free_port()
        self.secret_key = secrets.token_urlsafe(40)
        if not args.redis_url:
            raise BenchError(
                "the jobs section needs an empty Redis database of its own: set BENCH_REDIS_URL "
                "(or --redis-url) to redis://127.0.0.1:6379/14, say; `make bench` does"
            )
        self.redis_url = args.redis_url
        self.redis_db = int(urlsplit(args.redis_url).path.strip("/") or 0)

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
        """The Redis database BENCH_REDIS_URL names, if it is empty: marked as the bench's
        (so that a second bench given the same one refuses it) and emptied at the end."""
        import redis

        client = redis.Redis.from_url(self.redis_url)
        keys = client.dbsize()
        if keys or not client.set("cdt-bench-jobs", os.getpid(), nx=True):
            raise BenchError(
                f"Redis database {self.redis_url} is not empty ({keys} keys): give the bench an "
                "empty one of its own (BENCH_REDIS_URL)"
            )
        self.cleanups.append(("empty the Redis db", client.flushdb))

    def env(self, settings: str = "production") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PG"))}
        env.update(
            DJANGO_SETTINGS_MODULE=f"cdt_portal.settings.{settings}",
            SECRET_KEY=self.secret_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"{self.pg_server}/{self.database}",
            REDIS_URL=self.redis_url,
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
        # This process: the local settings on the same database, media and mail server (run.py
        # sets Django up with them when it is imported).
        os.environ.update(self.env("local"))
        import run as bench_run
        from run_staff import Portal

        self.bench_run = bench_run
        say("migrated; loading the demo …")
        # No worker runs yet: the demo's own approval job runs here, at once (as in tests).
        from huey.contrib.djhuey import HUEY

        HUEY.immediate = True
        try:
            self.portal = Portal()
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
