#!/usr/bin/env python3
"""`make deploy-check`: docs/deploy.md's own commands, run as written on a throwaway machine,
then the portal they set up walked over HTTPS.

The guide is the test. Every `sh` block of the guide's numbered steps is run in order, and the
`ini` block of step 4 is written to the `.env` it names, with the environment a root login has
(ROOT_ENV below): the check sets no setting of its own, so a step the guide forgets is a step
the check misses too.

Where it runs. As root (exit status 2 otherwise), in a private mount and process namespace
(`unshare --mount --pid --fork`), which vanishes with everything in it when the check ends:

- `/etc`, `/var/www`, `/var/lib/nginx` and `/var/log/nginx` are copy-on-write layers
  (overlayfs) over the host's, so `adduser` and `usermod` change only the layer's passwd and
  group files (a bind-mounted copy of /etc/passwd does not work: they replace the file by
  renaming, which a mount point refuses), nginx's configuration starts as the host's, and
  certbot's and systemd's folders start as the host's;
- `/srv` is an empty folder and `/run` an empty tmpfs (with the host's PostgreSQL socket
  folder bound back into it), so the server is fresh and nginx's pid file stays inside;
- the network is the host's: PostgreSQL and Redis are reached on 127.0.0.1, and the guide's
  own ports (80, 443, 8000) are used, so they must be free.

Stand-ins (SHIMS below) for what cannot act for real here are first on PATH: each says what it
does in its function's docstring. Substitutions (class Substitutions) are printed as they are
made: database and role names get a suffix per run (the guide's names would meet CI's own
database), the Redis database number becomes one the check claims empty, the `<…>`
placeholders are filled in, and `createuser --pwprompt` and `createsuperuser` are answered on
a terminal.

After the guide's first server (steps 1-9): the guard (`loaddemo` must be refused: the
production settings come from `.env`), the demo under the local settings on the same database
(the one command the guide does not contain: the guard refuses production on purpose), the
walk, step 10's backup, a "new server" on the same machine for step 11 (step 2's createuser
and step 4's .env with new names, an empty MEDIA_ROOT), and step 12.

Everything started is stopped on exit (also on Ctrl-C or SIGTERM); the databases and roles are
dropped and the Redis database emptied. DEPLOY_CHECK_KEEP=1 keeps the logs (each step's output,
both services', nginx's). Exit status: 0 when every check passed, 1 with the reason.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import errno
import grp
import hashlib
import hmac
import http.client
import json
import os
import pty
import pwd
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "deploy.md"
HOST = "portal.example.ru"
APP = Path("/srv/cdt-portal/app")
MEDIA = Path("/srv/cdt-portal/media")
PASSWORD = "cdt-demo"  # the demo's sign-ins (accounts/demo.py)
FORGED_ADDRESS = "198.51.100.23"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432"
REDIS = ("127.0.0.1", "6379")
# The stand-ins are run by the host's Python (the check's own code is standard library only):
# the project's .venv may live where the portal's user cannot enter.
SHIM_PYTHON = "/usr/bin/python3"
STATE = Path("/run/cdt-deploy-check")  # inside the namespace's own /run
# The ports the guide uses, and what usually holds them.
PORTS = {
    80: "a web server on this machine",
    443: "a web server on this machine",
    8000: "`make run` or `make serve`",
}
# A root login's environment (what a console or `sudo -i` gives); PATH is added inside the
# namespace, with the stand-ins first.
ROOT_ENV = {
    "HOME": "/root",
    "USER": "root",
    "LOGNAME": "root",
    "SHELL": "/bin/bash",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# When the check started (the namespace's process takes it from the plan).
STARTED = time.time()


class CheckFailed(Exception):
    pass


class Stopped(CheckFailed):
    """Ctrl-C or SIGTERM: stop and clean up, nothing to diagnose."""


def say(message: str) -> None:
    print(f"[deploy-check {time.time() - STARTED:5.1f}s] {message}", flush=True)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ================================================================================================
# The guide's steps (imported by tests/deployment/test_deploy_doc.py)
# ================================================================================================


@dataclass(frozen=True)
class Step:
    section: str  # the heading without "## ", e.g. "3. The system user and the code"
    text: str  # an sh command as written (continued lines joined), or a file's content
    file: str | None = None  # where a file block goes

    @property
    def number(self) -> int:
        return int(self.section.split(".", 1)[0])


NUMBERED = re.compile(r"^(\d+)\. ")


def extract_steps(markdown: str) -> list[Step]:
    """Every command of the `sh` blocks and every `ini` block (a file, at the path the heading
    names in backticks) of the numbered sections, in order. Other blocks (`text`) are examples
    and not run; an `sh` block in an unnumbered section is refused, so nothing looks runnable
    that the check does not run."""
    steps: list[Step] = []
    section = ""
    block: list[str] | None = None
    language = ""
    for line in markdown.splitlines():
        if block is None:
            if line.startswith("## "):
                section = line[3:].strip()
            elif line.startswith("```"):
                language, block = line[3:].strip(), []
            continue
        if line.strip() != "```":
            block.append(line)
            continue
        numbered = NUMBERED.match(section) is not None
        if language == "sh":
            if not numbered:
                raise ValueError(f"an sh block in «{section}», which the check does not run")
            steps += [Step(section, command) for command in _commands(block)]
        elif language == "ini" and numbered:
            path = re.search(r"`(/[^`]+)`", section)
            if path is None:
                raise ValueError(f"an ini block in «{section}», whose heading names no file")
            steps.append(Step(section, "\n".join(block) + "\n", file=path.group(1)))
        block = None
    return steps


def _commands(lines: list[str]) -> list[str]:
    """Logical command lines: backslash-continued lines joined, blank lines dropped."""
    commands, current = [], ""
    for line in lines:
        if current:
            line = line.strip()
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line
        if current.strip():
            commands.append(current.strip())
        current = ""
    return commands


def simple_commands(command: str) -> list[list[str]]:
    """The words of each simple command in a line (split at &&, ||, ;, |), without leading
    VAR=value assignments, redirections and comments."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    result: list[list[str]] = []
    words: list[str] = []
    redirect = False
    for token in lexer:
        if token in ("&&", "||", ";", "|", "&"):
            result.append(words)
            words = []
        elif token in ("<", ">", ">>", "2>", "&>"):
            redirect = True
        elif redirect:
            redirect = False
        elif not words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", token):
            continue
        else:
            words.append(token)
    result.append(words)
    return [words for words in result if words]


