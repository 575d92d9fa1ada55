"""The rollout's background tasks (found by the worker: `run_huey` autodiscovers `tasks`
modules). Thin wrappers: work is in `services` (rows) and `maintenance` (files)."""

from __future__ import annotations

import logging

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import job_task, local_crontab

from . import maintenance, services

logger = logging.getLogger(__name__)


# Never retried by huey nor from the jobs page: the registration e-mail is sent at most once by
# itself (see `services.request_send_run`); the request page offers «Отправить» again.
@job_task(retryable=False)
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
