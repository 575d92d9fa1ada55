"""Is the portal working? The database, the job queue, the worker and the backups, each
checked on its own, for `/healthz` and the superuser's admin.

The worker proves itself by a periodic task (`cdt_portal.tasks.worker_beat`) that stamps
`ServiceBeat("worker")` every minute: the stamp can only be fresh if the queue, the scheduler
and a worker process all work. The backup job stamps `ServiceBeat("backup")` with the archive
it made, so every app server knows the newest backup's age, wherever BACKUP_DIR is.

Why not django-health-check: its checks are the database, caches, storage and Celery; the
two that matter here (huey's worker and the backups) would be written by hand anyway, and the
rest is one query.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from .models import ServiceBeat

logger = logging.getLogger(__name__)

# The worker beats every minute; two missed beats and it counts as down.
WORKER_SILENT_AFTER = dt.timedelta(minutes=3)
# A nightly backup that did not happen for a day and a half is worth a warning.
BACKUP_OLD_AFTER = dt.timedelta(hours=36)


def beat(name: str, /, **detail) -> None:
    """Stamp that `name` is alive now (with what it wants to say about itself)."""
    ServiceBeat.objects.update_or_create(
        name=name, defaults={"at": timezone.now(), "detail": detail}
    )


def last_beat(name: str) -> ServiceBeat | None:
    return ServiceBeat.objects.filter(name=name).first()


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    text: str
    # The same for a person (the superuser's admin page); `text` is for `/healthz`'s readers.
    russian: str = ""
    # A warning is shown but does not make the portal unhealthy (an old backup does not stop
    # anybody's work; a load balancer must not take the app server out for it).
    warning: bool = False

    @property
    def line(self) -> str:
        state = "ok" if self.ok and not self.warning else ("warning" if self.ok else "down")
        return f"{self.name}: {state}" + (f" ({self.text})" if self.text else "")


def _age(moment: dt.datetime, now: dt.datetime, *, russian: bool = False) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        number, unit, ru = seconds, "s", "с"
    elif seconds < 7200:
        number, unit, ru = seconds // 60, "min", "мин"
    else:
        number, unit, ru = seconds // 3600, "h", "ч"
    return f"{number} {ru} назад" if russian else f"{number} {unit} ago"


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Health check: the database does not answer: %s", exc)
        return Check("database", False, "does not answer", "не отвечает")
    return Check("database", True, "", "отвечает")


def check_queue() -> Check:
    try:
        waiting = HUEY.pending_count()
    except Exception as exc:  # Redis down, the queue file unreadable: whatever huey raises
        logger.warning("Health check: the job queue does not answer: %s", exc)
        return Check("queue", False, "does not answer", "не отвечает")
    return Check("queue", True, f"{waiting} waiting", f"ждут: {waiting}")


def check_worker(now: dt.datetime) -> Check:
    if HUEY.immediate:
        # Jobs run inside the request that starts them (tests): no worker is needed.
        return Check("worker", True, "jobs run at once, immediate mode", "работы выполняются сразу")
    stamp = last_beat("worker")
    if stamp is None:
        return Check("worker", False, "no heartbeat yet", "ещё не подавал сигнала")
    age, age_ru = _age(stamp.at, now), _age(stamp.at, now, russian=True)
    if now - stamp.at > WORKER_SILENT_AFTER:
        return Check("worker", False, f"last heartbeat {age}", f"последний сигнал {age_ru}")
    return Check("worker", True, f"heartbeat {age}", f"сигнал {age_ru}")


def check_backup(now: dt.datetime) -> Check:
    stamp = last_beat("backup")
    if stamp is None:
        return Check("backup", True, "none made yet", "копий ещё нет", warning=True)
    old = now - stamp.at > BACKUP_OLD_AFTER
    newest = f"последняя {_age(stamp.at, now, russian=True)}"
    if stamp.detail.get("archive"):
        newest += f", {stamp.detail['archive']}"
    return Check("backup", True, f"newest {_age(stamp.at, now)}", newest, warning=old)


def report() -> list[Check]:
    """Every check; the database first, since the worker's and backup's stamps are read from
    it (when it is down they are not looked at)."""
    now = timezone.now()
    database = check_database()
    if not database.ok:
        return [database, check_queue()]
    return [database, check_queue(), check_worker(now), check_backup(now)]