def programs(command: str) -> list[str]:
    """The programs a command line runs: `sudo -u USER prog …` counts as sudo and prog."""
    found = []
    for words in simple_commands(command):
        found.append(words[0])
        if words[0] == "sudo" and len(words) > 3 and words[1] == "-u":
            found.append(words[3])
    return found


# Programs the guide runs as they are (after the packages of step 1 are installed).
RUN_AS_WRITTEN = set(
    """
    cd adduser install chown chmod cp ln rm usermod envsubst nginx make curl
    .venv/bin/python createuser createdb psql
    """.split()
)
# The stand-ins, each a function below (its docstring says what it does).
SHIMS = ("apt-get", "systemctl", "certbot", "sudo", "git")
# Packages of step 1 that may be missing here because their program is a stand-in.
PACKAGES_STOOD_IN = {"certbot", "sudo"}
# Programs whose lines name database roles and databases (the names get the run's suffix).
POSTGRES_PROGRAMS = {"createuser", "createdb", "dropdb", "psql"}
# The only .env settings whose values the check changes (documented in Substitutions).
SUBSTITUTED_SETTINGS = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
# Which steps make each part of the check; tests/deployment/test_deploy_doc.py holds every
# numbered step of the guide to one of them.
FIRST_SERVER = range(1, 10)
BACKUP_STEP, RESTORE_STEP, UPGRADE_STEP = 10, 11, 12
# On the "new server" of step 11 (the same machine), these steps are done again with new names:
# step 2's roles and empty database, step 3's empty folders, step 4's .env.
NEW_SERVER_AGAIN = {2: ("",), 3: ("install -d",), 4: ("",)}
# The superuser step 6 creates (what is typed at its prompts: Substitutions.answers).
SUPERUSER = "superuser"


class Substitutions:
    """What the check fills in or renames, every change printed beside the step:

    - every database role and database whose name begins with `cdt_portal` gets the run's
      suffix after that beginning (`cdt_portal` → `cdt_portal_check_<pid>`, a later
      `cdt_portal_app` → `cdt_portal_check_<pid>_app`), in the lines of POSTGRES_PROGRAMS and
      in DATABASE_URL and DATABASE_OWNER_URL only: the guide's names would meet CI's own
      `cdt_portal` database; the
      host drops everything with the run's prefix at the end;
    - REDIS_URL's database number becomes the empty one the check claimed (db 0 may hold
      someone else's queue on a developer's machine); emptied afterwards;
    - `<repository>` is this checkout, `<password>` and `<owner password>` the roles' password,
      `<archive>` the path
      step 10's backup printed, `<python3 -c "…">` what that command prints.
    """

    def __init__(self, plan: dict, names: dict[str, str]) -> None:
        self.plan = plan
        self.names = names
        self.archive: str | None = None

    def _rename(self, text: str) -> str:
        for old, new in self.names.items():
            text = re.sub(rf"\b{re.escape(old)}(\w*)", rf"{new}\1", text)
        return text

    def _placeholders(self, text: str) -> str:
        text = text.replace("<repository>", self.plan["repository"])
        text = text.replace("<password>", self.plan["password"])
        text = text.replace("<owner password>", self.plan["password"])
        if "<archive>" in text:
            expect(self.archive is not None, "<archive> before step 10 printed one")
            text = text.replace("<archive>", self.archive)

        def evaluate(match: re.Match) -> str:
            out = subprocess.run(
                ["python3", "-c", match.group(1)], capture_output=True, text=True, check=True
            )
            return out.stdout.strip()

        return re.sub(r'<python3 -c "([^"]+)">', evaluate, text)

    def command(self, text: str) -> str:
        if set(programs(text)) & POSTGRES_PROGRAMS:
            text = self._rename(text)
        return self._placeholders(text)

    def env_file(self, text: str) -> str:
        lines = []
        for line in text.splitlines():
            name = line.partition("=")[0]
            if name in SUBSTITUTED_SETTINGS[:2]:  # the two database URLs
                line = self._rename(line)
            elif name == SUBSTITUTED_SETTINGS[2]:  # the Redis URL
                line = re.sub(r"/\d+$", f"/{self.plan['redis_db']}", line)
            lines.append(line)
        return self._placeholders("\n".join(lines) + "\n")

    def answers(self, text: str) -> list[str] | None:
        if "--pwprompt" in text:
            return [self.plan["password"]] * 2
        if "createsuperuser" in text:
            # The username, User.REQUIRED_FIELDS (e-mail, surname, first name), the password twice.
            password = self.plan["superuser_password"]
            return [
                SUPERUSER,
                "superuser@example.ru",
                "Портала",
                "Администратор",
                password,
                password,
            ]
        return None


# ================================================================================================
# Small helpers
# ================================================================================================

libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC}
CLONE_NEWNS = 0x00020000


def mount(source: str | None, target: str | Path, fstype: str | None, flags=0, data=None):
    """mount(2) itself: mount(8) would record its mounts in /run/mount/utab (the host's)."""
    result = libc.mount(
        source.encode() if source else None,
        str(target).encode(),
        fstype.encode() if fstype else None,
        ctypes.c_ulong(flags),
        data.encode() if data else None,
    )
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"mount {source} on {target}: {os.strerror(number)}")


def mount_points() -> list[tuple[str, set[str]]]:
    """(mount point, options) of the current mount namespace, parents first."""
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        path = fields[4].encode().decode("unicode_escape")
        points.append((path, set(fields[5].split(","))))
    return sorted(points, key=lambda point: point[0].count("/") if point[0] != "/" else 0)


def run(command: list[str], *, check=True, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise CheckFailed(
            f"`{shlex.join(command)}` exited with {result.returncode}:\n"
            f"{(result.stdout + result.stderr).strip()[-3000:]}"
        )
    return result


def psql(sql: str, database: str = "postgres") -> str:
    return run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", f"{PG_ADMIN}/{database}", "-c", sql]
    ).stdout.strip()


def redis(*args: str, db: int = 0) -> str:
    return run(["redis-cli", "-h", REDIS[0], "-p", REDIS[1], "-n", str(db), *args]).stdout.strip()


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} cannot be read)"


