"""The core's background tasks, imported by the worker (`run_huey` autodiscovers `tasks`
modules): the worker's heartbeat, the look for lost jobs, the PDF warm-up, the nightly recount
of kept numbers, the sweep of unfinished writes and the backups."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, lock_task, on_startup

from . import backups  # noqa: F401  (the nightly backup and the backup job)
from .files import remove_stale_partials
from .health import beat
from .jobs import jobs_recover, local_crontab
from .numbers import recount_everything
from .pdf import warm_up

logger = logging.getLogger(__name__)


@on_startup()
def warm_up_pdf_renderer() -> None:
    """Each worker process loads WeasyPrint, Pango and the fonts when it starts, not during
    the first document someone waits for (0.7 s of a 3 s sheet)."""
    warm_up()


@db_periodic_task(crontab())
def worker_beat() -> None:
    """Every minute: the worker is alive (`/healthz`, the dashboard). Run through the queue
    like any task, so a fresh stamp proves the queue, the scheduler and a worker process."""
    beat("worker")


@db_periodic_task(local_crontab(minute="47", hour="2"))
@lock_task("cdt-portal-nightly-recount")
def recount_kept_numbers() -> None:
    """Nightly: every organisation's kept numbers counted from scratch; any that had drifted
    is logged and replaced (`numbers.recount_everything`)."""
    recount_everything()


@db_periodic_task(local_crontab(minute="53", hour="2"))
@lock_task("cdt-portal-remove-stale-partials")
def remove_unfinished_writes() -> None:
    """Nightly: the temporary files of writes a killed process never finished
    (`files.remove_stale_partials`)."""
    remove_stale_partials()


@db_task()
def recover_lost_jobs() -> None:
    requeued = jobs_recover()
    if requeued:
        logger.warning("Queued again %d lost jobs: %s", len(requeued), requeued)


@db_periodic_task(crontab())
def recover_lost_jobs_every_minute() -> None:
    """A worker here or on another machine may have died: look every minute. No lock: two
    looks at once queue each lost job once (`jobs_recover` takes each by a conditional
    UPDATE), and a lock left by a killed worker must not stop the look."""
    recover_lost_jobs.call_local()


@HUEY.on_startup()
def look_for_lost_jobs() -> None:
    """A worker that starts may be replacing one that was killed. Its jobs beat until a moment
    ago, so they are looked at once their silence can be told from life (the threshold and a
    second), and from then on every minute: an interrupted job runs again well within 90 s of
    the worker's start. The beat is stamped now too, so `/healthz` sees a new worker at once.

    The locks of the periodic chores are cleared too: a worker killed while a chore held one
    would keep it for ever (neither Redis before 7.4 nor the SQLite queue lets a lock expire).
    Here rather than with huey's `flush_locks` option, which fails the worker's start with a
    traceback when the queue is down (a new one every few seconds under systemd)."""
    try:
        HUEY.flush_locks()
        beat("worker")
        recover_lost_jobs.schedule(delay=settings.JOB_SILENCE_SECONDS + 1)
    except Exception as exc:
        logger.error("Could not schedule the look for lost jobs: %s: %s", type(exc).__name__, exc)
