"""The families' background tasks (found by the worker: `run_huey` autodiscovers `tasks`
modules). Thin wrappers: the work is in `services`, which also defines the job task the daily
chore starts (`services.reminders.send_parent_reminders`), so services never import this
module."""

from __future__ import annotations

import logging

from django.conf import settings
from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import local_crontab

from . import services

logger = logging.getLogger(__name__)


@db_periodic_task(local_crontab(minute="10", hour="9"))
@lock_task("cdt-portal-parent-reminders")
def scheduled_parent_reminders() -> None:
    """Daily at 09:10 (TIME_ZONE): the reminders to parents due today (notice, consent), one
    job per organisation, keyed by the day (a second start the same day finds it)."""
    jobs = services.parent_reminders_send(base_url=settings.PORTAL_URL)
    if jobs:
        logger.info("Parents' reminders: %d jobs started or found", len(jobs))


@db_periodic_task(local_crontab(minute="20", hour="3"))
@lock_task("cdt-portal-consent-erasure")
def erase_consent_data() -> None:
    """Nightly at 03:20 (TIME_ZONE): the identity and address data of the consents whose
    retention ends before the next night's run are erased, each audited
    (`services.consent_data_erase`)."""
    erased = services.consent_data_erase()
    if erased:
        logger.info("Consents' identity data erased after the retention: %d", erased)