def load_plan() -> dict:
    return json.loads((STATE / "plan.json").read_text())


def port_taken(port: int) -> bool:
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                # As servers do: connections of a run that just ended (TIME_WAIT) do not count.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            if exc.errno != errno.EAFNOSUPPORT and exc.errno != errno.EADDRNOTAVAIL:
                raise
    return False


def totp(secret: str, at: float | None = None) -> str:
    """RFC 6238 with django-otp's TOTPDevice defaults: SHA-1, 30 s steps, 6 digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


# ================================================================================================
# seccomp filters like systemd's (the systemctl stand-in; tests/deployment/test_server_config.py)
# ================================================================================================


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ, SCMP_CMP_MASKED_EQ = 4, 7


def _seccomp():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _errno_action(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


def _load(lib, default: int, rules: list[tuple[str, int, _ArgCmp | None]]) -> None:
    context = lib.seccomp_init(default)
    expect(bool(context), "seccomp_init failed")
    try:
        for syscall, action, compare in rules:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number < 0:  # not a system call of this architecture
                continue
            arguments = (ctypes.byref(compare), 1) if compare is not None else (None, 0)
            lib.seccomp_rule_add_array(context, action, number, arguments[1], arguments[0])
        result = lib.seccomp_load(context)
        expect(result == 0, f"seccomp_load failed: {os.strerror(-result)}")
    finally:
        lib.seccomp_release(context)


def deny_write_execute() -> None:
    """MemoryDenyWriteExecute= as systemd 252 (Debian 12) builds it: mmap of memory both
    writable and executable, mprotect/pkey_mprotect adding execute, and shmat with SHM_EXEC
    fail with EPERM, for this process and its children."""
    prot_write, prot_exec, shm_exec = 0x2, 0x4, 0o100000
    deny = _errno_action(errno.EPERM)
    rules = [
        (
            "mmap",
            deny,
            _ArgCmp(2, SCMP_CMP_MASKED_EQ, prot_write | prot_exec, prot_write | prot_exec),
        ),
        ("mprotect", deny, _ArgCmp(2, SCMP_CMP_MASKED_EQ, prot_exec, prot_exec)),
        ("pkey_mprotect", deny, _ArgCmp(2, SCMP_CMP_MASKED_EQ, prot_exec, prot_exec)),
        ("shmat", deny, _ArgCmp(2, SCMP_CMP_MASKED_EQ, shm_exec, shm_exec)),
    ]
    _load(_seccomp(), SCMP_ACT_ALLOW, rules)


def syscall_groups() -> dict[str, list[str]]:
    """`systemd-analyze syscall-filter`: every @group and its members."""
    groups: dict[str, list[str]] = {}
    current = None
    output = run(["systemd-analyze", "syscall-filter"]).stdout
    for line in output.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif line.startswith(" ") and current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
        elif not line.strip():
            current = None
    return groups


def _expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    for name in names:
        found |= _expand(groups[name], groups) if name.startswith("@") else {name}
    return found


def allow_system_calls(filters: list[str], error: int, groups: dict[str, list[str]]) -> None:
    """SystemCallFilter= lines as systemd merges them: the first (an allow-list) plus @default
    and the calls systemd always allows, minus every `~` line; the rest fail with `error`.
    Only the native architecture (SystemCallArchitectures=native: libseccomp's default)."""
    allowed: set[str] = set()
    for line in filters:
        if line.startswith("~"):
            allowed -= _expand(line[1:].split(), groups)
        else:
            allowed |= _expand([*line.split(), "@default"], groups)
    allowed |= {"execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn"}
    rules = [(name, SCMP_ACT_ALLOW, None) for name in sorted(allowed)]
    _load(_seccomp(), _errno_action(error), rules)


def restrict_address_families(allowed: list[str]) -> None:
    """RestrictAddressFamilies=: socket(2) with any other family fails with EAFNOSUPPORT."""
    keep = {getattr(socket, name) for name in allowed}
    deny = _errno_action(errno.EAFNOSUPPORT)
    rules = [
        ("socket", deny, _ArgCmp(0, SCMP_CMP_EQ, family, 0))
        for family in range(64)
        if family not in keep
    ]
    _load(_seccomp(), SCMP_ACT_ALLOW, rules)


# ================================================================================================
# Stand-ins (first on PATH inside the namespace: `deploy_check.py --shim NAME ARGS…`)
# ================================================================================================


def shim_apt_get(args: list[str]) -> int:
    """`apt-get update`: nothing is fetched. `apt-get install [-y] PACKAGE…`: every package
    must be installed on this machine (dpkg), except those whose program is itself a stand-in
    (PACKAGES_STOOD_IN); the missing ones are named. As Debian's nginx package does when it is
    installed, nginx is started with Debian's default site (/var/www/html on port 80)."""
    if args == ["update"]:
        print("apt-get (stand-in): the package lists are not fetched")
        return 0
    if not args or args[0] != "install":
        print(f"apt-get (stand-in) knows `update` and `install`, not {args}", file=sys.stderr)
        return 100
    packages = [arg for arg in args[1:] if not arg.startswith("-")]

    def installed(package: str) -> bool:
        status = run(["dpkg-query", "-W", "-f=${Status}", package], check=False).stdout
        return status == "install ok installed"

    missing = [package for package in packages if not installed(package)]
    absent = [package for package in missing if package not in PACKAGES_STOOD_IN]
    if absent:
        print(
            f"apt-get (stand-in): not installed on this machine: {' '.join(absent)}\n"
            f"Install them (apt-get install {' '.join(absent)}) and run the check again.",
            file=sys.stderr,
        )
        return 100
    for package in missing:
        print(f"apt-get (stand-in): {package} is not installed here; the check stands in for it")
    if {"nginx", "nginx-light", "nginx-core", "nginx-full"} & set(packages):
        if nginx_master() is None:
            start_nginx()
            print("apt-get (stand-in): nginx started with Debian's default site")
    return 0


def nginx_master() -> int | None:
    try:
        pid = int(Path("/run/nginx.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def start_nginx() -> None:
    # nginx goes to the background: its output to a file, so that no pipe waits for it.
    with tempfile.TemporaryFile() as output:
        status = subprocess.run(["nginx"], stdin=subprocess.DEVNULL, stdout=output, stderr=output)
        output.seek(0)
        message = output.read().decode(errors="replace")
    expect(status.returncode == 0, f"nginx did not start:\n{message}")
    deadline = time.monotonic() + 10
    while nginx_master() is None:
        expect(time.monotonic() < deadline, "nginx started but wrote no pid file in 10 s")
        time.sleep(0.1)


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(child) for child in text.split()}


def nginx_reload() -> None:
    """`nginx -s reload`, then wait until the workers of the old configuration are gone, so
    the next request meets the new one (systemctl returns as soon as the signal is sent)."""
    master = nginx_master()
    if master is None:
        start_nginx()
        return
    old = _children(master)
    run(["nginx", "-s", "reload"])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _children(master)
        if now and not (now & old):
            return
        time.sleep(0.1)
    raise CheckFailed("nginx did not replace its workers within 15 s of the reload")


# Unit settings the stand-in applies (AmbientCapabilities= empty: a user's process has none).
# NOT_APPLIED are not reproduced here: the sandboxing ones are rated by `systemd-analyze
# security` (tests/deployment/test_server_config.py), the others (notification access,
# reload, restart on failure) do not change what the walk sees. A unit with a setting in
# neither list is refused, so these lists stay the truth about what the check runs.
UNIT_APPLIED = set(
    """
    Type User Group WorkingDirectory Environment EnvironmentFile ExecStart KillMode
    KillSignal TimeoutStopSec TimeoutStartSec UMask ProtectSystem ReadWritePaths PrivateTmp
    ProtectHome ProtectProc ProcSubset NoNewPrivileges CapabilityBoundingSet
    AmbientCapabilities SystemCallFilter SystemCallErrorNumber SystemCallArchitectures
    MemoryDenyWriteExecute RestrictAddressFamilies
    """.split()
)
NOT_APPLIED = set(
    """
    NotifyAccess ExecReload Restart RestartSec PrivateDevices PrivateMounts
    ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups
    ProtectClock ProtectHostname RestrictNamespaces RestrictRealtime RestrictSUIDSGID
    LockPersonality
    """.split()
)
PORTAL_UNITS = ("cdt-portal-web", "cdt-portal-worker")


def parse_unit(path: Path) -> dict[str, list[str]]:
    """The [Service] section: every key with its values in order."""
    service: dict[str, list[str]] = {}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            service.setdefault(key.strip(), []).append(value.strip())
    unknown = set(service) - UNIT_APPLIED - NOT_APPLIED
    expect(
        not unknown,
        f"{path}: the check's systemctl does not know {', '.join(sorted(unknown))}; add each "
        "to UNIT_APPLIED (and apply it in exec_unit) or to NOT_APPLIED in scripts/deploy_check.py",
    )
    return service


def _seconds(value: str | None, default: float) -> float:
    if not value:
        return default
    match = re.fullmatch(r"(\d+)\s*(s|min)?", value)
    expect(match is not None, f"cannot read the time {value!r}")
    return int(match.group(1)) * (60 if match.group(2) == "min" else 1)


def unit_start(name: str) -> None:
    path = Path(f"/etc/systemd/system/{name}.service")
    expect(path.exists(), f"systemctl (stand-in): no unit {path}")
    unit = parse_unit(path)
    plan = load_plan()
    log = open(Path(plan["logs"]) / f"{name}.log", "ab")
    notify = None
    if unit.get("Type", ["simple"])[-1] == "notify":
        notify = STATE / f"{name}.notify"
        notify.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(notify))
        os.chmod(notify, 0o666)  # the service's user sends to it, as to systemd's
    process = subprocess.Popen(
        [SHIM_PYTHON, __file__, "--exec-unit", str(path), str(notify or "")],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: what stop() signals
    )
    (STATE / "units").mkdir(exist_ok=True)
    (STATE / "units" / f"{name}.json").write_text(
        json.dumps({"pid": process.pid, "started": time.time()})
    )
    if notify is None:
        # systemctl returns at once for Type=simple; a second shows an ExecStart that fails.
        time.sleep(1)
        expect(
            process.poll() is None,
            f"{name} exited at once ({process.returncode}):\n{tail(Path(log.name))}",
        )
        return
    deadline = time.monotonic() + _seconds(unit.get("TimeoutStartSec", [None])[-1], 90)
    listener.settimeout(0.5)
    while True:
        try:
            message = listener.recv(4096).decode(errors="replace")
        except TimeoutError:
            message = ""
        if "READY=1" in message.split("\n"):
            break
        expect(
            process.poll() is None,
            f"{name} exited ({process.returncode}) before it was ready:\n{tail(Path(log.name))}",
        )
        expect(
            time.monotonic() < deadline,
            f"{name} did not say READY=1 in time:\n{tail(Path(log.name))}",
        )
    listener.close()


def unit_stop(name: str) -> None:
    """KillSignal= to the main process (KillMode=mixed) or to all its processes, SIGKILL to
    whatever is left after TimeoutStopSec=."""
    state = STATE / "units" / f"{name}.json"
    if not state.exists():
        return
    pid = json.loads(state.read_text())["pid"]
    unit = parse_unit(Path(f"/etc/systemd/system/{name}.service"))
    kill_signal = getattr(signal, unit.get("KillSignal", ["SIGTERM"])[-1])
    mixed = unit.get("KillMode", ["control-group"])[-1] == "mixed"

    def alive() -> bool:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return False
        return True

    try:
        os.kill(pid, kill_signal) if mixed else os.killpg(pid, kill_signal)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + _seconds(unit.get("TimeoutStopSec", [None])[-1], 90)
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        print(f"systemctl (stand-in): {name} still running after its TimeoutStopSec; killed")
        os.killpg(pid, signal.SIGKILL)
        while alive():
            time.sleep(0.1)
    state.unlink()


def shim_systemctl(args: list[str]) -> int:
    """`daemon-reload`: nothing to do (units are read when started). `enable [--now]`,
    `start`, `stop`, `restart` of cdt-portal-web and cdt-portal-worker: the unit file in
    /etc/systemd/system is read and its ExecStart run as its User=/Group= (with that user's
    groups), in its WorkingDirectory=, with its Environment=/EnvironmentFile= and UMask=, and
    with the sandbox settings of UNIT_APPLIED (see exec_unit); output to the check's log of the
    unit; a Type=notify unit counts as started when it sends READY=1, like systemd. `reload`,
    `start` and `restart` of nginx: `nginx -s reload` (or `nginx` when it is not running)."""
    words = [arg for arg in args if not arg.startswith("--")]
    now = "--now" in args
    if words == ["daemon-reload"]:
        return 0
    if len(words) < 2:
        print(f"systemctl (stand-in): what is {args}?", file=sys.stderr)
        return 1
    verb, units = words[0], [unit.removesuffix(".service") for unit in words[1:]]
    try:
        for unit in units:
            if unit == "nginx" and verb in ("reload", "start", "restart"):
                nginx_reload()
            elif unit in PORTAL_UNITS and verb in ("enable", "start", "stop", "restart"):
                if verb in ("stop", "restart"):
                    unit_stop(unit)
                if verb in ("start", "restart") or (verb == "enable" and now):
                    unit_start(unit)
            else:
                print(f"systemctl (stand-in) cannot {verb} {unit}", file=sys.stderr)
                return 1
    except CheckFailed as exc:
        print(f"systemctl (stand-in): {exc}", file=sys.stderr)
        return 1
    return 0


def exec_unit(unit_path: str, notify: str) -> None:
    """Become the unit's service (run as root by the systemctl stand-in, then exec'd): a
    mount namespace of its own in which, as systemd does, ProtectSystem=strict makes every
    mount read-only except ReadWritePaths= (and /dev, /proc, /sys), PrivateTmp= gives empty
    /tmp and /var/tmp, ProtectHome= empties /home, /root and /run/user, ProtectProc=invisible
    with ProcSubset=pid mounts a /proc that shows only the service's own processes; then
    UMask=, the capability bounding set emptied (CapabilityBoundingSet=), User= and Group=
    with the user's groups, NoNewPrivileges=, and the seccomp filters of SystemCallFilter=
    (with SystemCallErrorNumber= and native architecture only), MemoryDenyWriteExecute= and
    RestrictAddressFamilies=."""
    unit = parse_unit(Path(unit_path))

    def last(key: str, default: str = "") -> str:
        return unit.get(key, [default])[-1]

    def yes(key: str) -> bool:
        return last(key).lower() in ("yes", "true", "1", "on")

    user = pwd.getpwnam(last("User"))
    group = grp.getgrnam(last("Group", user.pw_name))
    env = {
        "PATH": SYSTEM_PATH,
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "SHELL": user.pw_shell,
    }
    for value in unit.get("Environment", []):
        env.update(item.split("=", 1) for item in shlex.split(value))
    for value in unit.get("EnvironmentFile", []):
        path = Path(value.lstrip("-"))
        if path.exists() or not value.startswith("-"):
            for line in path.read_text().splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    key, _, item = line.partition("=")
                    env[key.strip()] = item.strip().strip("\"'")
    if notify:
        env["NOTIFY_SOCKET"] = notify
    groups = syscall_groups() if "SystemCallFilter" in unit else {}
    # Read before ProcSubset=pid hides /proc/sys.
    last_capability = int(Path("/proc/sys/kernel/cap_last_cap").read_text())

    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    if last("ProtectSystem") == "strict":
        writable = [
            Path(path) for value in unit.get("ReadWritePaths", []) for path in value.split()
        ]
        for path in writable:
            mount(str(path), path, None, MS_BIND)
        for point, options in mount_points():
            inside = (Path(point) == path or path in Path(point).parents for path in writable)
            api = point in ("/dev", "/proc", "/sys") or point.startswith(
                ("/dev/", "/proc/", "/sys/")
            )
            if api or any(inside):
                continue
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY
            for option, flag in MOUNT_FLAGS.items():
                flags |= flag if option in options else 0
            mount(None, point, None, flags)
    if yes("PrivateTmp"):
        for path in ("/tmp", "/var/tmp"):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    if yes("ProtectHome"):
        for path in ("/home", "/root", "/run/user"):
            if os.path.isdir(path):
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "mode=000")
    if last("ProtectProc") == "invisible":
        subset = ",subset=pid" if last("ProcSubset") == "pid" else ""
        mount(
            "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"hidepid=invisible{subset}"
        )

    os.umask(int(last("UMask", "0022"), 8))
    os.chdir(last("WorkingDirectory", user.pw_dir))
    if "CapabilityBoundingSet" in unit and not last("CapabilityBoundingSet"):
        pr_capbset_drop = 24
        for capability in range(last_capability + 1):
            libc.prctl(pr_capbset_drop, capability, 0, 0, 0)
    os.setgroups(os.getgrouplist(user.pw_name, group.gr_gid))
    os.setgid(group.gr_gid)
    os.setuid(user.pw_uid)
    if yes("NoNewPrivileges") or "SystemCallFilter" in unit or yes("MemoryDenyWriteExecute"):
        pr_set_no_new_privs = 38
        libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0)
    if "RestrictAddressFamilies" in unit:
        restrict_address_families(last("RestrictAddressFamilies").split())
    if yes("MemoryDenyWriteExecute"):
        deny_write_execute()
    if "SystemCallFilter" in unit:
        error = getattr(errno, last("SystemCallErrorNumber", "EPERM"))
        allow_system_calls(unit["SystemCallFilter"], error, groups)
    argv = shlex.split(last("ExecStart"))
    os.execve(argv[0], argv, env)


