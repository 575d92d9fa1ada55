"""The systemctl stand-in (one of standins.py's SHIM_FUNCTIONS): nginx started and reloaded,
and the portal's units run as systemd runs them, with seccomp.py's filters."""

from __future__ import annotations

import ctypes
import errno
import grp
import json
import os
import pwd
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import (
    CLONE_NEWNS,
    MOUNT_FLAGS,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    SCRIPT,
    SHIM_PYTHON,
    STATE,
    SYSTEM_PATH,
    CheckFailed,
    _children,
    expect,
    libc,
    load_plan,
    mount,
    mount_points,
    run,
    tail,
)
from .seccomp import (
    allow_system_calls,
    deny_write_execute,
    restrict_address_families,
    syscall_groups,
)


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
        "to UNIT_APPLIED (and apply it in exec_unit) or to NOT_APPLIED in "
        "scripts/deploycheck/systemctl.py",
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
        [SHIM_PYTHON, str(SCRIPT), "--exec-unit", str(path), str(notify or "")],
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
