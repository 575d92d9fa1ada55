"""Reading the version in force: its due date, and reminders by e-mail to those who have not
confirmed it, sent by a job (a press of «Напомнить», a retry of the unsent ones, or the daily
schedule of `cdt_portal.reminder_schedule`). A run's letters go through the portal's outbox
(`cdt_portal.outbox`, batch `ReminderRun.batch`): each is recorded `sending` before the SMTP
call, so a worker killed meanwhile never sends it twice."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists
from django.utils import timezone

from accounts.models import User
from cdt_portal import outbox
from cdt_portal.audit import log_action
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.jobs import ThrottledProgress, job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from ..models import TRANSITIONS, Acknowledgement, DocumentVersion, ReminderRun, VersionStatus
from ..selectors import (
    counted_version_ids,
    pending_readers,
    readers,
    reminder_counts,
    scheduled_targets,
)

ALREADY_READ = "ознакомление уже подтверждено"
VERSION_REPLACED = "редакция уже не действует"
NOT_A_READER = "человеку больше не нужно знакомиться с документом"
RETRY_SUPERSEDED = (
    "После этой рассылки была рассылка № {number}: повторяйте неотправленные из последней."
)


def version_set_deadline(
    *, version: DocumentVersion, actor: User, read_by: dt.date | None
) -> DocumentVersion:
    """The administrator sets (or clears, with None) the date by which staff should read the
    current version. Setting it starts the reminder schedule again from today. The same date
    again changes nothing and logs nothing."""
    today = timezone.localdate()
    if read_by is not None and read_by < today:
        raise PortalError(
            "Срок ознакомления не может быть раньше сегодняшнего дня.", field="read_by"
        )
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document")
            .get(pk=version.pk)
        )
        locked.require("set_deadline")
        if locked.read_by == read_by:
            return locked
        changed = {
            "read_by": [
                locked.read_by.isoformat() if locked.read_by else None,
                read_by.isoformat() if read_by else None,
            ]
        }
        locked.read_by = read_by
        update = ["read_by"]
        if read_by is not None:
            locked.reminders_from = today
            update.append("reminders_from")
        locked.save(update_fields=update)
        log_action(
            actor,
            locked,
            "version.deadline_set",
            changed,
            organisation_id=locked.document.organisation_id,
        )
    return locked


# --- a reminder run, sent by a job --------------------------------------------------------------

# Offered again: reminders not sent, and those whose sending was not confirmed (a worker killed
# mid-send): nothing sends those by itself, the administrator decides.
UNSENT = outbox.UNSENT
Status = Delivery.Status


def reminders_start(
    *,
    version: DocumentVersion,
    actor: User | None,
    base_url: str,
    retry_failed_of: ReminderRun | None = None,
    scheduled: bool = False,
    on_date: dt.date | None = None,
) -> ReminderRun:
    """A reminder run for everyone who has not confirmed (or, for a retry, for those whose
    reminder failed in `retry_failed_of`; for a `scheduled` one, those whose reminder is due
    on `on_date`), sent by a job. While the last run is still going, pressing again (either
    button) finds it; once it finished, pressing again starts the next run. Only the last run's
    unsent letters are retried: a later run has written to those people already, or offers
    its own unsent ones, so a second retry of the same run would write to them twice.

    A press is about the document in force: when a new version replaced `version` while the
    press was on its way (the page read it just before the approval committed), the run is for
    the new one. A retry is of its own run's version and is refused instead."""
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status == VersionStatus.SUPERSEDED and retry_failed_of is None:
            # Read after the lock: the approval that superseded it has committed by now.
            newer = (
                DocumentVersion.objects.select_for_update()
                .filter(document_id=locked.document_id, status=VersionStatus.APPROVED)
                .first()
            )
            if newer is not None:
                locked = version = newer
        locked.require("remind")
        last = ReminderRun.objects.filter(version=version).first()
        if last is not None and last.finished_at is None:
            # Its job, queued again if it failed (a queue that was down): the run goes on.
            _start_reminders_job(last, actor)
            return last
        if retry_failed_of is not None and last.pk != retry_failed_of.pk:
            raise PortalError(RETRY_SUPERSEDED.format(number=last.number))
        run = ReminderRun.objects.create(
            version=version,
            number=(last.number if last else 0) + 1,
            on_date=on_date or timezone.localdate(),
            retry_of=retry_failed_of,
            scheduled=scheduled,
            started_by=actor,
            base_url=base_url,
        )
        _start_reminders_job(run, actor)
    return run


def _start_reminders_job(run: ReminderRun, actor: User | None) -> Job:
    return start_job(
        task=reminders_task,
        key=run.job_key,
        kind="reminders",
        title=f"Напоминания об ознакомлении (рассылка {run.number})",
        organisation_id=run.version.document.organisation_id,
        actor=actor,
        args=(run.pk,),
    )


@job_task()
def reminders_task(job_id: int, run_id: int) -> str:
    return reminders_run(job_id=job_id, run_id=run_id)