def shim_certbot(args: list[str]) -> int:
    """`certbot certonly --webroot -w DIR -d HOST [--deploy-hook CMD]`: puts a token under
    DIR/.well-known/acme-challenge/ and fetches it as Let's Encrypt would, from nginx on port 80
    with `Host: HOST` (127.0.0.1, no redirect followed), then writes a self-signed certificate
    and key to /etc/letsencrypt/live/HOST/ (fullchain.pem, privkey.pem; an ECDSA key, certbot's
    default since 2.0), saves the renewal settings with the hook, and runs the hook, as certbot
    does after it gets a certificate. `certbot renew --dry-run`: the same challenge for every
    saved certificate, now through whatever site nginx serves, then the saved hook, which a
    real dry run leaves out (certbot runs it after a real renewal): the check proves it works."""
    try:
        if args[:1] == ["certonly"]:
            options = _certbot_options(args[1:])
            _challenge(options["webroot"], options["domain"])
            live = Path("/etc/letsencrypt/live") / options["domain"]
            live.mkdir(parents=True, exist_ok=True)
            os.chmod(live.parent, 0o700)
            domain, key, chain = options["domain"], live / "privkey.pem", live / "fullchain.pem"
            names = f"-subj /CN={domain} -addext subjectAltName=DNS:{domain}"
            command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
            run([*f"{command} -days 90 {names}".split(), "-keyout", str(key), "-out", str(chain)])
            renewal = Path("/etc/letsencrypt/renewal")
            renewal.mkdir(parents=True, exist_ok=True)
            (renewal / f"{options['domain']}.json").write_text(json.dumps(options))
            print(f"certbot (stand-in): a throwaway certificate for {options['domain']}")
            _hook(options)
            return 0
        if args == ["renew", "--dry-run"]:
            saved = sorted(Path("/etc/letsencrypt/renewal").glob("*.json"))
            expect(bool(saved), "no certificate to renew")
            for path in saved:
                options = json.loads(path.read_text())
                _challenge(options["webroot"], options["domain"])
                print(f"certbot (stand-in): renewal of {options['domain']} would succeed")
                _hook(options)
            return 0
    except CheckFailed as exc:
        print(f"certbot (stand-in): {exc}", file=sys.stderr)
        return 1
    print(f"certbot (stand-in) knows `certonly --webroot` and `renew --dry-run`, not {args}")
    return 1


