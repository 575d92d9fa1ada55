"""The scale section's instruments: wrk and raw sockets against gunicorn, and the bare
password-hash rate the confirmations are held to."""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import subprocess
import time

from jobs_common import PASSWORD

# --- wrk and raw sockets ------------------------------------------------------------------


WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def wrk(port: int, path: str, cookie: str, *, seconds: float, connections: int) -> dict:
    """`wrk --latency` against gunicorn: requests/s, p50/p99 in ms, non-2xx/3xx answers."""
    command = [
        "wrk",
        f"-t{min(connections, 2)}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "30s",
        "--latency",
        "-H",
        "User-Agent: cdt-bench-scale",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(f"http://127.0.0.1:{port}{path}")
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    result: dict = {"path": path, "raw": out}

    def latency(percent: str) -> float | None:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(found.group(1)) * WRK_UNITS[found.group(2)] if found else None

    result["p50_ms"] = latency("50")
    result["p99_ms"] = latency("99")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(found.group(1)) if found else None
    found = re.search(r"(\d+) requests in", out)
    result["requests"] = int(found.group(1)) if found else 0
    found = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["bad"] = int(found.group(1)) if found else 0
    found = re.search(r"Socket errors:.*", out)
    result["socket_errors"] = found.group(0) if found else ""
    return result


def first_byte(port: int, path: str, cookie: str) -> dict:
    """A raw HTTP/1.1 GET: the time until the first byte of the body arrives (the headers
    come with or just before it), the total time and size, the status."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: cdt-bench-scale\r\n"
        f"Cookie: {cookie}\r\nConnection: close\r\n\r\n"
    ).encode()
    try:
        started = time.perf_counter()
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            end = data.find(b"\r\n\r\n")
            if end >= 0 and len(data) > end + 4:
                break
        ttfb = time.perf_counter() - started
        total = len(data)
        while chunk := sock.recv(1 << 16):
            total += len(chunk)
        elapsed = time.perf_counter() - started
    finally:
        sock.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    header_end = data.find(b"\r\n\r\n") + 4
    return {
        "status": status,
        "ttfb_ms": ttfb * 1000,
        "total_ms": elapsed * 1000,
        "bytes": total - header_end,
        "chunked": b"transfer-encoding: chunked" in data[:header_end].lower(),
    }


# --- the bare password-hash rate ------------------------------------------------------------


def _hash_worker(encoded: str, seconds: float, queue) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cdt_portal.settings.local")
    from django.contrib.auth.hashers import identify_hasher

    hasher = identify_hasher(encoded)
    hasher.verify(PASSWORD, encoded)  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.verify(PASSWORD, encoded)
        done += 1
    queue.put((done, time.perf_counter() - started))


def hash_rate(encoded: str, processes: int, seconds: float) -> float:
    """Verifications a second of the portal's hasher (PortalArgon2PasswordHasher, as stored
    in `encoded`), `processes` at a time, as gunicorn's workers would run them."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [
        context.Process(target=_hash_worker, args=(encoded, seconds, queue))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    return sum(done / elapsed for done, elapsed in results)


def make_real_hash() -> str:
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)
