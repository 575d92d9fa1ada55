"""Long work runs in the background worker (huey), never inside a person's request.

How a job travels, and why nothing is lost or run twice:

- `start_job` records a `Job` (its task's name and arguments on the row) and queues the task
  **after the transaction commits** (`transaction.on_commit`), so a worker never looks for a
  row that is not there yet. If queueing then fails (Redis down, the queue file unwritable),
  the job ends failed with the reason in plain Russian, and the task's `on_failure` puts back
  whatever the action had begun. A second start with the same key (a double click, a second
  administrator) finds the job already there; a failed one is queued again.
- Each queueing is an *attempt*; the message carries it, and the worker claims the job with
  one conditional UPDATE (queued → running, that attempt only). A message of an older attempt,
  or a second delivery, finds nothing to claim and does nothing.
- While a task runs, a thread stamps the job's heartbeat every sixth of JOB_SILENCE_SECONDS
  (progress stamps it too). A job queued or running whose heartbeat is older than that, and
  of which no task waits on the queue, was lost (its worker killed, a Redis restart emptied
  the queue): `jobs_recover`, run by the worker at its start and every minute, queues it
  again as a new attempt (audited as `job.requeued`). A long job that keeps beating is never
  taken for dead; one that kills its worker JOB_MAX_ATTEMPTS times ends failed.
- A job may fan out: its task returns `CONTINUES` after queueing parts with `queue_part`;
  parts beat for the job, and whoever does the last step calls `job_finish`.

Each task must itself be idempotent (a retry or a requeue runs it again from the start): it
records what it did and checks before acting, as the services do (one outbox row per letter,
one stored file per content key).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import threading
import time
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from itertools import chain
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_task

from .audit import log_action
from .errors import PortalError
from .health import WORKER_SILENT_AFTER, last_beat
from .models import Job
from .progress import Progress

logger = logging.getLogger(__name__)

QUEUE_DOWN = (
    "Работу не удалось поставить в очередь: фоновый обработчик недоступен. Попробуйте позже "
    "или сообщите тому, кто обслуживает портал."
)
TOO_MANY_ATTEMPTS = (
    "Работа прерывалась {count} раз подряд (обработчик останавливался, не закончив её) и больше "
    "сама не запускается. Сообщите тому, кто обслуживает портал."
)
INTERNAL_ERROR = (
    "Внутренняя ошибка портала ({error}); подробности в журнале сервера. Попробуйте ещё раз "
    "или сообщите тому, кто обслуживает портал."
)
NOT_RETRYABLE = "Эту работу нельзя повторить отсюда: начните её заново там, где начинали."
NOT_FAILED = "Повторить можно только работу, которая не удалась."

# Returned by a task whose job goes on in parts (`queue_part`): the job is not done yet.
CONTINUES = object()


@dataclass(frozen=True)
class TaskInfo:
    wrapper: Any
    retryable: bool
    on_failure: Callable[..., None] | None


# Every job task by its huey name, filled as the tasks modules are imported (djhuey imports
# every app's `tasks` in the web server and the worker alike).
_JOB_TASKS: dict[str, TaskInfo] = {}
_PART_TASKS: dict[str, Any] = {}

# The job (id, attempt) the current task works for: parts queued from it carry the attempt.
_current: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar(
    "cdt_job", default=None
)


def _task_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__name__}"


def _after_commit(callback: Callable[[], None]) -> None:
    """The one place a job's task is handed to the queue from: after the transaction that
    recorded the job commits (at once outside a transaction). Tests that run jobs inline
    (huey's immediate mode) replace this to run them when queued; their delivery after commit
    is proven under the real worker (tests/jobs/test_stress.py)."""
    transaction.on_commit(callback)


def _enqueue(job_id: int, attempt: int) -> None:
    """Put the job's task on the queue; if the queue refuses, the job fails with the reason."""
    job = Job.objects.filter(pk=job_id, attempt=attempt).first()
    if job is None or job.finished:
        return
    info = _JOB_TASKS.get(job.task_name)
    try:
        if info is None:
            raise LookupError(f"no job task named {job.task_name!r}")
        info.wrapper(job_id, attempt, *job.task_args)
    except Exception as exc:
        # One line, not a traceback: the cause is the queue, named in the message.
        logger.error(
            "Could not queue job %s (%s): %s: %s", job_id, job.key, type(exc).__name__, exc
        )
        job_fail(job_id=job_id, attempt=attempt, reason=QUEUE_DOWN)


def _queue(job_id: int, attempt: int) -> None:
    _after_commit(lambda: _enqueue(job_id, attempt))


def start_job(
    *,
    task: Any,
    key: str,
    kind: str,
    title: str,
    organisation_id: int | None,
    actor: Any,
    args: tuple = (),
    total: int = 0,
    again_if_done: bool = False,
) -> Job:
    """The job for `key`: the one already queued, running or done, or a new one queued when
    the caller's transaction commits (a failed one is queued again; a done one too with
    `again_if_done`, for a caller who knows its result is gone). `task` is a `job_task`."""
    name = task.task_class.__module__ + "." + task.task_class.__name__
    if name not in _JOB_TASKS:
        raise LookupError(f"{name} is not a job_task")
    now = timezone.now()
    with transaction.atomic():
        job, created = Job.objects.select_for_update().get_or_create(
            key=key,
            defaults={
                "kind": kind,
                "title": title,
                "organisation_id": organisation_id,
                "started_by": actor if getattr(actor, "pk", None) else None,
                "total": total,
                "task_name": name,
                "task_args": list(args),
                "heartbeat_at": now,
                "progress_at": now,
            },
        )
        again = {Job.Status.FAILED} | ({Job.Status.DONE} if again_if_done else set())
        if not created and job.status not in again:
            return job
        if not created:
            Job.objects.filter(pk=job.pk).update(
                status=Job.Status.QUEUED,
                done=0,
                total=total,
                message="",
                result_url="",
                finished_at=None,
                task_name=name,
                task_args=list(args),
                attempt=F("attempt") + 1,
                requeued=0,
                heartbeat_at=now,
                progress_at=now,
            )
            job.refresh_from_db()
        _queue(job.pk, job.attempt)
    job.refresh_from_db()
    return job


# --- The worker's side ------------------------------------------------------------------------


def _beat_seconds() -> float:
    return max(1.0, settings.JOB_SILENCE_SECONDS / 6)


@contextmanager
def _heartbeat(job_id: int, attempt: int) -> Iterator[None]:
    """Stamp the job's heartbeat from a thread while its task runs, so that a long render or
    a slow SMTP server never makes a live job look lost. Not in immediate mode: there the job
    runs inside the caller, which is no worker to lose."""
    token = _current.set((job_id, attempt))
    if HUEY.immediate:
        try:
            yield
        finally:
            _current.reset(token)
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(_beat_seconds()):
                try:
                    Job.objects.filter(
                        pk=job_id, attempt=attempt, status=Job.Status.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError as exc:
                    # The database is busy or restarting: the next beat tries again on a new
                    # connection, and the silence threshold is several beats long.
                    logger.warning("Job %s: heartbeat not written: %s", job_id, exc)
                    connection.close()
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        _current.reset(token)


def _claim(job_id: int, attempt: int) -> bool:
    """Queued → running for this attempt only. Nothing to claim (done, failed, taken by an
    earlier delivery, or superseded by a newer attempt) means this message has no work."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, attempt=attempt, status=Job.Status.QUEUED).update(
        status=Job.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        state = Job.objects.filter(pk=job_id).values_list("status", "attempt").first()
        logger.info("Job %s attempt %s not run: the job is now %s", job_id, attempt, state)
    return bool(claimed)


def _reason(exc: Exception) -> str:
    if isinstance(exc, PortalError):
        return exc.message
    return INTERNAL_ERROR.format(error=type(exc).__name__)


def _run_guarded(job_id: int, attempt: int, work: Callable[[], Any]) -> Any:
    """Run a job's work; on an exception the job fails with the reason (a `PortalError` is an
    expected refusal, logged in one line; anything else keeps its traceback for the log)."""
    try:
        with _heartbeat(job_id, attempt):
            return work()
    except PortalError as exc:
        logger.info("Job %s failed: %s", job_id, exc.message)
        job_fail(job_id=job_id, attempt=attempt, reason=exc.message)
        return CONTINUES
    except (InterfaceError, OperationalError) as exc:
        # The database went away under the task (restarted mid-job): not the job's fault. It
        # is left running without a heartbeat, and `jobs_recover` runs it again once the
        # database is back (at most JOB_MAX_ATTEMPTS times, then it fails with the reason).
        logger.warning("Job %s: the database connection was lost: %s", job_id, exc)
        connection.close()
        raise
    except Exception as exc:
        reason = _reason(exc)
        _on_a_live_connection(lambda: job_fail(job_id=job_id, attempt=attempt, reason=reason))
        raise


def _on_a_live_connection(write: Callable[[], Any]) -> Any:
    """A job's last write, done again once on a new connection when the first one was dropped
    under a long task (PostgreSQL restarted meanwhile): otherwise the finished work would be
    taken for lost and done twice."""
    try:
        return write()
    except (InterfaceError, OperationalError) as exc:
        logger.warning("The database connection was lost (%s); writing again", exc)
        connection.close()
        return write()


def job_task(
    *, retryable: bool = True, on_failure: Callable[..., None] | None = None
) -> Callable[[Callable[..., Any]], Any]:
    """A huey task that runs one job: it gets the job id and its arguments, and returns the
    URL of its result ("" for none) or `CONTINUES`. `retryable`: the jobs page may queue a
    failed one again as it is. `on_failure(job_id, *args, reason=...)` puts back what the
    action began when the job ends failed (its task raised, it could not be queued, or it was
    interrupted too often)."""

    def decorator(fn: Callable[..., Any]) -> Any:
        @wraps(fn)
        def run(job_id: int, attempt: int, *args: Any) -> None:
            if not _claim(job_id, attempt):
                return
            result = _run_guarded(job_id, attempt, lambda: fn(job_id, *args))
            if result is not CONTINUES:
                _on_a_live_connection(
                    lambda: job_finish(job_id=job_id, attempt=attempt, result_url=result or "")
                )

        wrapper = db_task()(run)
        _JOB_TASKS[_task_name(fn)] = TaskInfo(wrapper, retryable, on_failure)
        return wrapper

    return decorator


def job_part_task() -> Callable[[Callable[..., Any]], Any]:
    """A huey task that does one part of a running job (queued by `queue_part`): it runs only
    while its job is running the attempt that queued it, and beats for the job."""

    def decorator(fn: Callable[..., Any]) -> Any:
        @wraps(fn)
        def run(job_id: int, attempt: int, *args: Any) -> None:
            current = Job.objects.filter(
                pk=job_id, attempt=attempt, status=Job.Status.RUNNING
            ).exists()
            if not current:
                logger.info("Part of job %s attempt %s not run: superseded", job_id, attempt)
                return
            _run_guarded(job_id, attempt, lambda: fn(job_id, *args))

        wrapper = db_task()(run)
        _PART_TASKS[_task_name(fn)] = wrapper
        return wrapper

    return decorator


def queue_part(task: Any, *args: Any) -> None:
    """Queue one part of the job the current task works for (from inside a job task)."""
    current = _current.get()
    if current is None:
        raise RuntimeError("queue_part is called from a job task only")
    job_id, attempt = current
    task(job_id, attempt, *args)


def job_finish(*, job_id: int, result_url: str, attempt: int | None = None, **fields) -> bool:
    """The job is done (for its current attempt, or the one the running task works for)."""
    if attempt is None:
        current = _current.get()
        attempt = current[1] if current else None
    jobs = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
    if attempt is not None:
        jobs = jobs.filter(attempt=attempt)
    now = timezone.now()
    return bool(
        jobs.update(
            status=Job.Status.DONE,
            result_url=result_url,
            message="",
            finished_at=now,
            heartbeat_at=now,
            **fields,
        )
    )


def job_fail(*, job_id: int, reason: str, attempt: int | None = None) -> bool:
    """The job ends failed with `reason` (for its current attempt, or the given one), and its
    task's `on_failure` puts back what the action began. False when it had already ended."""
    if attempt is None:
        current = _current.get()
        attempt = current[1] if current else None
    jobs = Job.objects.filter(pk=job_id, status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
    if attempt is not None:
        jobs = jobs.filter(attempt=attempt)
    if not jobs.update(status=Job.Status.FAILED, message=reason[:2000], finished_at=timezone.now()):
        return False
    job = Job.objects.get(pk=job_id)
    info = _JOB_TASKS.get(job.task_name)
    if info is not None and info.on_failure is not None:
        try:
            info.on_failure(job_id, *job.task_args, reason=reason)
        except Exception:
            logger.exception("Job %s: putting back after its failure failed", job_id)
    return True


def _stamp(fields: dict[str, Any]) -> dict[str, Any]:
    now = timezone.now()
    return {**fields, "heartbeat_at": now, "progress_at": now}


def job_progress(job_id: int, done: int, total: int | None = None) -> None:
    fields: dict[str, Any] = {"done": done}
    if total is not None:
        fields["total"] = total
    Job.objects.filter(pk=job_id).update(**_stamp(fields))


def job_advance(job_id: int, by: int = 1) -> None:
    """One more step done; safe when parts of a job run in parallel on several workers."""
    Job.objects.filter(pk=job_id).update(**_stamp({"done": F("done") + by}))


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


# --- Lost jobs, retries ---------------------------------------------------------------------


def job_ids_on_queue() -> set[int]:
    """The jobs that have a task waiting on the queue (or scheduled): those are not lost,
    however long they wait behind other work."""
    ids: set[int] = set()
    names = set(_JOB_TASKS) | set(_PART_TASKS)
    for task in chain(HUEY.pending(), HUEY.scheduled()):
        name = f"{type(task).__module__}.{type(task).__name__}"
        if name in names and task.args:
            ids.add(int(task.args[0]))
    return ids


def jobs_recover() -> list[int]:
    """Queue again every job that was lost: queued or running, silent for longer than
    JOB_SILENCE_SECONDS, with no task of it on the queue. One conditional UPDATE takes each
    job (two workers checking together queue it once); each requeue is audited. Returns the
    ids queued again."""
    since = timezone.now() - dt.timedelta(seconds=settings.JOB_SILENCE_SECONDS)
    silent = list(
        Job.objects.filter(status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).filter(
            Q(heartbeat_at__lt=since) | Q(heartbeat_at=None)
        )
    )
    if not silent:
        return []
    waiting = job_ids_on_queue()
    requeued = []
    for job in silent:
        if job.pk in waiting:
            continue
        if job.requeued + 1 >= settings.JOB_MAX_ATTEMPTS:
            count = job.requeued + 1
            if job_fail(
                job_id=job.pk, attempt=job.attempt, reason=TOO_MANY_ATTEMPTS.format(count=count)
            ):
                logger.error("Job %s (%s) failed after %s interruptions", job.pk, job.key, count)
            continue
        with transaction.atomic():
            taken = (
                Job.objects.filter(pk=job.pk, attempt=job.attempt, status=job.status)
                .filter(Q(heartbeat_at__lt=since) | Q(heartbeat_at=None))
                .update(
                    status=Job.Status.QUEUED,
                    attempt=F("attempt") + 1,
                    requeued=F("requeued") + 1,
                    heartbeat_at=timezone.now(),
                )
            )
            if not taken:
                continue
            silent_for = (
                int((timezone.now() - job.heartbeat_at).total_seconds())
                if job.heartbeat_at
                else None
            )
            log_action(
                None,
                job,
                "job.requeued",
                {
                    "kind": job.kind,
                    "was": job.status,
                    "attempt": job.attempt + 1,
                    "silent_seconds": silent_for,
                },
                organisation_id=job.organisation_id,
            )
            _queue(job.pk, job.attempt + 1)
        logger.warning(
            "Job %s (%s) was %s and silent for %s s: queued again",
            job.pk,
            job.key,
            job.status,
            silent_for,
        )
        requeued.append(job.pk)
    return requeued


def job_retryable(job: Job) -> bool:
    info = _JOB_TASKS.get(job.task_name)
    return job.status == Job.Status.FAILED and info is not None and info.retryable


def job_retry(*, job: Job, actor: Any) -> Job:
    """A person queues a failed job again as it was (its task is idempotent: what was done is
    not done twice). Audited as `job.retried`."""
    info = _JOB_TASKS.get(job.task_name)
    if info is None or not info.retryable:
        raise PortalError(NOT_RETRYABLE)
    now = timezone.now()
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if locked.status != Job.Status.FAILED:
            raise PortalError(NOT_FAILED)
        reason = locked.message
        locked.status = Job.Status.QUEUED
        locked.message = ""
        locked.finished_at = None
        locked.attempt += 1
        locked.requeued = 0
        locked.heartbeat_at = locked.progress_at = now
        locked.save(
            update_fields=[
                "status",
                "message",
                "finished_at",
                "attempt",
                "requeued",
                "heartbeat_at",
                "progress_at",
            ]
        )
        log_action(
            actor,
            locked,
            "job.retried",
            {"kind": locked.kind, "attempt": locked.attempt, "reason": reason[:500]},
            organisation_id=locked.organisation_id,
        )
        _queue(locked.pk, locked.attempt)
    locked.refresh_from_db()
    return locked


# --- What people see --------------------------------------------------------------------------


# Who besides its starter may follow a job: rules added by the apps that know the roles
# (`register_job_viewer` in their AppConfig.ready), so the core needs no roles of its own; any
# one rule lets the person follow the job.
_JOB_VIEWERS: list[Callable[[Any, Job], bool]] = []


def register_job_viewer(rule: Callable[[Any, Job], bool]) -> None:
    _JOB_VIEWERS.append(rule)


def may_see_job(user: Any, job: Job) -> bool:
    return job.started_by_id == getattr(user, "pk", None) or any(
        rule(user, job) for rule in _JOB_VIEWERS
    )


def job_state(job: Job) -> dict[str, Any]:
    """How far the job is, as the progress bar's script reads it (static/js/progress.js)."""
    return {
        "status": job.status,
        "status_label": job.get_status_display(),
        "title": job.title,
        "done": job.done,
        "total": job.total,
        "percent": Progress(job.done, job.total).percent,
        "finished": job.finished,
        "result_url": job.result_url,
        "message": job.message,
    }


@dataclass(frozen=True)
class JobAlert:
    level: str  # "danger" or "warning", as Bootstrap's alerts
    text: str


def job_alerts(organisation_id: int | None) -> list[JobAlert]:
    """What the dashboard warns about: a worker that stopped while the organisation's work
    waits, a job running without progress, jobs that failed in the last day."""
    now = timezone.now()
    mine = Job.objects.filter(organisation_id=organisation_id)
    alerts = []
    waiting = mine.filter(status__in=(Job.Status.QUEUED, Job.Status.RUNNING))
    beat = last_beat("worker")
    worker_down = beat is None or now - beat.at > WORKER_SILENT_AFTER
    if worker_down and waiting.filter(created_at__lt=now - WORKER_SILENT_AFTER).exists():
        alerts.append(
            JobAlert(
                "danger",
                "Фоновый обработчик не работает: начатые работы ждут его. "
                "Сообщите тому, кто обслуживает портал.",
            )
        )
    stuck_since = now - dt.timedelta(minutes=settings.JOB_STUCK_MINUTES)
    for job in waiting.filter(status=Job.Status.RUNNING, progress_at__lt=stuck_since)[:3]:
        minutes = int((now - job.progress_at).total_seconds() // 60)
        alerts.append(JobAlert("warning", f"«{job.title}» выполняется {minutes} мин без движения."))
    failed = mine.filter(status=Job.Status.FAILED, finished_at__gte=now - dt.timedelta(days=1))
    count = failed.count()
    if count:
        alerts.append(JobAlert("warning", f"Не удалось фоновых работ за сутки: {count}."))
    return alerts


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


def organisation_jobs(organisation_id: int, *, status: str = ""):
    """The organisation's jobs, newest first, for its jobs page (filtered by status)."""
    jobs = Job.objects.filter(organisation_id=organisation_id).select_related("started_by")
    if status in Job.Status.values:
        jobs = jobs.filter(status=status)
    return jobs.order_by("-created_at", "-pk")
