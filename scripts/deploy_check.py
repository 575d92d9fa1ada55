#!/usr/bin/env python3
"""`make deploy-check`: the production set-up of docs/deploy.md, started on 127.0.0.1 and walked.

Starts, in a temporary folder and on free ports: nginx with TLS (a throwaway self-signed
certificate) from deploy/nginx/cdt-portal.conf, and `honcho -f deploy/Procfile.production`
(gunicorn with deploy/gunicorn.conf.py and the huey worker) with production settings, against
a new PostgreSQL database and an empty Redis database number. PostgreSQL and Redis on
127.0.0.1 are used as they are, or started (and stopped again) when they are not running.

The demo is loaded by `manage.py loaddemo` under the LOCAL settings pointed at the same
DATABASE_URL and MEDIA_ROOT (loaddemo refuses production settings on purpose); everything
else (migrate, collectstatic, the server, the worker, backup, restore) runs with production
settings. Managers' two-factor sign-in is switched off for the walk (REQUIRE_2FA_FOR_MANAGERS
=false): the check is about the deployment, and TOTP has its own tests.

Everything started is stopped on exit (also on Ctrl-C or SIGTERM), the databases are dropped
and the Redis database emptied. Exit status 0 when every check passed, 1 with the reason.
Set DEPLOY_CHECK_KEEP=1 to keep the temporary folder (logs) for a look afterwards.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from string import Template
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("DEPLOY_CHECK_PG", "postgres://postgres@127.0.0.1:5432")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PASSWORD = "cdt-demo"
FORGED_ADDRESS = "198.51.100.23"
STARTED = time.monotonic()


class CheckFailed(Exception):
    pass


def say(message: str) -> None:
    print(f"[deploy-check {time.monotonic() - STARTED:5.1f}s] {message}", flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def run(command: list[str], *, env=None, check=True, timeout=300) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(command)}` exited with {result.returncode}:\n"
            f"{(result.stdout + result.stderr).strip()[-3000:]}"
        )
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    what: str, probe, *, seconds: float, process: subprocess.Popen | None = None, log=None
):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = Path(log).read_text(errors="replace")[-3000:] if log else ""
            raise CheckFailed(f"{what}: the process exited with {process.returncode}\n{tail}")
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.3)
    tail = Path(log).read_text(errors="replace")[-3000:] if log else ""
    raise CheckFailed(f"{what} did not come up within {seconds:.0f} s\n{tail}")


def psql(sql: str, database: str = "postgres") -> str:
    return run(
        [
            "psql",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-tA",
            f"{PG_ADMIN_URL}/{database}",
            "-c",
            sql,
        ]
    ).stdout.strip()


def redis(*args: str, db: int = 0) -> str:
    return run(
        ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "-n", str(db), *args]
    ).stdout.strip()


class Browser:
    """An HTTPS client with a cookie jar, trusting only the throwaway certificate."""

    def __init__(self, port: int, cafile: Path) -> None:
        self.port = port
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)
        all_headers = {"User-Agent": "cdt-deploy-check"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Django checks the Referer of an HTTPS form post against the host.
            all_headers["Referer"] = f"https://127.0.0.1:{self.port}{path}"
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        for value in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(value)
            for key, morsel in cookie.items():
                self.cookies[key] = morsel.value
        conn.close()
        return response.status, response.headers, data

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def csrf_form(self, path: str) -> tuple[str, str]:
        status, _, body = self.get(path)
        expect(status == 200, f"GET {path}: expected 200, got {status}")
        html = body.decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        expect(token is not None, f"GET {path}: no CSRF token in the page")
        return html, token.group(1)

    def sign_in(self, username: str) -> None:
        _, token = self.csrf_form("/accounts/login/")
        status, headers, _ = self.request(
            "POST",
            "/accounts/login/",
            form={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
        )
        expect(
            status == 302 and "/accounts/login/" not in headers.get("Location", ""),
            f"signing in as {username}: expected a 302 away from the login page, got {status} "
            f"to {headers.get('Location')!r}",
        )


class DeployCheck:
    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="cdt-deploy-check-"))
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.cleanups: list[tuple[str, object]] = []
        tag = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.database = f"cdt_deploy_check_{tag}"
        self.restore_database = f"{self.database}_restored"
        self.redis_db: int | None = None

    # --- Services ------------------------------------------------------------------------

    def require_tools(self) -> None:
        missing = [
            t
            for t in (
                "nginx",
                "openssl",
                "psql",
                "pg_isready",
                "pg_dump",
                "pg_restore",
                "redis-cli",
            )
            if shutil.which(t) is None
        ]
        missing += [str(p) for p in (VENV / "gunicorn", VENV / "honcho") if not p.exists()]
        expect(
            not missing,
            f"missing: {', '.join(missing)} (apt-get install nginx-light openssl "
            "postgresql-client redis-tools; make install)",
        )

    def start_postgresql(self) -> None:
        ready = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]
        if run(ready, check=False).returncode == 0:
            return
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        expect(bool(versions), "PostgreSQL does not answer on 127.0.0.1:5432 and is not installed")
        cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]
        say(f"starting PostgreSQL {versions[-1]}")
        run([*cluster, "start"])
        self.cleanups.append(("stop PostgreSQL", lambda: run([*cluster, "stop"], check=False)))
        wait_for("PostgreSQL", lambda: run(ready, check=False).returncode == 0, seconds=30)

    def start_redis(self) -> None:
        def answers() -> bool:
            ping = ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), "ping"]
            return run(ping, check=False).stdout.strip() == "PONG"

        if not answers():
            expect(
                shutil.which("redis-server") is not None,
                "Redis does not answer on 127.0.0.1:6379 and redis-server is not installed",
            )
            say("starting Redis")
            self.spawn(
                "redis",
                [
                    "redis-server",
                    "--bind",
                    REDIS_HOST,
                    "--port",
                    str(REDIS_PORT),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            )
            wait_for("Redis", answers, seconds=20)
        # An empty database number of our own, claimed with a marker key so that two checks
        # running at once never share one; emptied at the end.
        for db in range(15, 0, -1):
            if (
                redis("DBSIZE", db=db) == "0"
                and redis("SET", "cdt-deploy-check", str(os.getpid()), "NX", db=db) == "OK"
            ):
                self.redis_db = db
                flush = [
                    "redis-cli",
                    "-h",
                    REDIS_HOST,
                    "-p",
                    str(REDIS_PORT),
                    "-n",
                    str(db),
                    "FLUSHDB",
                ]
                self.cleanups.append(
                    ("empty Redis db", lambda flush=flush: run(flush, check=False))
                )
                return
        raise CheckFailed("no empty Redis database number (1-15) to use")

    def create_databases(self) -> None:
        for name in (self.database, self.restore_database):
            psql(f'CREATE DATABASE "{name}"')
            self.cleanups.append(
                (f"drop {name}", lambda n=name: psql(f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)'))
            )

    def spawn(self, name: str, command: list[str], env=None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "wb")
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )
        self.processes.append((name, process))
        return process

    # --- The portal --------------------------------------------------------------------------

    def portal_env(
        self, settings: str = "production", database: str | None = None, media: Path | None = None
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PG"))}
        env.update(
            DJANGO_SETTINGS_MODULE=f"cdt_portal.settings.{settings}",
            SECRET_KEY=self.secret_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"{PG_ADMIN_URL}/{database or self.database}",
            REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{self.redis_db}",
            TRUSTED_PROXIES="127.0.0.1",
            MEDIA_ROOT=str(media or self.tmp / "media"),
            STATIC_ROOT=str(self.tmp / "static"),
            BACKUP_DIR=str(self.tmp / "backups"),
            EMAIL_URL=f"filemail://{self.tmp / 'mail'}",
            SECURE_SSL_REDIRECT="true",
            SECURE_HSTS_SECONDS="0",
            REQUIRE_2FA_FOR_MANAGERS="false",
            PRIVATE_DOWNLOADS_VIA_NGINX="true",
            GUNICORN_BIND=f"127.0.0.1:{self.app_port}",
            WEB_CONCURRENCY="2",
            WORKER_PROCESSES="1",
            LOG_LEVEL="WARNING",
        )
        return env

    def manage(self, *args: str, settings: str = "production", **kwargs):
        return run(
            [str(VENV / "python"), "manage.py", *args], env=self.portal_env(settings, **kwargs)
        )

    def prepare_portal(self) -> None:
        # collectstatic needs no database, and compressing Bootstrap (gzip and brotli) is the
        # slowest step: it runs beside migrate and loaddemo.
        say("collectstatic, migrate (production settings); loaddemo (local settings)")
        collect = subprocess.Popen(
            [str(VENV / "python"), "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT,
            env=self.portal_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(("collectstatic", collect))
        self.manage("migrate", "--noinput")
        # loaddemo refuses production settings; the local ones, on the same database and media.
        self.manage("loaddemo", settings="local")
        _, errors = collect.communicate(timeout=300)
        expect(collect.returncode == 0, f"collectstatic exited with {collect.returncode}: {errors}")
        say("collectstatic done")

    def start_app(self) -> None:
        say(f"honcho -f deploy/Procfile.production (gunicorn on 127.0.0.1:{self.app_port}, worker)")
        process = self.spawn(
            "app",
            [str(VENV / "honcho"), "start", "-f", "deploy/Procfile.production"],
            env=self.portal_env(),
        )

        def healthy() -> bool:
            conn = http.client.HTTPConnection("127.0.0.1", self.app_port, timeout=5)
            conn.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
            return conn.getresponse().status == 200

        wait_for("gunicorn", healthy, seconds=60, process=process, log=self.tmp / "app.log")

    def start_nginx(self) -> None:
        cert, key = self.tmp / "tls.crt", self.tmp / "tls.key"
        run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ]
        )
        site = Template((ROOT / "deploy/nginx/cdt-portal.conf").read_text()).safe_substitute(
            PORTAL_HOST="127.0.0.1 localhost",
            HTTPS_LISTEN=f"127.0.0.1:{self.https_port}",
            HTTP_LISTEN=f"127.0.0.1:{self.http_port}",
            TLS_CERT=str(cert),
            TLS_KEY=str(key),
            APP_SERVERS=f"server 127.0.0.1:{self.app_port};",
            MEDIA_ROOT=str(self.tmp / "media"),
        )
        (self.tmp / "site.conf").write_text(site)
        temp = self.tmp / "nginx-temp"
        temp.mkdir()
        # As root, nginx's workers would otherwise run as nobody, who cannot enter this folder.
        user = f"user {os.environ.get('USER', 'root')};" if os.geteuid() == 0 else ""
        (self.tmp / "nginx.conf").write_text(f"""
{user}
worker_processes 1;
pid {self.tmp}/nginx.pid;
error_log {self.tmp}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {self.tmp}/nginx-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.tmp}/site.conf;
}}
""")
        base = [
            "nginx",
            "-p",
            str(self.tmp),
            "-c",
            str(self.tmp / "nginx.conf"),
            "-e",
            str(self.tmp / "nginx-error.log"),
        ]
        run([*base, "-t", "-q"])
        say(f"nginx: https://127.0.0.1:{self.https_port}/ (http on {self.http_port})")
        process = self.spawn("nginx", [*base, "-g", "daemon off;"])
        self.browser = Browser(self.https_port, cert)
        wait_for(
            "nginx",
            lambda: self.browser.get("/healthz")[0] == 200,
            seconds=20,
            process=process,
            log=self.tmp / "nginx-error.log",
        )

    # --- The walk ----------------------------------------------------------------------------

    def walk(self) -> None:
        b = self.browser
        status, _, body = b.get("/healthz")
        expect((status, body) == (200, b"ok"), f"/healthz over HTTPS: got {status} {body[:80]!r}")

        plain = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        plain.request("GET", "/healthz", headers={"Host": "127.0.0.1"})
        response = plain.getresponse()
        response.read()
        expect(response.status == 200, "/healthz over plain HTTP: expected 200")
        plain.request("GET", "/regulation/", headers={"Host": "127.0.0.1"})
        response = plain.getresponse()
        response.read()
        expect(
            response.status == 301
            and response.headers["Location"] == "https://127.0.0.1/regulation/",
            f"plain HTTP /regulation/: expected 301 to https, got {response.status} "
            f"{response.headers['Location']!r}",
        )
        say("healthz 200 over HTTPS and HTTP; HTTP redirects to HTTPS")

        status, headers, body = b.get("/")
        expect(
            status == 200 and "Сферум" in body.decode(),
            f"the public page: expected 200 with «Сферум», got {status}",
        )
        static = re.search(r'href="(/static/[^"]+\.css)"', body.decode())
        expect(static is not None, "the public page links no stylesheet under /static/")
        status, headers, _ = b.get(static.group(1))
        expect(
            status == 200 and "max-age" in headers.get("Cache-Control", ""),
            f"{static.group(1)}: expected 200 with a long max-age (WhiteNoise), got {status} "
            f"{headers.get('Cache-Control')!r}",
        )
        status, headers, _ = b.get("/regulation/order.pdf")
        expect(
            status == 302 and headers["Location"].startswith("/accounts/login/"),
            f"anonymous /regulation/order.pdf: expected 302 to sign-in, got {status}",
        )
        say("public page, static file through WhiteNoise, anonymous PDF refused")

        self.confirm_as_teacher()
        self.documents_as_director()

    def confirm_as_teacher(self) -> None:
        teacher = Browser(self.https_port, self.tmp / "tls.crt")
        teacher.sign_in("teacher")
        html, token = teacher.csrf_form("/regulation/")
        action = re.search(r'action="(/regulation/versions/\d+/confirm/)[^"]*"', html)
        expect(action is not None, "the teacher's /regulation/ page has no confirmation form")
        status, headers, _ = teacher.request(
            "POST",
            action.group(1),
            form={"csrfmiddlewaretoken": token, "read": "on", "password": PASSWORD},
            headers={"X-Forwarded-For": FORGED_ADDRESS},
        )
        expect(
            status == 302 and headers["Location"] == "/regulation/",
            f"confirming the regulation: expected 302 to /regulation/, got {status} "
            f"{headers.get('Location')!r}",
        )
        recorded = psql(
            "SELECT host(a.ip_address) FROM acknowledgements_acknowledgement a "
            "JOIN accounts_user u ON u.id = a.person_id "
            "WHERE u.username = 'teacher' AND a.method = 'online'",
            self.database,
        )
        expect(
            recorded == "127.0.0.1",
            f"the confirmation recorded the address {recorded!r}; expected exactly '127.0.0.1' "
            f"(nginx must replace the client's X-Forwarded-For {FORGED_ADDRESS})",
        )
        say(f"teacher confirmed; recorded address 127.0.0.1, the forged {FORGED_ADDRESS} ignored")

    def documents_as_director(self) -> None:
        director = Browser(self.https_port, self.tmp / "tls.crt")
        director.sign_in("director")
        media = self.tmp / "media"
        # The live sheet is made by a background job: its page offers «Сформировать», the POST
        # queues the job for the worker, and the same address serves the PDF once it is done.
        html, token = director.csrf_form("/regulation/sheet.pdf")
        expect("Сформировать лист ознакомления" in html, "sheet.pdf: no «Сформировать» button")
        status, headers, _ = director.request(
            "POST", "/regulation/sheet.pdf", form={"csrfmiddlewaretoken": token}
        )
        expect(
            status == 302 and headers.get("Location") == "/regulation/sheet.pdf",
            f"starting the sheet job: expected 302 to /regulation/sheet.pdf, got {status}",
        )
        deadline = time.monotonic() + 60
        while director.get("/regulation/sheet.pdf")[1].get("Content-Type") != "application/pdf":
            expect(time.monotonic() < deadline, "the worker did not make the sheet in 60 s")
            time.sleep(0.5)
        say("the worker made the sheet (job started by «Сформировать»)")
        for path in ("/regulation/order.pdf", "/regulation/sheet.pdf"):
            status, headers, body = director.get(path)
            expect(status == 200, f"{path}: expected 200, got {status}")
            expect(
                headers.get("Content-Type") == "application/pdf",
                f"{path}: expected application/pdf, got {headers.get('Content-Type')!r}",
            )
            expect(body.startswith(b"%PDF-"), f"{path}: the body is not a PDF: {body[:20]!r}")
            expect(
                "private" in headers.get("Cache-Control", ""),
                f"{path}: expected Cache-Control private, got {headers.get('Cache-Control')!r}",
            )
        say("director downloaded order.pdf and sheet.pdf: application/pdf, %PDF-, private")

        stored = sorted(p for p in media.rglob("*.pdf") if p.is_file())
        expect(bool(stored), f"no stored PDF under MEDIA_ROOT {media}")
        order = director.get("/regulation/order.pdf")[2]
        digest = hashlib.sha256(order).hexdigest()
        expect(
            any(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in stored),
            "the downloaded order.pdf is none of the stored files",
        )
        for file in stored:
            relative = file.relative_to(media).as_posix()
            for prefix in ("/private-media/", "/_private/"):
                status, _, _ = director.get(prefix + relative)
                expect(
                    status == 404,
                    f"{prefix}{relative}: a stored file must not be reachable by its path; "
                    f"expected 404, got {status}",
                )
        say(f"{len(stored)} stored PDFs: 404 at /private-media/… and at the internal /_private/…")
        # nginx marks a file it sent itself with Accept-Ranges; the portal's own answers do not.
        _, headers, _ = director.get("/regulation/order.pdf")
        sender = "nginx (X-Accel-Redirect)" if headers.get("Accept-Ranges") else "the portal"
        say(f"order.pdf was sent by {sender}")

    def background_job(self) -> Path:
        script = (
            "import time\n"
            "from cdt_portal.backups import backup_job\n"
            "from cdt_portal.jobs import start_job\n"
            f"job = start_job(task=backup_job, key='deploy-check-{self.database}', kind='backup',"
            " title='Резервная копия', organisation_id=None, actor=None)\n"
            "deadline = time.monotonic() + 60\n"
            "while job.status not in ('done', 'failed') and time.monotonic() < deadline:\n"
            "    time.sleep(0.3)\n"
            "    job.refresh_from_db()\n"
            "print(job.status, job.message)\n"
        )
        # The last line: Django's shell may print a banner first.
        outcome = self.manage("shell", "-c", script).stdout.strip().splitlines()[-1]
        expect(
            outcome.startswith("done"),
            f"a backup job through the worker: expected 'done', got {outcome!r}\n"
            + (self.tmp / "app.log").read_text(errors="replace")[-3000:],
        )
        archives = sorted((self.tmp / "backups").glob("cdt-portal-*.tar"))
        expect(len(archives) == 1, f"expected one archive in BACKUP_DIR, found {archives}")
        say(f"the worker ran a backup job: {archives[0].name}")
        return archives[0]

    def restore(self, archive: Path) -> None:
        restored_media = self.tmp / "media-restored"
        out = self.manage(
            "restore", str(archive), database=self.restore_database, media=restored_media
        ).stdout
        expect("Restored postgresql database" in out, f"restore said: {out!r}")
        count_rows = (
            "SELECT string_agg(table_name || '=' || (xpath('/row/c/text()', query_to_xml("
            "format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text, ' '"
            " ORDER BY table_name) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        before, after = psql(count_rows, self.database), psql(count_rows, self.restore_database)
        expect(before == after, f"row counts differ after restore:\n{before}\n{after}")

        def digests(root: Path) -> dict[str, str]:
            return {
                p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*")
                if p.is_file()
            }

        expect(
            digests(self.tmp / "media") == digests(restored_media),
            "the restored media differ from the originals",
        )
        again = run(
            [str(VENV / "python"), "manage.py", "restore", str(archive)],
            env=self.portal_env(database=self.restore_database, media=restored_media),
            check=False,
        )
        expect(
            again.returncode != 0 and "Refusing to restore" in again.stderr,
            f"a restore into a non-empty database must be refused; got {again.returncode} "
            f"{again.stderr[-500:]!r}",
        )
        say(
            f"restored into a new database: {len(before.split())} tables with equal row counts, "
            "same files; a second restore refused"
        )

    # --- Start to end ------------------------------------------------------------------------

    def run(self) -> None:
        self.require_tools()
        self.secret_key = secrets.token_urlsafe(50)
        self.app_port, self.https_port, self.http_port = free_port(), free_port(), free_port()
        self.start_postgresql()
        self.start_redis()
        self.create_databases()
        (self.tmp / "media").mkdir()
        self.prepare_portal()
        self.start_app()
        self.start_nginx()
        self.walk()
        archive = self.background_job()
        self.restore(archive)

    def stop(self) -> None:
        for name, process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    say(f"{name} did not stop on SIGTERM; killing it")
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
            # Children that outlived their parent (same process group).
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for what, cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:  # go on: the rest must be cleaned up too
                print(f"[deploy-check] could not {what}: {exc}", file=sys.stderr)
        if os.environ.get("DEPLOY_CHECK_KEEP") == "1":
            say(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> int:
    def terminated(signum, frame):
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    check = DeployCheck()
    try:
        check.run()
    except (CheckFailed, OSError, http.client.HTTPException, subprocess.TimeoutExpired) as exc:
        print(
            f"\ndeploy-check FAILED: {exc}\n(logs in {check.tmp}: set DEPLOY_CHECK_KEEP=1 "
            "to keep them)",
            file=sys.stderr,
        )
        return 1
    finally:
        check.stop()
    say("all checks passed; everything started was stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
