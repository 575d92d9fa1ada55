"""Inside the namespace: the throwaway machine, the guide's steps run on it, and the checks of
the portal they set up (those of the running portal's pages in walk.py)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from . import common
from .browser import Browser
from .common import (
    APP,
    MEDIA,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    ROOT_ENV,
    SCRIPT,
    SHIM_PYTHON,
    STATE,
    SYSTEM_PATH,
    CheckFailed,
    Stopped,
    expect,
    mount,
    mount_points,
    psql,
    run,
    say,
    tail,
)
from .guide import (
    BACKUP_STEP,
    FIRST_SERVER,
    NEW_SERVER_AGAIN,
    RESTORE_STEP,
    SHIMS,
    UPGRADE_STEP,
    Step,
    Substitutions,
)
from .systemctl import PORTAL_UNITS, nginx_master, unit_stop
from .walk import PortalWalk


class Inside(PortalWalk):
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.plan = json.loads((tmp / "plan.json").read_text())
        self.logs = Path(self.plan["logs"])
        self.steps = [Step(**step) for step in self.plan["steps"]]
        self.cwd = "/root"
        self.first = Substitutions(self.plan, {"cdt_portal": self.plan["databases"][0]})
        self.second = Substitutions(self.plan, {"cdt_portal": self.plan["databases"][1]})
        self.step_log = open(self.logs / "steps.log", "a")

    # --- The throwaway machine -------------------------------------------------------------

    def machine(self) -> None:
        layers = self.tmp / "layers"
        kept = self.tmp / "kept"
        for target in ("/etc", "/var/www", "/var/lib/nginx", "/var/log/nginx"):
            expect(os.path.isdir(target), f"{target} is missing on this machine (nginx installed?)")
            name = target.strip("/").replace("/", "-")
            upper, work = layers / name / "upper", layers / name / "work"
            upper.mkdir(parents=True)
            work.mkdir()
            # Mounts below the folder (a container's /etc/resolv.conf, say) are hidden by the
            # layer: bound aside first, then back on top of it.
            inner = [point for point, _ in mount_points() if point.startswith(target + "/")]
            saved = []
            for index, point in enumerate(inner):
                aside = kept / f"{name}-{index}"
                aside.mkdir(parents=True) if os.path.isdir(point) else aside.touch()
                mount(point, aside, None, MS_BIND)
                saved.append((aside, point))
            mount(
                "overlay",
                target,
                "overlay",
                0,
                f"lowerdir={target},upperdir={upper},workdir={work}",
            )
            for aside, point in saved:
                mount(str(aside), point, None, MS_BIND)
        srv = self.tmp / "srv"
        srv.mkdir(mode=0o755)
        mount(str(srv), "/srv", None, MS_BIND)
        # /run: empty, but PostgreSQL's socket folder (`sudo -u postgres createuser` uses it).
        sockets = kept / "run-postgresql"
        if os.path.isdir("/run/postgresql"):
            sockets.mkdir(parents=True)
            mount("/run/postgresql", sockets, None, MS_BIND)
        mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
        os.mkdir("/run/lock", 0o1777)
        os.chmod("/run/lock", 0o1777)
        if sockets.exists():
            os.mkdir("/run/postgresql", 0o2775)
            mount(str(sockets), "/run/postgresql", None, MS_BIND)
        STATE.mkdir(mode=0o755)
        shutil.copy(self.tmp / "plan.json", STATE / "plan.json")
        shims = self.tmp / "shims"
        shims.mkdir(mode=0o755)
        for name in SHIMS:
            script = shims / name
            script.write_text(f'#!/bin/sh\nexec {SHIM_PYTHON} {SCRIPT} --shim {name} "$@"\n')
            script.chmod(0o755)
        self.env = {**ROOT_ENV, "PATH": f"{shims}:{SYSTEM_PATH}"}
        say(
            "a throwaway machine: /etc, /var/www, /var/lib/nginx, /var/log/nginx copy-on-write; "
            "/srv and /run empty; stand-ins for " + ", ".join(SHIMS)
        )

    # --- Running the guide's steps ---------------------------------------------------------

    def step(self, step: Step, subs: Substitutions, *, expect_failure: bool = False) -> str:
        if step.file:
            content = subs.env_file(step.text)
            say(f"§{step.number} write {step.file} (the ini block)")
            for line in content.splitlines():
                key = line.split("=")[0]
                original = next((o for o in step.text.splitlines() if o.split("=")[0] == key), "")
                if "<python3 -c" in original:
                    say(f"      ↳ {key}=<what the python3 command printed>")
                elif original != line:
                    say(f"      ↳ {self._mask(line)}")
            Path(step.file).write_text(content)
            return ""
        command = subs.command(step.text)
        say(f"§{step.number} $ {step.text}")
        if command != step.text:
            say(f"      ↳ as: {self._mask(command)}")
        marker = self.tmp / "cwd"
        script = (
            f"cd {shlex.quote(self.cwd)} || exit 97\n{command}\n__status=$?\n"
            f"pwd > {shlex.quote(str(marker))}\nexit $__status\n"
        )
        answers = subs.answers(step.text)
        began = time.monotonic()
        if answers is None:
            result = subprocess.run(
                ["/bin/bash", "-c", script],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=600,
            )
            output, status = result.stdout, result.returncode
        else:
            output, status = self._on_terminal(script, answers)
        if marker.exists():
            self.cwd = marker.read_text().strip()
        self.step_log.write(f"\n$ {self._mask(command)}\n{self._mask(output)}\n(exit {status})\n")
        self.step_log.flush()
        lines = [line for line in self._mask(output).splitlines() if line.strip()]
        if expect_failure:
            expect(status != 0, f"§{step.number} `{step.text}` was expected to fail, and did not")
            return output
        expect(
            status == 0,
            f"§{step.number} `{step.text}` exited with {status}:\n" + "\n".join(lines[-40:]),
        )
        for line in lines[-3:]:
            print(f"      | {line[:160]}", flush=True)
        took = time.monotonic() - began
        if took > 5:
            say(f"      ({took:.0f} s)")
        return output

    def _mask(self, text: str) -> str:
        for secret in (self.plan["password"], self.plan["superuser_password"]):
            text = text.replace(secret, "<password>")
        return text

    def _on_terminal(self, script: str, answers: list[str]) -> tuple[str, int]:
        """The command on a terminal of its own; each answer typed when it waits at a prompt
        (output ending with a colon, then quiet)."""
        pid, fd = pty.fork()
        if pid == 0:
            os.execve("/bin/bash", ["bash", "-c", script], self.env)
        pending, output, since, last = list(answers), b"", b"", time.monotonic()
        deadline = time.monotonic() + 180
        while True:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # EIO: the command closed the terminal
                    break
                if not data:
                    break
                output, since, last = output + data, since + data, time.monotonic()
            elif pending and since.rstrip().endswith(b":") and time.monotonic() - last > 0.3:
                os.write(fd, pending.pop(0).encode() + b"\n")
                since = b""
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                raise CheckFailed(
                    "a command waited for an answer the check does not know:\n"
                    + output.decode(errors="replace")[-2000:]
                )
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        text = output.decode(errors="replace").replace("\r\n", "\n")
        expect(not pending, f"the command asked fewer questions than expected:\n{text[-2000:]}")
        return text, os.waitstatus_to_exitcode(status)

    def section(self, number: int, subs: Substitutions, only: tuple[str, ...] = ()) -> list[str]:
        outputs = []
        for step in self.steps:
            if step.number == number and (not only or any(w in step.text for w in only)):
                outputs.append(self.step(step, subs))
        return outputs

    # --- Parts of the check ------------------------------------------------------------------

    def first_server(self) -> None:
        for number in FIRST_SERVER:
            self.section(number, self.first)

    def guard_and_demo(self) -> None:
        refused = run(
            [
                "/bin/bash",
                "-c",
                f"cd {APP} && sudo -u cdt-portal .venv/bin/python manage.py loaddemo",
            ],
            env=self.env,
            check=False,
        )
        expect(
            refused.returncode != 0 and "production" in refused.stderr,
            "`sudo -u cdt-portal .venv/bin/python manage.py loaddemo` was not refused: the "
            f"production settings of .env are not in force\n{refused.stdout}{refused.stderr}",
        )
        say("the guard: `manage.py loaddemo` as cdt-portal is refused (production settings)")
        demo = (
            "sudo -u cdt-portal .venv/bin/python manage.py loaddemo "
            "--settings=cdt_portal.settings.local"
        )
        run(["/bin/bash", "-c", f"cd {APP} && {demo}"], env=self.env, timeout=300)
        say(f"the walk's data: `{demo}` (the same database and media, from .env)")

    def row_counts(self, database: str) -> dict[str, str]:
        sql = (
            "SELECT string_agg(table_name || '=' || (xpath('/row/c/text()', query_to_xml("
            "format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))[1]::text, ' '"
            " ORDER BY table_name) FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        pairs = (item.split("=") for item in psql(sql, database).split())
        return {table: count for table, count in pairs if table != "django_session"}

    def backup(self) -> dict[str, str]:
        counts = self.row_counts(self.plan["databases"][0])
        (output,) = self.section(BACKUP_STEP, self.first)
        archives = [ln.strip() for ln in output.splitlines() if re.search(r"\.tar(\.age)?$", ln)]
        expect(bool(archives), f"step 10 printed no archive's path:\n{output}")
        self.first.archive = self.second.archive = archives[-1]
        expect(Path(archives[-1]).is_file(), f"no archive at {archives[-1]}")
        say(f"backup: {archives[-1]}")
        return counts

    def audit_log_guard(self) -> None:
        """Step 2's two roles: the portal's connections are the application's role, which can
        neither empty the audit log nor switch its triggers off; the owner cannot empty it."""
        database = self.plan["databases"][0]
        app, owner = f"{database}_app", f"{database}_owner"
        users = psql(
            "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND pid <> pg_backend_pid()",
            database,
        )
        expect(
            users == app,
            f"the portal should connect as {app} only (DATABASE_URL); connected: {users!r}",
        )

        def refused(role: str, sql: str, why: str) -> None:
            result = run(
                [
                    "psql",
                    "-X",
                    "-q",
                    "-tA",
                    f"postgres://{role}@127.0.0.1:5432/{database}",
                    "-c",
                    sql,
                ],
                check=False,
                env={**os.environ, "PGPASSWORD": self.plan["password"]},
            )
            expect(
                result.returncode != 0 and why in result.stderr,
                f"as {role}, `{sql}` must fail with «{why}»; got {result.returncode} "
                f"{result.stderr.strip()!r}",
            )

        refused(app, "TRUNCATE cdt_portal_auditentry", "permission denied")
        refused(app, "ALTER TABLE cdt_portal_auditentry DISABLE TRIGGER USER", "must be owner")
        refused(app, "DELETE FROM cdt_portal_auditentry", "append-only")
        refused(owner, "TRUNCATE cdt_portal_auditentry", "append-only")
        say(
            f"the portal connects as {app}, which cannot TRUNCATE the audit log, disable its "
            f"triggers or delete from it; {owner} cannot TRUNCATE it either"
        )

    def new_server(self, counts: dict[str, str]) -> None:
        say(
            "a new server on this machine: new database names, an empty MEDIA_ROOT (the old "
            "one moved aside)"
        )
        before = MEDIA.with_name("media.before-restore")
        os.rename(MEDIA, before)
        for number, words in NEW_SERVER_AGAIN.items():
            self.section(number, self.second, words)
        self.section(RESTORE_STEP, self.second)

        after = self.row_counts(self.plan["databases"][1])
        differ = {
            t: (counts.get(t), after.get(t))
            for t in counts.keys() | after.keys()
            if counts.get(t) != after.get(t)
        }
        expect(not differ, f"row counts differ after the restore (before, after): {differ}")

        def digests(root: Path) -> dict[str, str]:
            return {
                p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in root.rglob("*")
                if p.is_file()
            }

        expect(digests(before) == digests(MEDIA), "the restored files differ from the originals")
        modes = {
            p.relative_to(MEDIA).as_posix() or ".": oct(p.stat().st_mode & 0o777)
            for p in [MEDIA, *MEDIA.rglob("*")]
            if (p.is_dir() and p.stat().st_mode & 0o777 != 0o750)
            or (p.is_file() and p.stat().st_mode & 0o777 != 0o640)
        }
        expect(
            not modes,
            f"restored files must be 0640 and folders 0750 under MEDIA_ROOT; these are not: "
            f"{dict(list(modes.items())[:10])}",
        )
        say(
            f"restored: {len(after)} tables with equal row counts (django_session aside), the "
            "same files, 0640 in 0750 folders"
        )

        restore = next(
            s for s in self.steps if s.number == RESTORE_STEP and "make restore" in s.text
        )
        output = self.step(restore, self.second, expect_failure=True)
        expect(
            "Refusing" in output,
            f"the second restore failed, but not by refusing:\n{output[-1500:]}",
        )
        say("a second restore into the same database is refused")
        text = self.healthy(wait=90)
        teacher = Browser(self.cafile())
        teacher.sign_in("teacher")
        teacher.page("/regulation/")
        say(
            "the restored portal: /healthz "
            + " | ".join(text.splitlines())
            + "; the teacher signs in"
        )

    def upgrade(self) -> None:
        self.section(UPGRADE_STEP, self.second)
        text = self.healthy(wait=90)
        Browser(self.cafile()).page("/")
        say("after step 12: /healthz " + " | ".join(text.splitlines()) + "; the public page 200")

    def log_shape(self) -> None:
        """Every line the services wrote is one event beginning «time±offset LEVEL logger»:
        a traceback, or huey's list of tasks at start, is folded into its event's line."""
        shape = re.compile(
            r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d "
            r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+ "
        )
        for unit in PORTAL_UNITS:
            lines = (self.logs / f"{unit}.log").read_text(errors="replace").splitlines()
            lines = [line for line in lines if line.strip()]
            odd = [line for line in lines if shape.match(line) is None]
            expect(
                bool(lines) and not odd,
                f"{unit}: lines that are not one event in the shape of docs/deploy.md «Logs»: "
                f"{odd[:3] if lines else 'none written'}",
            )
            say(f"{unit}: {len(lines)} lines, each one event «time±offset LEVEL logger …»")

    def stop(self) -> None:
        for unit in PORTAL_UNITS:
            try:
                unit_stop(unit)
            except Exception as exc:  # go on: the rest must be stopped too
                print(f"[deploy-check] could not stop {unit}: {exc}", file=sys.stderr)
        master = nginx_master()
        if master is not None:
            subprocess.run(["nginx", "-s", "quit"], capture_output=True)

    def run(self) -> int:
        try:
            self.machine()
            self.first_server()
            self.guard_and_demo()
            self.walk()
            self.audit_log_guard()
            counts = self.backup()
            self.new_server(counts)
            self.upgrade()
            self.log_shape()
        except (CheckFailed, OSError, http.client.HTTPException, subprocess.SubprocessError) as exc:
            print(f"\ndeploy-check FAILED: {exc}", file=sys.stderr, flush=True)
            if isinstance(exc, Stopped):
                return 1
            for name in ("cdt-portal-web.log", "cdt-portal-worker.log"):
                if (self.logs / name).exists():
                    print(
                        f"\n--- the end of {name} ---\n{tail(self.logs / name, 25)}",
                        file=sys.stderr,
                    )
            error_log = Path("/var/log/nginx/error.log")
            if error_log.exists() and error_log.stat().st_size:
                print(
                    f"\n--- the end of nginx's error.log ---\n{tail(error_log, 15)}",
                    file=sys.stderr,
                )
            return 1
        finally:
            self.stop()
            if (Path("/var/log/nginx")).is_dir():
                shutil.copytree("/var/log/nginx", self.logs / "nginx", dirs_exist_ok=True)
        return 0


def inside(tmp: Path) -> int:
    """Process 1 of the namespace: the check runs in a child; this process reaps the orphans
    (daemons the stand-ins start end up here) and passes SIGTERM and SIGINT on. When it exits,
    the kernel ends every process left in the namespace."""
    common.STARTED = json.loads((tmp / "plan.json").read_text())["started"]
    child = os.fork()
    if child == 0:

        def stopped(signum, frame):
            raise Stopped(f"stopped by signal {signum}")

        signal.signal(signal.SIGTERM, stopped)
        signal.signal(signal.SIGINT, stopped)
        code = 1
        try:
            code = Inside(tmp).run()
        finally:
            sys.stdout.flush()
            os._exit(code)

    def forward(signum, frame):
        os.kill(child, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 1
        if pid == child:
            return os.waitstatus_to_exitcode(status)
