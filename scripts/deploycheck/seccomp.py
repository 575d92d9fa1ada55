"""seccomp filters like systemd's (the systemctl stand-in;
tests/deployment/test_server_config.py)."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import socket

from .common import expect, run


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
