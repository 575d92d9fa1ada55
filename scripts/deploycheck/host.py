"""On the host: what the check prepares and cleans up outside the namespace, and the namespace
started with the plan."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from .common import (
    DOC,
    PORTS,
    REDIS,
    ROOT,
    SCRIPT,
    SHIM_PYTHON,
    STARTED,
    CheckFailed,
    _children,
    expect,
    libc,
    port_taken,
    psql,
    redis,
    run,
    say,
)
from .guide import extract_steps


class Host:
    """What the check prepares and cleans up outside the namespace: PostgreSQL and Redis (used
    as they are, or started and stopped again), its Redis database number, and, at the end,
    every database and role whose name starts with its prefix."""

    def __init__(self) -> None:
        self.cleanups: list[tuple[str, object]] = []
        self.prefix = f"cdt_portal_check_{os.getpid()}"
        self.redis_db: int | None = None

    def require(self) -> None:
        tools = "unshare setpriv git nginx openssl psql pg_isready redis-cli dpkg-query".split()
        tools.append("systemd-analyze")
        missing = [tool for tool in tools if shutil.which(tool) is None]
        missing += [SHIM_PYTHON] if not os.path.exists(SHIM_PYTHON) else []
        expect(not missing, f"missing on this machine: {', '.join(missing)}")
        probe = run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "true"], check=False)
        expect(
            probe.returncode == 0,
            f"no private namespace can be made here ({probe.stderr.strip()}): the check needs "
            "root with CAP_SYS_ADMIN (a virtual machine or a privileged container)",
        )
        for port, usual in PORTS.items():
            expect(
                not port_taken(port),
                f"port {port} is in use: stop {usual} first (the guide's steps use it)",
            )

    def postgresql(self) -> None:
        ready = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]
        if run(ready, check=False).returncode == 0:
            return
        versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
        expect(bool(versions), "PostgreSQL does not answer on 127.0.0.1:5432 and is not installed")
        cluster = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]
        say(f"starting PostgreSQL {versions[-1]} (stopped again at the end)")
        run([*cluster, "start"])
        self.cleanups.append(("stop PostgreSQL", lambda: run([*cluster, "stop"], check=False)))
        deadline = time.monotonic() + 30
        while run(ready, check=False).returncode != 0:
            expect(time.monotonic() < deadline, "PostgreSQL did not start in 30 s")
            time.sleep(0.5)

    def redis(self) -> None:
        def answers() -> bool:
            ping = ["redis-cli", "-h", REDIS[0], "-p", REDIS[1], "ping"]
            return run(ping, check=False).stdout.strip() == "PONG"

        if not answers():
            expect(
                shutil.which("redis-server") is not None, "Redis does not answer on 127.0.0.1:6379"
            )
            say("starting Redis (stopped again at the end)")
            options = ["--bind", REDIS[0], "--port", REDIS[1], "--save", "", "--appendonly", "no"]
            server = subprocess.Popen(
                ["redis-server", *options],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.cleanups.append(("stop Redis", server.terminate))
            deadline = time.monotonic() + 20
            while not answers():
                expect(time.monotonic() < deadline, "Redis did not start in 20 s")
                time.sleep(0.3)
        # An empty database number of our own, claimed with a marker key so that two checks
        # running at once never share one; emptied at the end.
        for db in range(15, 0, -1):
            if (
                redis("DBSIZE", db=db) == "0"
                and redis("SET", "cdt-deploy-check", str(os.getpid()), "NX", db=db) == "OK"
            ):
                self.redis_db = db
                self.cleanups.append(("empty the Redis db", lambda db=db: redis("FLUSHDB", db=db)))
                return
        raise CheckFailed("no empty Redis database number (1-15) to use")

    def drop_databases(self) -> None:
        prefix = self.prefix.replace("'", "")
        for name in psql(
            f"SELECT datname FROM pg_database WHERE starts_with(datname, '{prefix}')"
        ).split():
            psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for name in psql(
            f"SELECT rolname FROM pg_roles WHERE starts_with(rolname, '{prefix}')"
        ).split():
            psql(f'DROP ROLE IF EXISTS "{name}"')

    def clean(self) -> None:
        self.cleanups.insert(0, ("drop the databases and roles", self.drop_databases))
        for what, cleanup in reversed(self.cleanups):
            try:
                cleanup()
            except Exception as exc:  # go on: the rest must be cleaned up too
                print(f"[deploy-check] could not {what}: {exc}", file=sys.stderr)


def checkout_files() -> list[str]:
    output = run(["git", "-C", str(ROOT), "ls-files", "-co", "--exclude-standard", "-z"]).stdout
    return sorted(name for name in output.split("\0") if name)


def main() -> int:
    if os.geteuid() != 0:
        print(
            "deploy-check runs docs/deploy.md as root (adduser, nginx on ports 80 and 443, "
            "namespaces): run it as root, e.g. `sudo make deploy-check`.",
            file=sys.stderr,
        )
        return 2
    host = Host()
    tmp = Path(tempfile.mkdtemp(prefix="cdt-deploy-check-"))
    tmp.chmod(0o755)  # the portal's user runs the stand-ins from here
    logs = tmp / "logs"
    logs.mkdir(mode=0o755)
    process: subprocess.Popen | None = None
    code = 1

    def stop_inside(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_inside)
    try:
        steps = extract_steps(DOC.read_text())
        host.require()
        host.postgresql()
        host.redis()
        plan = {
            "steps": [asdict(step) for step in steps],
            "repository": str(ROOT),
            "files": checkout_files(),
            "password": secrets.token_hex(16),
            "superuser_password": secrets.token_urlsafe(18),
            "databases": [host.prefix, f"{host.prefix}_new"],
            "redis_db": host.redis_db,
            "logs": str(logs),
            "started": STARTED,
        }
        (tmp / "plan.json").write_text(json.dumps(plan))
        say(
            f"{len(steps)} steps from docs/deploy.md; databases {host.prefix}[_new], Redis db "
            f"{host.redis_db}; a private mount and process namespace"
        )
        namespace = "unshare --mount --pid --fork --mount-proc --propagation private --kill-child"
        process = subprocess.Popen(
            [*namespace.split(), SHIM_PYTHON, str(SCRIPT), "--inside", str(tmp)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # no terminal: createuser reads its answers from ours
            # Should this process die without cleaning up, unshare gets SIGTERM, and passes
            # it to the namespace (--kill-child), which stops what it started.
            preexec_fn=lambda: libc.prctl(1, signal.SIGTERM, 0, 0, 0),  # PR_SET_PDEATHSIG
        )
        code = process.wait(timeout=15 * 60)
    except KeyboardInterrupt:
        print("\n[deploy-check] stopping…", file=sys.stderr)
    except (CheckFailed, ValueError, subprocess.TimeoutExpired) as exc:
        print(f"\ndeploy-check FAILED: {exc}", file=sys.stderr)
    finally:
        if process is not None and process.poll() is None:
            children = _children(process.pid)
            for child in children:  # process 1 of the namespace: it stops what it started
                os.kill(child, signal.SIGTERM)
            try:
                process.wait(timeout=150)
            except subprocess.TimeoutExpired:
                for child in children:
                    os.kill(child, signal.SIGKILL)
                process.wait()
            code = 1
        host.clean()
        if os.environ.get("DEPLOY_CHECK_KEEP") == "1":
            for item in tmp.iterdir():
                if item != logs:
                    shutil.rmtree(item, ignore_errors=True) if item.is_dir() else item.unlink()
            say(f"kept the logs in {logs}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if code == 0:
        say("all checks passed; everything started was stopped")
    else:
        print("(DEPLOY_CHECK_KEEP=1 keeps the logs)", file=sys.stderr)
    return code