def _certbot_options(args: list[str]) -> dict:
    options: dict = {"hook": None}
    words = iter(args)
    for word in words:
        if word == "--webroot":
            continue
        if word in ("-w", "--webroot-path"):
            options["webroot"] = next(words)
        elif word in ("-d", "--domains", "--domain"):
            options["domain"] = next(words)
        elif word == "--deploy-hook":
            options["hook"] = next(words)
        else:
            raise CheckFailed(f"the stand-in does not know {word}")
    expect("webroot" in options and "domain" in options, "-w DIR and -d HOST are needed")
    return options


def _challenge(webroot: str, domain: str) -> None:
    token = secrets.token_urlsafe(32)
    content = f"{token}.{secrets.token_urlsafe(32)}"
    folder = Path(webroot) / ".well-known" / "acme-challenge"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / token).write_text(content)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=10)
        conn.request("GET", f"/.well-known/acme-challenge/{token}", headers={"Host": domain})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        conn.close()
    except OSError as exc:
        raise CheckFailed(f"nothing answers on port 80: {exc}") from exc
    finally:
        (folder / token).unlink()
    expect(
        response.status == 200 and body == content,
        f"http://{domain}/.well-known/acme-challenge/… answered {response.status} "
        f"{response.getheader('Location') or body[:80]!r}, not the token: the challenge fails",
    )
    print(f"certbot (stand-in): the challenge for {domain} is served from {webroot}")


