"""The rollout's background tasks, and the housekeeping that spans the apps below (found by
the worker: `run_huey` autodiscovers `tasks` modules). Thin wrappers: work is in `services`
(rows) and `maintenance` (files)."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, lock_task

from accounts import services as account_services
from acknowledgements import services as acknowledgement_services
from cdt_portal.jobs import job_task, local_crontab

from . import maintenance, services

logger = logging.getLogger(__name__)


# Never retried by huey: the registration e-mail is sent at most once by itself (see
# `services.request_send_run`).
@job_task()
def send_registration_request(job_id: int, request_id: int, action: str) -> str:
    return services.request_send_run(job_id=job_id, request_id=request_id, action=action)


@db_periodic_task(local_crontab(minute="23", hour="3"))
@lock_task("cdt-portal-remove-sheet-files")
def remove_unreferenced_sheet_files() -> None:
    """Nightly: old stored sheet files that no current content names."""
    maintenance.remove_unreferenced_sheet_files()


@db_periodic_task(crontab(minute="5"))
@lock_task("cdt-portal-scheduled-reminders")
def scheduled_reminders() -> None:
    """Hourly hook, kept for reminders of the hour: nothing is due here (parents' reminders
    are daily, `scheduled_parent_reminders`)."""
    due = services.scheduled_reminders_due()
    if due:
        logger.info("%d scheduled reminders due", len(due))


@db_periodic_task(local_crontab(minute="10", hour="9"))
@lock_task("cdt-portal-parent-reminders")
def scheduled_parent_reminders() -> None:
    """Daily at 09:10 (TIME_ZONE): reminders to parents due today (notice, consent)."""
    reminders = services.parent_reminders_send(base_url=settings.PORTAL_URL)
    if reminders:
        logger.info("%d parent reminders recorded", len(reminders))


@db_periodic_task(local_crontab(minute="0", hour="8", day_of_week="1"))
@lock_task("cdt-portal-weekly-digest")
def weekly_digest() -> None:
    """Mondays at 08:00 (TIME_ZONE): the weekly digest, once per organisation and week."""
    services.weekly_digest_send(base_url=settings.PORTAL_URL)


@db_task()
def resume_interrupted_jobs() -> None:
    """Queue again the jobs a stopped worker left running (each idempotent)."""
    resumed = (
        account_services.jobs_resume_interrupted()
        + acknowledgement_services.jobs_resume_interrupted(
            stale_seconds=account_services.stale_after_seconds()
        )
        + services.send_jobs_resume_interrupted()
    )
    if resumed:
        logger.warning("Resumed interrupted jobs: %s", resumed)


@db_periodic_task(crontab())
@lock_task("cdt-portal-resume-jobs")
def resume_interrupted_jobs_every_minute() -> None:
    """A worker on another machine may have died: look every minute."""
    resume_interrupted_jobs.call_local()


@HUEY.on_startup()
def look_for_interrupted_jobs() -> None:
    """A worker that starts may be replacing one that was killed: once a job of that worker
    has been quiet long enough to be called abandoned, it is queued again."""
    try:
        resume_interrupted_jobs.schedule(delay=account_services.stale_after_seconds() + 1)
    except Exception:
        logger.exception("Could not schedule the look for interrupted jobs")
