"""The accounts app's periodic chores (found by the worker: `run_huey` autodiscovers `tasks`
modules; the core's AppConfig imports them in every process). Its job tasks are defined where
their work is, in `services` (pretix's way), so services never import this module."""

from __future__ import annotations

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from . import services


@db_periodic_task(crontab(minute="17"))
@lock_task("cdt-portal-expire-imports")
def expire_abandoned_imports() -> None:
    """Hourly: staff lists left unconfirmed for more than a day are cancelled, their files
    dropped (audited as done by the system)."""
    services.import_expire_abandoned(older_than=dt.timedelta(days=1))


@db_periodic_task(crontab(minute="*/10"))
@lock_task("cdt-portal-remove-invitation-slips")
def remove_old_invitation_slips() -> None:
    """Every ten minutes: stored sheets of slips older than an hour are deleted (they hold live
    sign-in links; the page stops serving them at the hour whatever this chore's timing)."""
    services.invitations.invitation_slips_remove_old()
