"""The worker's tasks for documents and acknowledgements. Each only calls a service: the
services hold the work and its bookkeeping, so each is safe to run again."""

from __future__ import annotations

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, lock_task

from accounts.models import User
from cdt_portal.jobs import job_part_task, job_task, local_crontab

from . import services


def _put_draft_back(job_id: int, version_id: int, actor_id: int, *, reason: str) -> None:
    services.version_approval_failed(
        version_id=version_id, actor=User.objects.filter(pk=actor_id).first(), reason=reason
    )


# Not retried from the jobs page: the draft is put back, and the director approves it again.
@job_task(retryable=False, on_failure=_put_draft_back)
def version_approval_task(job_id: int, version_id: int, actor_id: int) -> str:
    return services.version_approval_run(job_id=job_id, version_id=version_id, actor_id=actor_id)


@job_task()
def reminders_task(job_id: int, run_id: int) -> str:
    return services.reminders_run(job_id=job_id, run_id=run_id)


@db_periodic_task(local_crontab(minute="0", hour="9"))
@lock_task("cdt-portal-reading-reminders")
def scheduled_reading_reminders() -> None:
    """Daily at 09:00 (TIME_ZONE): the reminders to read the current version that are due
    today (`services.reminders_due`, by `cdt_portal.reminder_schedule`); each run is a job."""
    services.reminders_due(base_url=settings.PORTAL_URL)


# The sheet's job is done when the last part is joined, not when its first task returns.
@job_task()
def sheet_build_task(job_id: int, version_id: int, blank: bool) -> object:
    return services.sheet_build(job_id=job_id, version_id=version_id, blank=blank)


@job_part_task()
def sheet_part_task(job_id: int, version_id: int, blank: bool, path: str, context: dict) -> None:
    services.sheet_part_store(
        job_id=job_id, version_id=version_id, blank=blank, path=path, context=context
    )
