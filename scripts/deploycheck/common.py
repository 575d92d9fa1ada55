"""What every part of the check uses: its constants, its failure, its output, and small
helpers (mount(2), commands, PostgreSQL and Redis, the TOTP codes of the second factor)."""

from __future__ import annotations

import base64
import ctypes
import errno
import hashlib
import hmac
import json
import os
import shlex
import socket
import struct
import subprocess
import time
from pathlib import Path

# This check's command, which the stand-ins, the units and the namespace's process run again
# with an option (its end says which), and the checkout it belongs to.
SCRIPT = Path(__file__).resolve().parent.parent / "deploy_check.py"
ROOT = SCRIPT.parent.parent
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


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(child) for child in text.split()}


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
