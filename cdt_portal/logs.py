"""One log line per event, the same shape from every process (gunicorn, the worker, manage.py):

    2026-12-06T04:37:12.345+03:00 WARNING cdt_portal.jobs Job 17 requeued: silent for 41 s

ISO 8601 with the offset (the clock of TIME_ZONE, in every process alike), the level, the
logger's name, the message; a traceback folded into the same line. Every logger propagates to
the one handler on the root logger, so nothing is written twice (huey's `run_huey` adds a
handler of its own only when its logger has none, and Django's own `django`/`django.server`
handlers are replaced). Under systemd the lines go to journald (docs/deploy.md, «Logs»).

A queue that is down must not fill the disk: huey's worker logs a full traceback every time it
fails to read the queue (about every second). `OncePerMinute` lets one line a minute through
for each such message, without the traceback but with the error's one-line text.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import zoneinfo

# huey's messages that repeat for as long as Redis (or the queue file) is unreachable.
REPEATING_OUTAGE_MESSAGES = (
    "Error reading from queue",
    "Error reading schedule.",
    "Error enqueueing periodic task %s.",
    "Error enqueueing %s.",
    "Error in consumer.",
)


# The deployment's clock (settings.TIME_ZONE reads the same variable with the same default):
# every process writes its times in it, whether it has loaded Django's settings or not (the
# gunicorn master has not).
DEFAULT_TIME_ZONE = "Europe/Moscow"


def log_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(os.environ.get("TIME_ZONE") or DEFAULT_TIME_ZONE)


class IsoFormatter(logging.Formatter):
    """`asctime` as ISO 8601 with milliseconds and the offset of the deployment's time zone;
    an event that spans lines (a traceback, a list) is folded into one, its line breaks
    written as `\\n`, so that one event is one line in the journal."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = dt.datetime.fromtimestamp(record.created, tz=log_zone())
        return moment.isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", "\\n")


class QuietHealthChecks(logging.Filter):
    """`/healthz` answers 503 while a part is down and a load balancer asks every few seconds:
    that is the answer working, not an error of the request, so Django's «Service
    Unavailable: /healthz» is not logged each time (the part that is down logs its own
    warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (record.name == "django.request" and getattr(request, "path", "") == "/healthz")


FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class OncePerMinute(logging.Filter):
    """Lets one record a minute through for each repeating outage message (`seconds` to
    change the period), shortened to one line: the traceback of the 60th identical
    connection error says nothing the first did not."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self.last: dict[str, float] = {}
        self.suppressed: dict[str, int] = {}
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg not in REPEATING_OUTAGE_MESSAGES:
            return True
        key = str(record.msg)
        now = time.monotonic()
        with self.lock:
            if now - self.last.get(key, -self.seconds) < self.seconds:
                self.suppressed[key] = self.suppressed.get(key, 0) + 1
                return False
            self.last[key] = now
            skipped = self.suppressed.pop(key, 0)
        error = record.exc_info[1] if record.exc_info else None
        record.msg = record.getMessage()
        record.args = None
        if error is not None:
            record.msg += f": {type(error).__name__}: {error}".replace("\n", " ")
        if skipped:
            record.msg += f" (the same {skipped} more times since the last line)"
        record.exc_info = None
        record.exc_text = None
        return True


def logging_config(level: str) -> dict:
    """settings.LOGGING: the root logger's one handler; the loggers that brought their own
    handlers hand their records to it instead."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"iso": {"()": IsoFormatter, "format": FORMAT}},
        "filters": {
            "outage": {"()": OncePerMinute},
            "health": {"()": QuietHealthChecks},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "iso",
                "filters": ["outage", "health"],
            },
            "null": {"class": "logging.NullHandler"},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's defaults give these handlers of their own (without time or level).
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "level": level, "propagate": True},
            # run_huey adds its own handler only to a logger with none: give it a null one so
            # each line is written once, by the root's handler.
            "huey": {"handlers": ["null"], "level": level, "propagate": True},
            # WeasyPrint reports every rendering step at INFO.
            "weasyprint": {"level": "WARNING"},
            "fontTools": {"level": "WARNING"},
            # django-axes narrates every sign-in at INFO; the attempts are in its tables, and
            # its lockouts (WARNING) still come through.
            "axes": {"level": "WARNING"},
        },
    }