def _hook(options: dict) -> None:
    if options["hook"]:
        result = subprocess.run(["/bin/sh", "-c", options["hook"]])
        expect(result.returncode == 0, f"the deploy hook {options['hook']!r} failed")
        print(f"certbot (stand-in): ran the deploy hook {options['hook']!r}")


SECURE_PATH = SYSTEM_PATH  # Debian's sudoers `secure_path`


def shim_sudo(args: list[str]) -> int:
    """`sudo -u USER COMMAND…`: COMMAND as USER (setpriv, with the user's groups) in the same
    folder, with the environment sudo's env_reset gives: HOME, USER, LOGNAME and SHELL of
    USER, PATH = Debian's secure_path (the stand-ins first), LANG and TERM kept."""
    if len(args) < 3 or args[0] != "-u":
        print(f"sudo (stand-in) knows `sudo -u USER COMMAND…`, not {args}", file=sys.stderr)
        return 1
    user = pwd.getpwnam(args[1])
    command = args[3:] if args[2] == "--" else args[2:]
    shims = os.environ["PATH"].split(":", 1)[0]
    env = {
        "PATH": f"{shims}:{SECURE_PATH}",
        "HOME": user.pw_dir,
        "USER": user.pw_name,
        "LOGNAME": user.pw_name,
        "SHELL": user.pw_shell,
        "MAIL": f"/var/mail/{user.pw_name}",
    }
    env.update({key: os.environ[key] for key in ("LANG", "TERM") if key in os.environ})
    os.execve(
        "/usr/bin/setpriv",
        [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--",
            *command,
        ],
        env,
    )
    return 1


def shim_git(args: list[str]) -> int:
    """`git clone <repository> DIR`: DIR gets this checkout's files as they are now (tracked
    and untracked, not ignored: `git ls-files -co --exclude-standard`), written by the user who
    runs it with its umask, as a clone's checkout is; `<repository>` must be this checkout.
    `git pull` (in such a copy): the files are copied again, only those that changed.
    Either refuses to start in a folder the user cannot read, as git does."""
    plan = load_plan()
    try:
        here = Path(os.getcwd())
    except OSError:
        print("fatal: Unable to read current working directory", file=sys.stderr)
        return 128
    if len(args) == 3 and args[0] == "clone":
        source, target = Path(args[1]), here / args[2]
        if source.resolve() != Path(plan["repository"]):
            print(f"git (stand-in) clones only {plan['repository']}", file=sys.stderr)
            return 128
        if target.exists() and any(target.iterdir()):
            print(f"fatal: destination path '{args[2]}' already exists", file=sys.stderr)
            return 128
        _copy_tree(plan, source, target)
        print(f"Cloning into '{args[2]}'... (stand-in: {len(plan['files'])} files copied)")
        return 0
    if args == ["pull"]:
        changed = _copy_tree(plan, Path(plan["repository"]), here)
        print(f"git pull (stand-in): {changed} files changed")
        return 0
    print(f"git (stand-in) knows `clone` and `pull`, not {args}", file=sys.stderr)
    return 1


def _copy_tree(plan: dict, source: Path, target: Path) -> int:
    mask = os.umask(0)
    os.umask(mask)
    changed = 0
    for name in plan["files"]:
        origin, copy = source / name, target / name
        if not origin.is_file():  # deleted in the working tree
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        data = origin.read_bytes()
        if copy.is_file() and copy.read_bytes() == data:
            continue
        partial = copy.with_name(copy.name + ".partial")
        partial.write_bytes(data)
        os.chmod(partial, (0o777 if os.access(origin, os.X_OK) else 0o666) & ~mask)
        os.replace(partial, copy)
        changed += 1
    return changed