def reminders_run(*, job_id: int, run_id: int) -> str:
    """The reminder job: the run's letters recorded in the outbox (one per person, those
    without an e-mail as `no_email`, all in one insert), then sent one by one over one SMTP
    connection, each claimed before the SMTP call and settled after. A person already in the
    run's batch is not recorded again and a letter no longer pending is not sent again, so
    running it again sends nobody twice. The run ends with one `version.reminded` entry with
    its counts; the letters themselves are the outbox's record (no entry each)."""
    run = ReminderRun.objects.select_related("version__document__organisation").get(pk=run_id)
    result_url = ""  # the reminders page that shows the progress reloads to show the results
    if run.finished_at is not None:
        return result_url
    batch = run.batch
    # Recorded at each start: a run started again adds whoever became due since, and nobody
    # twice. A person who confirms after being recorded is asked no more: the letter is
    # withdrawn as its turn comes.
    outbox.record(
        batch=batch,
        kind=Delivery.Kind.REMINDER,
        organisation_id=run.version.document.organisation_id,
        recipients=[Recipient(person, person.email) for person in _reminder_targets(run)],
    )
    counts = reminder_counts(run)
    total = sum(counts.values())
    progress = ThrottledProgress(job_id, total)
    # `sending` left by a stopped worker is settled (as unconfirmed) by `outbox.send` in turn.
    done = total - counts[Status.PENDING] - counts[Status.SENDING]
    progress(done)

    counted = counted_version_ids(run.version)

    in_force = DocumentVersion.objects.filter(
        pk=run.version_id, status__in=TRANSITIONS["remind"].sources
    )

    def claim(letter: Delivery) -> None:
        # Asked again as each letter's turn comes, in one query: a run retried or resumed
        # later must not remind of a replaced version, nor anyone who read it, left, or is no
        # longer asked (tests/acknowledgements/test_reminders_claim.py). Why not is looked
        # up only for a letter withdrawn.
        still_due = (
            readers(run.version.document)
            .filter(pk=letter.person_id)
            .exclude(acknowledgements__version__in=counted)
            .filter(Exists(in_force))
        )
        if still_due.exists():
            return
        letter.status = Status.WITHDRAWN
        if Acknowledgement.objects.filter(person=letter.person, version__in=counted).exists():
            letter.reason = ALREADY_READ
        elif not in_force.exists():
            letter.reason = VERSION_REPLACED
        else:
            letter.reason = NOT_A_READER

    def build(letter: Delivery):
        return build_templated(
            "reminder",
            to=[letter.email],
            context={"person": letter.person, "version": run.version, "base_url": run.base_url},
        )

    def advance() -> None:
        nonlocal done
        done += 1
        progress(done)

    outbox.send(batch=batch, build=build, on_claim=claim, progress=advance)
    progress(done, final=True)
    with transaction.atomic():
        locked = ReminderRun.objects.select_for_update().get(pk=run_id)
        if locked.finished_at is not None:
            return result_url
        counts = reminder_counts(locked)
        locked.finished_at = timezone.now()
        locked.save(update_fields=["finished_at"])
        log_action(
            locked.started_by,
            run.version,
            "version.reminded",
            {
                "run": locked.number,
                "sent": counts[Status.SENT],
                "without_email": counts[Status.NO_EMAIL],
                "failed": counts[Status.FAILED],
                "unconfirmed": counts[Status.UNCONFIRMED],
            },
            organisation_id=run.version.document.organisation_id,
        )
    return result_url


def _reminder_targets(run: ReminderRun):
    if run.scheduled:
        # Due that day; the run's own letters do not count, so running it again finds the same.
        return scheduled_targets(run.version, on_date=run.on_date, exclude_run=run)
    if run.retry_of_id:
        unsent = outbox.unsent(run.retry_of.batch)
        return pending_readers(run.version).filter(pk__in=unsent.values("person_id"))
    return pending_readers(run.version)


# --- offered again, and the daily schedule ----------------------------------------------------


def reminders_retry_failed(*, run: ReminderRun, actor: User, base_url: str) -> ReminderRun:
    """A new run for just the people whose reminder in `run` was not sent or not confirmed."""
    if run.finished_at is None:
        raise PortalError("Рассылка ещё идёт: дождитесь её окончания.")
    if not outbox.unsent(run.batch).exists():
        raise PortalError("В этой рассылке нет неотправленных напоминаний.")
    return reminders_start(version=run.version, actor=actor, base_url=base_url, retry_failed_of=run)


def reminders_due(*, base_url: str, on_date: dt.date | None = None) -> list[ReminderRun]:
    """Scheduled reminders, run daily (`tasks.scheduled_reading_reminders`): one run for each
    version one may remind about with a pending reader whose reminder is due today by
    `cdt_portal.reminder_schedule.reminder_due` (when asked, before and on the due date, then
    every few days, at most a few times). Idempotent per day: a version that already had a
    run today gets none, and nobody reminded today is due again today."""
    on_date = on_date or timezone.localdate()
    runs = []
    versions = DocumentVersion.objects.filter(
        status__in=TRANSITIONS["remind"].sources
    ).select_related("document__organisation")
    for version in versions:
        if ReminderRun.objects.filter(version=version, on_date=on_date).exists():
            continue
        if not scheduled_targets(version, on_date=on_date):
            continue
        runs.append(
            reminders_start(
                version=version, actor=None, base_url=base_url, scheduled=True, on_date=on_date
            )
        )
    return runs
