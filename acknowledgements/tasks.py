"""The worker's periodic tasks for documents and acknowledgements; each only calls a service.

The job tasks are defined beside the work they run (`services.versions`, `services.reminders`,
`sheet`) and registered when their module is imported: in the worker through this module
(`run_huey` imports every app's `tasks`), in the web process through the views that start them."""

from __future__ import annotations

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import local_crontab

from . import services, sheet


@db_periodic_task(local_crontab(minute="0", hour="9"))
@lock_task("cdt-portal-reading-reminders")
def scheduled_reading_reminders() -> None:
    """Daily at 09:00 (TIME_ZONE): the reminders to read the current version that are due
    today (`services.reminders_due`, by `cdt_portal.reminder_schedule`); each run is a job."""
    services.reminders_due(base_url=settings.PORTAL_URL)


@db_periodic_task(local_crontab(minute="23", hour="3"))
@lock_task("cdt-portal-remove-sheet-files")
def remove_unreferenced_sheet_files() -> None:
    """Nightly at 03:23 (TIME_ZONE): stored sheet files no current content names
    (`sheet.remove_unreferenced_sheet_files`, which recounts every sheet's key first)."""
    sheet.remove_unreferenced_sheet_files()
