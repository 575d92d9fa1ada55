"""The accounts app's background tasks (found by the worker: `run_huey` autodiscovers `tasks`
modules). Each is a thin wrapper: the work and its writes are in `services`."""

from __future__ import annotations

import datetime as dt

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from cdt_portal.jobs import job_task

from . import services


# No huey retries: a letter whose server refused it for now is tried again inside the job
# (with back-off), and a job whose worker stopped is queued again by the core's
# `jobs_recover`; each run sends only the letters not yet recorded.
@job_task()
def send_invitations(job_id: int, mailing_id: int) -> str:
    return services.invitation_mailing_run(job_id=job_id, mailing_id=mailing_id)


# Not retried from the jobs page: the person asks for a new code on the invitation's page.
@job_task(retryable=False)
def send_invitation_code(job_id: int, invitation_id: int) -> str:
    return services.invitation_code_run(job_id=job_id, invitation_id=invitation_id)


@job_task()
def check_import(job_id: int, batch_id: int) -> str:
    return services.import_check(job_id=job_id, batch_id=batch_id)


def _put_batch_back(job_id: int, batch_id: int, *, reason: str) -> None:
    services.import_apply_failed(batch_id=batch_id, preview=None)


# Not retried from the jobs page: a batch put back is added by «Добавить» on its own page,
# which reads the file again.
@job_task(retryable=False, on_failure=_put_batch_back)
def apply_import(job_id: int, batch_id: int) -> str:
    return services.import_apply_run(job_id=job_id, batch_id=batch_id)


@db_periodic_task(crontab(minute="17"))
@lock_task("cdt-portal-expire-imports")
def expire_abandoned_imports() -> None:
    """Hourly: staff lists left unconfirmed for more than a day are cancelled, their files
    dropped (audited as done by the system)."""
    services.import_expire_abandoned(older_than=dt.timedelta(days=1))
