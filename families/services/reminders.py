"""The parents' deadlines and the reminders they start: letters of the core's outbox, sent by
one job per organisation and day."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, User
from cdt_portal import outbox
from cdt_portal.audit import log_action
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.jobs import ThrottledProgress, job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from ..actions import (
    PARENT_DEADLINE_SET,
    PARENT_REMINDED,
)
from ..models import (
    ParentDeadline,
    ParentTask,
)
from ..selectors import (
    REMINDER_KIND,
    declined_family_ids,
    parent_reminder_batch,
    parent_reminders_job_key,
    parents_due_reminder,
    pending_parents,
)


def parent_deadline_set(
    *, organisation: Organisation, actor: User, kind: str, due_date: dt.date | None
) -> ParentDeadline | None:
    """The administrator sets (or clears, with None) the date by which parents should confirm
    the notice or give the consent. Setting it starts the reminder schedule again from today;
    the same date again changes nothing and logs nothing."""
    if kind not in ParentTask.values:
        raise PortalError("Неизвестный срок.")
    today = timezone.localdate()
    if due_date is not None and due_date < today:
        raise PortalError("Срок не может быть раньше сегодняшнего дня.", field="due_date")
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)
        deadline = ParentDeadline.objects.filter(organisation=organisation, kind=kind).first()
        old = deadline.due_date.isoformat() if deadline else None
        new = due_date.isoformat() if due_date else None
        if old == new:
            return deadline
        data = {"kind": kind, "due_date": [old, new]}
        if due_date is None:
            log_action(actor, deadline, PARENT_DEADLINE_SET, data)
            deadline.delete()
            return None
        if deadline is None:
            deadline = ParentDeadline(organisation=organisation, kind=kind)
        deadline.due_date = due_date
        deadline.reminders_from = today
        deadline.save()
        log_action(actor, deadline, PARENT_DEADLINE_SET, data)
    return deadline


# The reminders: letters of the core's outbox, sent by a job per organisation and day ---------

NO_LONGER_ACTIVE = "учётная запись отключена"
# Why a letter was withdrawn as its turn came: the parent did meanwhile what it asks.
ALREADY_DONE = {
    ParentTask.NOTICE: "родитель уже ознакомился с уведомлением",
    ParentTask.CONSENT: "согласие уже дано",
}
FAMILY_DECLINES = "семья не использует «Сферум»: напоминание не нужно"


def parent_reminders_send(
    *, today: dt.date | None = None, base_url: str | None = None
) -> list[Job]:
    """The reminders to parents due `today` (`cdt_portal.reminder_schedule.reminder_due`, from
    the day the due date was set): to confirm the notice, to give the consent. Started daily
    by `tasks.scheduled_parent_reminders`: one job per organisation with a parent due (or a
    letter of the day still waiting), keyed by the day, so a second start the same day finds
    that job; the letters go through the outbox (`parent_reminders_run`). Returns the jobs."""
    today = today or timezone.localdate()
    base_url = settings.PORTAL_URL if base_url is None else base_url
    jobs = []
    deadlines = ParentDeadline.objects.select_related("organisation").order_by("pk")
    by_organisation: dict[int, list[ParentDeadline]] = {}
    for deadline in deadlines:
        by_organisation.setdefault(deadline.organisation_id, []).append(deadline)
    for organisation_id, its_deadlines in by_organisation.items():
        batches = [
            parent_reminder_batch(organisation_id, kind, today) for kind in ParentTask.values
        ]
        waiting = Delivery.objects.filter(
            batch__in=batches, status__in=(Delivery.Status.PENDING, Delivery.Status.SENDING)
        ).exists()
        if not waiting and not any(parents_due_reminder(d, today=today) for d in its_deadlines):
            continue
        jobs.append(
            start_job(
                task=send_parent_reminders,
                key=parent_reminders_job_key(organisation_id, today),
                kind="parent_reminders",
                title=f"Напоминания родителям {today:%d.%m.%Y}",
                organisation_id=organisation_id,
                actor=None,
                args=(organisation_id, today.isoformat(), base_url),
            )
        )
    return jobs


def _reminded(letter: Delivery) -> None:
    """The audit entry of one reminder, once its outcome is known (inside its row's
    transaction): sent, failed, not confirmed, or nobody to write to."""
    log_action(
        None,
        letter.person,
        PARENT_REMINDED,
        {
            "parent": letter.person_id,
            "kind": letter.data.get("kind"),
            "status": letter.status,
            "reason": letter.reason,
            "letter": letter.pk,
        },
        organisation_id=letter.organisation_id,
    )


def _record_reminders(*, deadline: ParentDeadline, today: dt.date) -> str:
    """The day's letters of one deadline in the outbox, each due parent once (a parent
    without an e-mail is a `no_email` letter, audited now: nothing more happens to it).
    Returns the batch."""
    batch = parent_reminder_batch(deadline.organisation_id, deadline.kind, today)
    due = parents_due_reminder(deadline, today=today)
    data = {
        "kind": deadline.kind,
        "on_date": today.isoformat(),
        "due_date": deadline.due_date.isoformat(),
    }
    with transaction.atomic():
        known = set(outbox.letters(batch).values_list("person_id", flat=True))
        fresh = [parent for parent in due if parent.pk not in known]
        if not fresh:
            return batch
        outbox.record(
            batch=batch,
            kind=REMINDER_KIND,
            organisation_id=deadline.organisation_id,
            recipients=[Recipient(parent, parent.email, data) for parent in fresh],
        )
        without_email = outbox.letters(batch).filter(
            status=Delivery.Status.NO_EMAIL, person__in=[p for p in fresh if not p.email]
        )
        for letter in without_email:
            _reminded(letter)
    return batch


def parent_reminders_run(*, job_id: int, organisation_id: int, on_date: str, base_url: str) -> str:
    """The job's work for one organisation and day: the due parents' letters recorded in the
    outbox (one batch per kind), then sent through it, each claimed `sending` before the SMTP
    call and settled after. Run again (a retry, a worker that was killed), it adds nobody and
    sends nothing twice: a letter that was in flight becomes «отправка не подтверждена» and is
    not sent again by itself."""
    today = dt.date.fromisoformat(on_date)
    for deadline in ParentDeadline.objects.filter(organisation_id=organisation_id).select_related(
        "organisation"
    ):
        _record_reminders(deadline=deadline, today=today)
    # Every kind's batch of the day, also one whose deadline was cleared since it was recorded:
    # its letters were promised and are sent.
    batches = [parent_reminder_batch(organisation_id, kind, today) for kind in ParentTask.values]
    letters = Delivery.objects.filter(batch__in=batches)
    total = letters.count()
    progress = ThrottledProgress(job_id, total)
    # `outbox.send` goes through the pending letters and those left `sending` (settling each),
    # calling `advance` once for each.
    done = (
        total
        - letters.filter(status__in=(Delivery.Status.PENDING, Delivery.Status.SENDING)).count()
    )
    progress(done)
    organisation = Organisation.objects.get(pk=organisation_id)

    def claim(letter: Delivery) -> None:
        # Between the record and the send (seconds, or a requeue after a kill) the parent may
        # have been switched off, done what the letter asks, or declined Sferum.
        kind = letter.data["kind"]
        if not letter.person.is_active:
            letter.status, letter.reason = Delivery.Status.FAILED, NO_LONGER_ACTIVE
        elif not pending_parents(organisation, kind).filter(pk=letter.person_id).exists():
            declined = letter.person_id in declined_family_ids(organisation)
            letter.status = Delivery.Status.WITHDRAWN
            letter.reason = FAMILY_DECLINES if declined else ALREADY_DONE[kind]

    def build(letter: Delivery):
        return build_templated(
            "parent_reminder",
            to=[letter.email],
            context={
                "organisation": organisation,
                "person": letter.person,
                "kind": letter.data["kind"],
                "due_date": dt.date.fromisoformat(letter.data["due_date"]),
                "base_url": base_url,
            },
        )

    def advance() -> None:
        nonlocal done
        done += 1
        progress(done)

    for batch in batches:
        outbox.send(
            batch=batch, build=build, on_claim=claim, on_settled=_reminded, progress=advance
        )
    progress(total, final=True)
    return ""


# No huey retries: a letter the server refused for now is tried again inside the job, and a
# job whose worker stopped is queued again by the core's `jobs_recover`.
@job_task()
def send_parent_reminders(job_id: int, organisation_id: int, on_date: str, base_url: str) -> str:
    return parent_reminders_run(
        job_id=job_id, organisation_id=organisation_id, on_date=on_date, base_url=base_url
    )
