"""One log line per event, in one shape (ISO 8601 time with the offset, level, logger, message),
written once; a queue that is down logs a line a minute, not a traceback a second."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from cdt_portal.logs import FORMAT, IsoFormatter, OncePerMinute

ROOT = Path(__file__).resolve().parents[2]
# How long the worker may take to start on a loaded machine, and how long it is watched after.
STARTUP_SECONDS = 120
WATCHED_SECONDS = 3
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"[\w.]+ .+$"
)


def record(msg: str, *, exc: Exception | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("huey.consumer", logging.ERROR, __file__, 1, msg, None, exc_info)


def test_a_line_has_the_iso_time_with_its_offset_the_level_and_the_logger():
    line = IsoFormatter(FORMAT).format(
        logging.LogRecord("cdt_portal.jobs", logging.WARNING, __file__, 1, "Job %s", (7,), None)
    )
    assert LINE.match(line), line
    assert line.endswith(" WARNING cdt_portal.jobs Job 7")


def test_a_repeating_outage_passes_once_a_minute_in_one_line(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("cdt_portal.logs.time.monotonic", lambda: clock[0])
    once = OncePerMinute()
    down = ConnectionError("Error 111 connecting to 127.0.0.1:6379.\nConnection refused.")
    first = record("Error reading from queue", exc=down)
    assert once.filter(first) is True
    assert first.exc_info is None
    assert first.getMessage() == (
        "Error reading from queue: ConnectionError: Error 111 connecting to 127.0.0.1:6379. "
        "Connection refused."
    )
    clock[0] += 30
    assert [once.filter(record("Error reading from queue", exc=down)) for _ in range(5)] == [
        False
    ] * 5
    assert once.filter(record("Something else entirely")) is True
    clock[0] += 31
    later = record("Error reading from queue", exc=down)
    assert once.filter(later) is True
    assert later.getMessage().endswith("(the same 5 more times since the last line)")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_worker_without_its_queue_writes_one_line_per_message_not_tracebacks(tmp_path):
    """The real worker, its Redis unreachable, for a few seconds: huey would log a traceback
    for every failed read (each line twice, before); here one line, in the shape above. The
    worker is watched from its first failed read (however long a loaded machine takes to start
    it) for `WATCHED_SECONDS`, in which huey tries to read again several times (its back-off
    starts at 0.1 s), then killed, as before, so that no shutdown lines are counted."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdt_portal.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0",
        "LOG_LEVEL": "INFO",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "1", "--worker-type", "thread"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: list[str] = []
    first_read = threading.Event()

    def read() -> None:
        for line in worker.stdout:
            seen.append(line)
            if "Error reading from queue" in line:
                first_read.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert first_read.wait(STARTUP_SECONDS), "no failed read logged:\n" + "".join(seen)
        time.sleep(WATCHED_SECONDS)
    finally:
        worker.kill()
        worker.wait(timeout=30)
        reader.join(timeout=30)
    output = "".join(seen)
    lines = [line for line in output.splitlines() if line.strip()]
    assert lines, "the worker wrote nothing"
    assert "Traceback" not in output
    odd = [line for line in lines if not LINE.match(line) and not line.startswith("+ ")]
    assert odd == [], "lines not in the one shape:\n" + "\n".join(odd)
    reads = [line for line in lines if "Error reading from queue" in line]
    assert len(reads) == 1, "\n".join(reads)
    assert "ConnectionError" in reads[0]
    assert len(lines) == len(set(lines)), "a line was written twice"


def test_a_traceback_stays_in_its_events_line():
    try:
        raise ValueError("первая строка\nвторая строка")
    except ValueError:
        import sys

        rec = logging.LogRecord(
            "cdt_portal.jobs", logging.ERROR, __file__, 1, "Job failed", None, sys.exc_info()
        )
    line = IsoFormatter(FORMAT).format(rec)
    assert "\n" not in line
    assert LINE.match(line)
    assert "Traceback (most recent call last):\\n" in line
    assert "ValueError: первая строка\\nвторая строка" in line


def test_the_time_is_the_deployments_whatever_the_process_clock(monkeypatch):
    monkeypatch.setenv("TIME_ZONE", "Asia/Yekaterinburg")
    line = IsoFormatter(FORMAT).format(
        logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1, "Booting", None, None)
    )
    assert line[23:29] == "+05:00", line


def test_a_health_check_answering_503_is_not_logged_as_an_error(client, db):
    from unittest import mock

    from django.db import OperationalError

    from cdt_portal.logs import QuietHealthChecks

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    keep = Keep()
    logger = logging.getLogger("django.request")
    logger.addHandler(keep)
    try:
        with mock.patch(
            "cdt_portal.health.connection.cursor",
            side_effect=OperationalError("connection refused"),
        ):
            assert client.get("/healthz").status_code == 503
        assert client.get("/no-such-page/").status_code == 404
    finally:
        logger.removeHandler(keep)
    assert [r.getMessage() for r in keep.records] == [
        "Service Unavailable: /healthz",
        "Not Found: /no-such-page/",
    ]
    assert [QuietHealthChecks().filter(r) for r in keep.records] == [False, True]