SHIM_FUNCTIONS = {
    "apt-get": shim_apt_get,
    "systemctl": shim_systemctl,
    "certbot": shim_certbot,
    "sudo": shim_sudo,
    "git": shim_git,
}


# ================================================================================================
# The walk: a browser over https://portal.example.ru (127.0.0.1:443)
# ================================================================================================


class Browser:
    """HTTPS to 127.0.0.1:443 with SNI and Host portal.example.ru, trusting only the throwaway
    certificate, with a cookie jar. Every answer is kept (`answers`) for the checks that
    apply to all of them."""

    answers: list[tuple[str, int, http.client.HTTPMessage]] = []

    def __init__(self, cafile: Path) -> None:
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None, headers=None):
        conn = http.client.HTTPSConnection(HOST, 443, context=self.context, timeout=90)
        raw = socket.create_connection(("127.0.0.1", 443), timeout=90)
        conn.sock = self.context.wrap_socket(raw, server_hostname=HOST)
        all_headers = {"User-Agent": "cdt-deploy-check"}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Django checks the Referer of an HTTPS form post against the host.
            all_headers["Referer"] = f"https://{HOST}{path}"
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
        Browser.answers.append((f"{method} {path}", response.status, response.headers))
        return response.status, response.headers, data

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def page(self, path: str) -> str:
        status, _, body = self.get(path)
        expect(status == 200, f"GET {path}: expected 200, got {status}")
        return body.decode()

    def csrf_form(self, path: str) -> tuple[str, str]:
        html = self.page(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        expect(token is not None, f"GET {path}: no CSRF token in the page")
        return html, token.group(1)

    def sign_in(self, username: str, password: str = PASSWORD, path="/accounts/login/") -> str:
        _, token = self.csrf_form(path)
        status, headers, _ = self.request(
            "POST",
            path,
            form={"csrfmiddlewaretoken": token, "username": username, "password": password},
        )
        location = headers.get("Location", "")
        expect(
            status == 302 and "/login/" not in location,
            f"signing in as {username}: expected a 302 away from the login page, got {status} "
            f"to {location!r}",
        )
        return location

    def enrol_second_factor(self, who: str) -> None:
        """Production asks for a second factor; the person has none yet, so every page sends
        them to connect an authenticator app: done here with the secret the page shows."""
        status, headers, _ = self.get("/")
        location = headers.get("Location", "")
        if location == "/":
            status, headers, _ = self.get(location)
            location = headers.get("Location", "")
        expect(
            status == 302 and location.startswith("/accounts/two-factor/setup/"),
            f"{who} was not asked to connect an authenticator (got {status} to {location!r})",
        )
        html, token = self.csrf_form("/accounts/two-factor/setup/?next=/")
        secret = re.search(r'data-secret="([A-Z2-7=]+)"', html)
        expect(secret is not None, "the enrolment page shows no secret (data-secret)")
        status, headers, _ = self.request(
            "POST",
            "/accounts/two-factor/setup/?next=/",
            form={"csrfmiddlewaretoken": token, "code": totp(secret.group(1)), "next": "/"},
        )
        expect(
            status == 302 and headers["Location"].startswith("/accounts/two-factor/codes/"),
            f"{who} connecting the authenticator: expected 302 to the recovery codes, got "
            f"{status} {headers.get('Location')!r}",
        )
        codes = self.page(headers["Location"])
        expect('id="recovery-codes"' in codes, "the recovery codes page shows no codes")


def plain_http(path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=30)
    conn.request("GET", path, headers={"Host": HOST})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    Browser.answers.append((f"GET http:{path}", response.status, response.headers))
    return response.status, response.headers, body


def handshake(cafile: Path, version: ssl.TLSVersion, ciphers: str | None = None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(cafile))
    context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    with (
        socket.create_connection(("127.0.0.1", 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        return tls.version(), tls.cipher()[0]


# ================================================================================================
# Inside the namespace
# ================================================================================================


class Inside:
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
            script.write_text(
                f'#!/bin/sh\nexec {SHIM_PYTHON} {Path(__file__).resolve()} --shim {name} "$@"\n'
            )
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

    def cafile(self) -> Path:
        return Path(f"/etc/letsencrypt/live/{HOST}/fullchain.pem")

    def healthy(self, *, wait: float) -> str:
        """/healthz: 200, and, when it answers with lines, database, queue and worker ok
        (waiting up to `wait` seconds after the worker's start for its heartbeat)."""
        started = json.loads((STATE / "units" / "cdt-portal-worker.json").read_text())["started"]
        browser = Browser(self.cafile())
        while True:
            status, _, body = browser.get("/healthz")
            text = body.decode(errors="replace").strip()
            lines = text.splitlines()
            wanted = ("database: ok", "queue: ok", "worker: ok")
            if len(lines) > 1:
                ok = status == 200 and all(any(ln.startswith(w) for ln in lines) for w in wanted)
            else:
                ok = status == 200
            if ok:
                return text
            expect(
                time.time() < started + wait,
                f"/healthz: {status} {text!r} {wait:.0f} s after the worker started",
            )
            time.sleep(2)

    def walk(self) -> None:
        cafile = self.cafile()
        text = self.healthy(wait=90)
        say("/healthz over HTTPS: 200 " + " | ".join(text.splitlines()))

        status, _, _ = plain_http("/healthz")
        expect(status == 200, f"/healthz over plain HTTP: expected 200, got {status}")
        status, headers, _ = plain_http("/regulation/")
        expect(
            status == 301 and headers["Location"] == f"https://{HOST}/regulation/",
            f"plain HTTP /regulation/: expected 301 to https, got {status} {headers['Location']!r}",
        )
        say("plain HTTP: /healthz 200, other addresses 301 to HTTPS")

        version, cipher = handshake(cafile, ssl.TLSVersion.TLSv1_3)
        expect(version == "TLSv1.3", f"TLS 1.3: got {version}")
        _, cipher12 = handshake(cafile, ssl.TLSVersion.TLSv1_2)
        expect(cipher12.startswith("ECDHE-"), f"TLS 1.2 chose {cipher12}, not an ECDHE cipher")
        try:
            weak = handshake(cafile, ssl.TLSVersion.TLSv1_2, "AES128-SHA:@SECLEVEL=0")
        except ssl.SSLError:
            weak = None
        expect(weak is None, f"TLS 1.2 with AES128-SHA (no forward secrecy) was accepted: {weak}")
        say(f"TLS 1.3 ({cipher}) and TLS 1.2 ({cipher12}) work; TLS 1.2 with AES128-SHA refused")

        browser = Browser(cafile)
        html = browser.page("/")
        expect("Сферум" in html, "the public page does not mention «Сферум»")
        sheets = re.findall(r'href="(/static/[^"]+\.css)"', html)
        expect(bool(sheets), "the public page links no stylesheet under /static/")
        for sheet in sheets:
            expect(
                re.search(r"\.[0-9a-f]{12}\.css$", sheet) is not None,
                f"{sheet}: not a hashed name from the manifest (collectstatic's storage)",
            )
            status, headers, _ = browser.get(sheet)
            age = re.search(r"max-age=(\d+)", headers.get("Cache-Control", ""))
            expect(
                status == 200 and age is not None and int(age.group(1)) >= 365 * 24 * 3600,
                f"{sheet}: expected 200 with a year's max-age, got {status} "
                f"{headers.get('Cache-Control')!r}",
            )
        say(f"public page 200; {len(sheets)} stylesheets with hashed names and a year's max-age")

        # The admin signs in through the portal's own form, then the second factor.
        admin = Browser(cafile)
        status, headers, _ = admin.get("/admin/login/?next=/admin/")
        expect(
            (status, headers.get("Location")) == (302, "/accounts/login/?next=%2Fadmin%2F"),
            f"/admin/login/: expected 302 to the portal's sign-in, got {status} "
            f"{headers.get('Location')!r}",
        )
        admin.sign_in(SUPERUSER, self.plan["superuser_password"])
        admin.enrol_second_factor("the superuser")
        index = admin.page("/admin/")
        expect("Данные всех организаций" in index, "/admin/: not the index")
        admin_css = re.search(r'href="(/static/admin/css/[^"]+\.[0-9a-f]{12}\.css)"', index)
        expect(admin_css is not None, "/admin/: no hashed stylesheet of django.contrib.admin")
        expect(admin.get(admin_css.group(1))[0] == 200, f"{admin_css.group(1)}: not served")
        say(
            "/admin/ with its hashed stylesheet; the superuser of step 6 signs in through the "
            "portal's form and connects an authenticator"
        )

        status, headers, _ = browser.get("/regulation/order.pdf")
        expect(
            status == 302 and headers["Location"].startswith("/accounts/login/"),
            f"anonymous /regulation/order.pdf: expected 302 to sign-in, got {status}",
        )
        say("anonymous /regulation/order.pdf: 302 to sign-in")

        self.confirm_as_teacher()
        self.documents_as_director()

        for what, status, headers in Browser.answers:
            expect(status < 500, f"{what}: {status}")
            expect(headers.get("Server") == "nginx", f"{what}: Server {headers.get('Server')!r}")
            policy = headers.get("Permissions-Policy", "")
            expect("camera=()" in policy, f"{what} ({status}): no Permissions-Policy")
        say(
            f"{len(Browser.answers)} answers: none 5xx; each with `Server: nginx` (no version) "
            "and a Permissions-Policy"
        )

    def confirm_as_teacher(self) -> None:
        teacher = Browser(self.cafile())
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
            self.plan["databases"][0],
        )
        expect(
            recorded == "127.0.0.1",
            f"the confirmation recorded the address {recorded!r}; expected exactly '127.0.0.1' "
            f"(nginx must replace the client's X-Forwarded-For {FORGED_ADDRESS})",
        )
        say(f"teacher confirmed; recorded address 127.0.0.1, the forged {FORGED_ADDRESS} ignored")

    def documents_as_director(self) -> None:
        director = Browser(self.cafile())
        director.sign_in("director")
        director.enrol_second_factor("director")
        say("the director connected an authenticator (TOTP from the page's secret)")

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
            expect(
                time.monotonic() < deadline,
                "the worker did not make the sheet in 60 s\n"
                + tail(self.logs / "cdt-portal-worker.log"),
            )
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
            # nginx marks a file it sent itself with Accept-Ranges; the portal's answers do not.
            expect(
                headers.get("Accept-Ranges") == "bytes",
                f"{path}: not sent by nginx (X-Accel-Redirect): can www-data read MEDIA_ROOT?",
            )
        say("director downloaded order.pdf and sheet.pdf: application/pdf, private, sent by nginx")

        stored = sorted(p for p in MEDIA.rglob("*.pdf") if p.is_file())
        expect(bool(stored), f"no stored PDF under {MEDIA}")
        order = director.get("/regulation/order.pdf")[2]
        digest = hashlib.sha256(order).hexdigest()
        expect(
            any(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in stored),
            "the downloaded order.pdf is none of the stored files",
        )
        for file in stored:
            relative = file.relative_to(MEDIA).as_posix()
            for prefix in ("/private-media/", "/_private/"):
                status, _, _ = director.get(prefix + relative)
                expect(
                    status == 404,
                    f"{prefix}{relative}: a stored file must not be reachable by its path; "
                    f"expected 404, got {status}",
                )
        say(f"{len(stored)} stored PDFs: 404 at /private-media/… and at the internal /_private/…")

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
    global STARTED
    STARTED = json.loads((tmp / "plan.json").read_text())["started"]
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


# ================================================================================================
# On the host
# ================================================================================================


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
            [*namespace.split(), SHIM_PYTHON, str(Path(__file__).resolve()), "--inside", str(tmp)],
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


if __name__ == "__main__":
    if sys.argv[1:2] == ["--shim"]:
        sys.exit(SHIM_FUNCTIONS[sys.argv[2]](sys.argv[3:]))
    if sys.argv[1:2] == ["--exec-unit"]:
        exec_unit(sys.argv[2], sys.argv[3])
    if sys.argv[1:2] == ["--inside"]:
        sys.exit(inside(Path(sys.argv[2])))
    sys.exit(main())
