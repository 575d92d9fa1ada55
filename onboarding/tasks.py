"""The rollout's background tasks (found by the worker: `run_huey` autodiscovers `tasks`
modules). Thin wrappers: the work is in `services`."""

from __future__ import annotations

from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import local_crontab

from . import services


@db_periodic_task(local_crontab(minute="0", hour="8", day_of_week="1"))
@lock_task("cdt-portal-weekly-digest")
def weekly_digest() -> None:
    """Mondays at 08:00 (TIME_ZONE): the week's digest job."""
    services.weekly_digest_start()
