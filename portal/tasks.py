"""The top layer's periodic task (found by the worker: `run_huey` autodiscovers `tasks`
modules; the core's AppConfig imports them in every process). A thin wrapper: the work, and
the job task it starts, are in `services`, so services never import this module."""

from __future__ import annotations

from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import local_crontab

from . import services


@db_periodic_task(local_crontab(minute="0", hour="8", day_of_week="1"))
@lock_task("cdt-portal-weekly-digest")
def weekly_digest() -> None:
    """Mondays at 08:00 (TIME_ZONE): the week's digest job."""
    services.weekly_digest_start()
