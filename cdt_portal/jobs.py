"""Long work runs in the background worker (huey), never inside a person's request.

`start_job` records a `Job` and puts its task on the queue in one transaction: either both
happen or neither, so a queue that is down leaves nothing marked as started. A second start
with the same key (a double click, a second administrator) finds the job already there. Tasks
are written with `@job_task`: the worker marks the job running, the task reports progress with
`job_progress`, and the job ends done (with a link to its result) or failed (with the reason).
Each task must itself be idempotent: a worker killed mid-job runs it again from the start.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_task
from huey.exceptions import RetryTask

from .audit import log_action
from .errors import PortalError
from .models import Job

logger = logging.getLogger(__name__)

QUEUE_DOWN = (
    "Работу не удалось поставить в очередь: фоновый обработчик недоступен. Ничего не начато; "
    "попробуйте позже или сообщите тому, кто обслуживает портал."
)


def start_job(
    *,
    task: Callable[..., Any],
    key: str,
    kind: str,
    title: str,
    organisation_id: int | None,
    actor: Any,
    args: tuple = (),
    total: int = 0,
    again_if_done: bool = False,
) -> Job:
    """The job for `key`: the one already queued, running or done, or a new one put on the
    queue now (a failed one is queued again; a done one too with `again_if_done`, for a caller
    who knows its result is gone)."""
    try:
        with transaction.atomic():
            job, created = Job.objects.select_for_update().get_or_create(
                key=key,
                defaults={
                    "kind": kind,
                    "title": title,
                    "organisation_id": organisation_id,
                    "started_by": actor if getattr(actor, "pk", None) else None,
                    "total": total,
                },
            )
            again = {Job.Status.FAILED} | ({Job.Status.DONE} if again_if_done else set())
            if not created and job.status not in again:
                return job
            if not created:
                Job.objects.filter(pk=job.pk).update(
                    status=Job.Status.QUEUED, done=0, total=total, message="", finished_at=None
                )
            task(job.pk, *args)
    except PortalError:
        raise
    except Exception as exc:
        # Redis down, the queue file unwritable: whatever the engine raises, nothing started.
        logger.exception("Could not queue job %s", key)
        raise PortalError(QUEUE_DOWN) from exc
    job.refresh_from_db()
    return job


def job_progress(job_id: int, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job_id).update(**fields)


def local_crontab(**when: str):
    """`crontab` read on the clock of settings.TIME_ZONE: huey hands periodic checks a naive
    UTC time when it runs with `utc` (its default), which would move 08:00 by the zone."""
    validate = crontab(**when)

    def check(timestamp: dt.datetime) -> bool:
        if HUEY.utc:
            timestamp = (
                timestamp.replace(tzinfo=dt.UTC)
                .astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
                .replace(tzinfo=None)
            )
        return validate(timestamp)

    return check


# A job that works person by person writes its progress this often, not after every person:
# the bar moves twice a second, and 5,000 people cost 25 UPDATEs instead of 5,000.
PROGRESS_EVERY_SECONDS = 0.5
PROGRESS_EVERY_STEPS = 200


class ThrottledProgress:
    """`job_progress` for a loop: `progress(done)` writes when PROGRESS_EVERY_SECONDS or
    PROGRESS_EVERY_STEPS have passed since the last write, `progress(done, final=True)`
    always."""

    def __init__(self, job_id: int, total: int) -> None:
        self.job_id, self.written = job_id, 0
        job_progress(job_id, 0, total)
        self.at = time.monotonic()

    def __call__(self, done: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if done == self.written and not final:
            return
        if (
            final
            or done - self.written >= PROGRESS_EVERY_STEPS
            or now - self.at >= PROGRESS_EVERY_SECONDS
        ):
            job_progress(self.job_id, done)
            self.written, self.at = done, now


def job_advance(job_id: int, by: int = 1) -> None:
    """One more step done; safe when parts of a job run in parallel on several workers."""
    Job.objects.filter(pk=job_id).update(done=F("done") + by)


# The task is queued inside the transaction that creates its job, so a fast worker may look
# before the row is committed; it waits this long for it before giving up on a rolled-back job.
JOB_ROW_WAIT_SECONDS = 10


def mark_running(job_id: int) -> bool:
    """Mark the job running; False when there is nothing to run (already done, or never
    committed)."""
    deadline = time.monotonic() + JOB_ROW_WAIT_SECONDS
    while True:
        pending = Job.objects.filter(pk=job_id).exclude(status=Job.Status.DONE)
        if pending.update(status=Job.Status.RUNNING, started_at=timezone.now()):
            return True
        if Job.objects.filter(pk=job_id).exists():
            return False  # done already: a second delivery of finished work
        if time.monotonic() > deadline:
            logger.warning("Job %s was never committed; its task is dropped", job_id)
            return False
        time.sleep(0.2)


def job_task(*, retries: int = 0, retry_delay: int = 0, **task_options: Any):
    """A huey task that keeps its `Job` up to date. The task function gets the job id first
    and returns the URL of its result (or "")."""

    def decorator(fn: Callable[..., str]):
        @wraps(fn)
        def run(job_id: int, *args: Any) -> None:
            if not mark_running(job_id):
                return
            try:
                result_url = fn(job_id, *args) or ""
            except RetryTask:
                raise
            except Exception as exc:
                Job.objects.filter(pk=job_id).update(
                    status=Job.Status.FAILED,
                    message=str(getattr(exc, "message", "") or exc)[:2000],
                    finished_at=timezone.now(),
                )
                raise
            Job.objects.filter(pk=job_id).update(
                status=Job.Status.DONE, result_url=result_url, finished_at=timezone.now()
            )

        return db_task(retries=retries, retry_delay=retry_delay, **task_options)(run)

    return decorator


def stalled_jobs(organisation_id: int | None, *, minutes: int = 5):
    """Jobs waiting longer than `minutes`: the worker is not taking work."""
    since = timezone.now() - dt.timedelta(minutes=minutes)
    return Job.objects.filter(status=Job.Status.QUEUED, created_at__lt=since).filter(
        organisation_id=organisation_id
    )


def requeue_job(job: Job, task: Callable[..., Any], args: tuple) -> bool:
    """Queue again a job whose worker stopped (it is running, with no sign of life): one
    conditional UPDATE lets exactly one caller take it, and the resumption is audited. The
    task must be idempotent, as every job task is."""
    with transaction.atomic():
        taken = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
            status=Job.Status.QUEUED
        )
        if not taken:
            return False
        log_action(
            None, job, "job.resumed", {"kind": job.kind}, organisation_id=job.organisation_id
        )
        task(job.pk, *args)
    return True
