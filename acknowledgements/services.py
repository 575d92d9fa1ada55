"""Every state change of documents and acknowledgements: one function each, atomic, audited."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Model
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.mailing import SENT, UNKNOWN, Mailer
from accounts.models import Organisation, User
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.files import store_once
from cdt_portal.jobs import (
    CONTINUES,
    ThrottledProgress,
    job_advance,
    job_finish,
    job_progress,
    queue_part,
    start_job,
)
from cdt_portal.markup import refuse_images
from cdt_portal.models import Job

from . import tasks
from .documents import (
    SheetPart,
    join_sheet,
    render_order,
    render_sheet_part,
    sheet_lookup,
    sheet_plan,
    store_whole,
    stored_sheet,
)
from .models import (
    EDITABLE_FIELDS,
    REGULATION_CODE,
    REGULATION_TITLE,
    AckMethod,
    Acknowledgement,
    DeliveryStatus,
    Document,
    DocumentVersion,
    ReminderDelivery,
    ReminderRun,
    VersionStatus,
    text_sha256,
)
from .selectors import (
    approval_job_key,
    counted_version_ids,
    current_version,
    edit_refusal,
    is_reader,
    pending_readers,
    reminder_counts,
    scheduled_targets,
)

NOT_APPROVABLE = "Эта редакция уже утверждена или заменена: утвердить её нельзя."


def _log(actor: User | None, obj: Model, action: str, data: dict[str, Any], org_id: int) -> None:
    # A version knows its organisation only through its document, which log_action does not
    # follow; every entry here names the organisation itself.
    log_action(actor, obj, action, data, organisation_id=org_id)


def _sheet_changed(version_id: int) -> None:
    """What the version's acknowledgement sheet prints has changed (in the caller's
    transaction): its stored sheet is looked up under a new key from now on
    (`documents.sheet_lookup`)."""
    DocumentVersion.objects.filter(pk=version_id).update(sheet_revision=F("sheet_revision") + 1)


def version_create(
    *,
    organisation: Organisation,
    actor: User | None,
    title: str,
    text: str,
    order_number: str,
    order_date: dt.date,
    approver_position: str,
    approver_name: str,
) -> DocumentVersion:
    """A new draft of the organisation's regulation, numbered after the last one. The
    regulation's document is created with its first version."""
    refuse_images(text)
    with transaction.atomic():
        document, created = Document.objects.get_or_create(
            organisation=organisation, code=REGULATION_CODE, defaults={"title": REGULATION_TITLE}
        )
        if created:
            _log(
                actor,
                document,
                "document.created",
                {"code": document.code, "title": document.title},
                organisation.pk,
            )
        Document.objects.select_for_update().get(pk=document.pk)  # numbers stay sequential
        last = document.versions.aggregate(n=Max("number"))["n"] or 0
        version = DocumentVersion.objects.create(
            document=document,
            number=last + 1,
            title=title,
            text=text,
            order_number=order_number,
            order_date=order_date,
            approver_position=approver_position,
            approver_name=approver_name,
            created_by=actor,
        )
        _log(actor, version, "version.created", {"number": version.number}, organisation.pk)
    return version


def version_edit(*, version: DocumentVersion, actor: User, **new_values: Any) -> DocumentVersion:
    """Change a draft's fields. Saving what is already there changes nothing and logs nothing."""
    unknown = set(new_values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    if "text" in new_values:
        refuse_images(new_values["text"])
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document")
            .get(pk=version.pk)
        )
        refusal = edit_refusal(locked)
        if refusal:
            raise PortalError(refusal)
        before = snapshot(locked, new_values)
        for field, value in new_values.items():
            setattr(locked, field, value)
        changed = changes(before, snapshot(locked, new_values))
        if changed:
            locked.save(update_fields=list(changed))
            _sheet_changed(locked.pk)  # the title, the order and the approver are printed
            _log(actor, locked, "version.edited", changed, locked.document.organisation_id)
    return locked


def _supersede(previous: DocumentVersion, *, actor: User, by: DocumentVersion) -> None:
    """Part of approving `by`: only ever called under its lock and in its transaction."""
    previous.status = VersionStatus.SUPERSEDED
    previous.save(update_fields=["status"])
    _log(
        actor,
        previous,
        "version.superseded",
        {"by_version": by.number},
        previous.document.organisation_id,
    )


EDITORIAL_REASON_REQUIRED = "Укажите, почему правка редакционная и не требует нового ознакомления."
EDITORIAL_WITHOUT_PREVIOUS = (
    "Редакционной может быть только правка действующей редакции: утверждённой редакции ещё нет."
)


def version_approve(
    *,
    version: DocumentVersion,
    actor: User,
    editorial: bool = False,
    editorial_reason: str = "",
) -> DocumentVersion:
    """The director approves a draft: it becomes `approving` and a job renders and stores the
    order, then approves it (`version_approval_run`). The request answers at once. Pressing
    again while it is approving finds the same job.

    `editorial`: a correction that does not ask staff again (a required reason, kept on the
    version and in the audit entry); whoever confirmed the version it replaces counts as
    having read it. Otherwise everyone is asked again."""
    editorial_reason = editorial_reason.strip()
    if editorial and not editorial_reason:
        raise PortalError(EDITORIAL_REASON_REQUIRED, field="editorial_reason")
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document__organisation")
            .get(pk=version.pk)
        )
        if locked.status == VersionStatus.APPROVING:
            # Pressed again: the job already there (queued again if it was lost).
            _start_approval_job(locked, actor)
            return locked
        if locked.status != VersionStatus.DRAFT:
            raise PortalError(NOT_APPROVABLE)
        if not locked.text.strip():
            raise PortalError("Нельзя утвердить редакцию без текста.")
        if locked.order_date > timezone.localdate():
            raise PortalError("Дата приказа не может быть позже сегодняшней.")
        if editorial and current_version(locked.document.organisation) is None:
            raise PortalError(EDITORIAL_WITHOUT_PREVIOUS, field="editorial")
        locked.status = VersionStatus.APPROVING
        locked.editorial = editorial
        locked.editorial_reason = editorial_reason if editorial else ""
        locked.save(update_fields=["status", "editorial", "editorial_reason"])
        data: dict[str, Any] = {"order_label": locked.order_label}
        if editorial:
            data.update(editorial=True, editorial_reason=editorial_reason)
        _log(actor, locked, "version.approval_started", data, locked.document.organisation_id)
        # Queued when this commits; if the queue refuses it, the job fails and its
        # `on_failure` (`version_approval_failed`) puts the draft back.
        _start_approval_job(locked, actor)
    locked.refresh_from_db()
    return locked


def _start_approval_job(version: DocumentVersion, actor: User) -> Job:
    return start_job(
        task=tasks.version_approval_task,
        key=approval_job_key(version),
        kind="version.approve",
        title=f"Утверждение редакции {version.number}",
        organisation_id=version.document.organisation_id,
        actor=actor,
        args=(version.pk, actor.pk),
        total=2,
    )


def _order_storage_name(version: DocumentVersion) -> str:
    # An ASCII name on disk; people get the Russian filename when they download it.
    return f"documents/orders/order-{version.document_id}-{version.number}.pdf"


def _is_whole_pdf(name: str) -> bool:
    """A stored order left by an earlier run is adopted only when it is a complete PDF (a
    worker killed while writing it leaves a truncated file)."""
    try:
        with default_storage.open(name, "rb") as stored:
            return len(PdfReader(stored, strict=True).pages) > 0
    except Exception:
        return False


def version_approval_run(*, job_id: int, version_id: int, actor_id: int) -> str:
    """The approval job: render and store the order once, then approve under the row lock.
    Safe to run again at any point: an approved version is left alone, a stored order is
    adopted rather than stored again. A rendering failure fails the job, and its task's
    `on_failure` (`version_approval_failed`) puts the draft back with the reason."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    actor = User.objects.get(pk=actor_id)
    # No result link: the version page that shows the progress reloads itself to show it.
    result_url = ""
    if version.status != VersionStatus.APPROVING:
        return result_url  # approved by an earlier run, or put back to draft
    name = _order_storage_name(version)
    if not (default_storage.exists(name) and _is_whole_pdf(name)):
        try:
            _, pdf = render_order(version)
        except Exception as exc:
            raise PortalError(f"Приказ не удалось сформировать: {exc}") from exc
        if default_storage.exists(name):
            # Not a whole PDF (stored by an earlier version of this code, which wrote in
            # place): replaced. `store_once` itself never leaves a partial file.
            default_storage.delete(name)
        store_once(name, pdf)  # another worker that stored it meanwhile: one file
    job_progress(job_id, 1)
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document__organisation")
            .get(pk=version_id)
        )
        if locked.status != VersionStatus.APPROVING:
            return result_url
        previous = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document")
            .filter(document=locked.document, status=VersionStatus.APPROVED)
            .first()
        )
        if previous is not None:
            _supersede(previous, actor=actor, by=locked)
        locked.status = VersionStatus.APPROVED
        locked.text_sha256 = text_sha256(locked.text)
        locked.approved_at = timezone.now()
        locked.approved_by = actor
        locked.order_pdf.name = name
        # An editorial correction carries over the acknowledgements of the version it replaces.
        locked.corrects = previous if locked.editorial else None
        # Scheduled reminders of the people still to read it start today.
        locked.reminders_from = timezone.localdate()
        locked.save(
            update_fields=[
                "status",
                "text_sha256",
                "approved_at",
                "approved_by",
                "order_pdf",
                "corrects",
                "reminders_from",
            ]
        )
        # The acknowledgements that count for it (`corrects`) are printed on its sheet.
        _sheet_changed(locked.pk)
        data: dict[str, Any] = {
            "order_label": locked.order_label,
            "text_sha256": locked.text_sha256,
        }
        if locked.editorial:
            data.update(
                editorial=True,
                editorial_reason=locked.editorial_reason,
                corrects=previous.number if previous else None,
            )
        _log(actor, locked, "version.approved", data, locked.document.organisation_id)
    job_progress(job_id, 2)
    return result_url


def version_approval_failed(*, version_id: int, actor: User | None, reason: str) -> None:
    """The approval job failed (the order could not be rendered, the job could not be queued
    or kept being interrupted): the version is a draft again, the reason in its history, so
    the director can approve it again. Nothing happens to a version no longer approving."""
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document")
            .get(pk=version_id)
        )
        if locked.status != VersionStatus.APPROVING:
            return
        locked.status = VersionStatus.DRAFT
        locked.save(update_fields=["status"])
        _log(
            actor,
            locked,
            "version.approval_failed",
            {"reason": reason[:1000]},
            locked.document.organisation_id,
        )


def _require_open(version: DocumentVersion) -> None:
    if version.status != VersionStatus.APPROVED:
        raise PortalError(
            "С этой редакцией знакомиться не нужно: она не утверждена или уже заменена новой."
        )


def acknowledgement_confirm(
    *,
    version: DocumentVersion,
    person: User,
    password: str,
    ip_address: str | None,
    user_agent: str,
) -> tuple[Acknowledgement, bool]:
    """The person confirms online that they have read the version. Asks for the password
    again, so that the confirmation is theirs. Confirming twice changes nothing."""
    if not person.check_password(password):
        raise PortalError("Неверный пароль. Ознакомление не записано.", field="password")
    if not is_reader(person) or person.organisation_id != version.document.organisation_id:
        raise PortalError("Вас нет в списке сотрудников, которые знакомятся с документом.")
    now = timezone.now()
    org_tz = version.document.organisation.time_zone
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        _require_open(locked)
        existing = (
            Acknowledgement.objects.filter(version__in=counted_version_ids(locked), person=person)
            .order_by("-version__number")
            .first()
        )
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                ack = Acknowledgement.objects.create(
                    version=locked,
                    person=person,
                    method=AckMethod.ONLINE,
                    acknowledged_on=timezone.localtime(now, zoneinfo.ZoneInfo(org_tz)).date(),
                    recorded_by=person,
                    ip_address=ip_address or None,
                    user_agent=user_agent[:500],
                    text_sha256=locked.text_sha256,
                )
        except IntegrityError:
            # A second click that raced this one (SQLite has no row locks) got there first.
            return Acknowledgement.objects.get(version=locked, person=person), False
        _sheet_changed(locked.pk)
        _log(
            person,
            ack,
            "acknowledgement.confirmed",
            {"person": person.pk, "version": locked.pk, "text_sha256": ack.text_sha256},
            locked.document.organisation_id,
        )
    return ack, True


def acknowledgement_record_paper(
    *,
    version: DocumentVersion,
    person: User,
    paper_date: dt.date,
    recorded_by: User,
) -> Acknowledgement:
    """The administrator records a signature made on the printed sheet."""
    if person.organisation_id != version.document.organisation_id:
        raise PortalError("Этот человек не работает в вашей организации.", field="person")
    if not is_reader(person):
        raise PortalError(
            "Этого человека нет в списке сотрудников, знакомящихся с документом.", field="person"
        )
    if paper_date > timezone.localdate():
        raise PortalError(
            "Дата на бумажном листе не может быть позже сегодняшней.", field="paper_date"
        )
    if paper_date < version.order_date:
        raise PortalError(
            f"Дата на бумажном листе не может быть раньше даты приказа "
            f"({version.order_date:%d.%m.%Y}).",
            field="paper_date",
        )
    already = f"{person.full_name} уже ознакомлен(а) с этой редакцией."
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        _require_open(locked)
        if Acknowledgement.objects.filter(
            version__in=counted_version_ids(locked), person=person
        ).exists():
            raise PortalError(already, field="person")
        try:
            with transaction.atomic():
                ack = Acknowledgement.objects.create(
                    version=locked,
                    person=person,
                    method=AckMethod.PAPER,
                    acknowledged_on=paper_date,
                    recorded_by=recorded_by,
                    text_sha256=locked.text_sha256,
                )
        except IntegrityError as exc:
            raise PortalError(already, field="person") from exc
        _sheet_changed(locked.pk)
        _log(
            recorded_by,
            ack,
            "acknowledgement.paper_recorded",
            {"person": person.pk, "paper_date": paper_date, "recorded_by": recorded_by.pk},
            version.document.organisation_id,
        )
    return ack


# --- the acknowledgement sheet, rendered by jobs ------------------------------------------------


def sheet_prepare(*, version: DocumentVersion, blank: bool, actor: User) -> Job | None:
    """Start building the sheet as it is now, or find the job already building it; None when
    the whole sheet is stored already. The job's parts run in parallel (`sheet_build`)."""
    if version.status in (VersionStatus.DRAFT, VersionStatus.APPROVING):
        raise PortalError("У черновика нет листа ознакомления.")
    # Found by its key, without building its rows; the job builds them (and counts the parts).
    lookup = sheet_lookup(version, blank=blank, fresh=True)
    if stored_sheet(lookup) is not None:
        return None
    return start_job(
        task=tasks.sheet_build_task,
        key=lookup.job_key,
        kind="sheet",
        title="Лист ознакомления" + (" (бланк)" if blank else ""),
        organisation_id=version.document.organisation_id,
        actor=actor,
        args=(version.pk, blank),
        # Nothing is stored for this key, so a job done for it left nothing to serve (its files
        # removed, or its key's index dropped by the nightly recount): build it again.
        again_if_done=True,
    )


def sheet_build(*, job_id: int, version_id: int, blank: bool) -> object:
    """The sheet job's first step: queue one part task per part not stored yet (each beats
    for the job while it renders); when none is missing, join at once. The job stays running
    until the join marks it done (`CONTINUES`). Running it again (a requeued job) queues only
    the parts still missing, under the new attempt."""
    Job.objects.filter(pk=job_id).update(message="")
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    plan = sheet_plan(version, blank=blank)
    missing = plan.missing_parts()
    job_progress(job_id, len(plan.parts) - len(missing), len(plan.parts))
    # Each part carries its own rows: a part task never rebuilds the whole sheet's plan, which
    # at 10,000 staff costs more than rendering the part's 200 rows.
    for part in missing:
        queue_part(tasks.sheet_part_task, version_id, blank, part.path, part.context)
    if not missing:
        sheet_join(job_id=job_id, version_id=version_id, blank=blank)
    return CONTINUES


def sheet_part_store(
    *, job_id: int, version_id: int, blank: bool, path: str, context: dict
) -> None:
    """One part of the sheet, rendered from the rows it was given and stored once (its path is
    named by a hash of those rows). The task that stores the last part joins."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    if not default_storage.exists(path):
        store_once(path, render_sheet_part(version, SheetPart(0, path, context), blank=blank))
    job_advance(job_id)
    job = Job.objects.filter(pk=job_id).values("done", "total").first()
    # Only when every part has reported is the plan (and what is missing) looked at again; if
    # the sheet changed meanwhile, the join builds what it shows now.
    if job is not None and job["done"] >= job["total"]:
        sheet_join(job_id=job_id, version_id=version_id, blank=blank)


# The join's claim on its job, shown to the person as what the job is doing.
SHEET_JOINING = "соединяются части листа"


def sheet_join(*, job_id: int, version_id: int, blank: bool) -> bool:
    """Join the parts once every part task has reported, and finish the job; False when it is
    not this caller's to do. The last two parts may finish together: one conditional UPDATE of
    the job row lets exactly one of them claim the join (a committed marker, so no lock is held
    while the parts are joined). A requeued job clears the marker (`sheet_build`)."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    claimed = (
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
        .exclude(message=SHEET_JOINING)
        .update(message=SHEET_JOINING)
    )
    if not claimed:
        return False
    plan = sheet_plan(version, blank=blank)
    # Someone confirmed while the parts rendered: the parts that changed are rendered here.
    for part in plan.missing_parts():
        store_once(part.path, render_sheet_part(version, part, blank=blank))
    # Stored under the key read before the rows (so the sheet may be newer than its key, never
    # older); a sheet changed since the job started is found under its new key.
    store_whole(plan, None if default_storage.exists(plan.whole_path) else join_sheet(plan))
    url = reverse("version_sheet_pdf", kwargs={"pk": version_id})
    return job_finish(
        job_id=job_id,
        result_url=url + ("?blank=1" if blank else ""),
        done=len(plan.parts),
        total=len(plan.parts),
    )


# --- reminders, sent by a job -----------------------------------------------------------------


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
    on `on_date`), sent by a job. While the last run is still going, pressing again finds it;
    once it finished, pressing again starts the next run."""
    _require_open(version)
    with transaction.atomic():
        DocumentVersion.objects.select_for_update().get(pk=version.pk)
        last = ReminderRun.objects.filter(version=version).first()
        if last is not None and last.finished_at is None and retry_failed_of is None:
            # Its job, queued again if it failed (a queue that was down): the run goes on.
            _start_reminders_job(last, actor)
            return last
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
        task=tasks.reminders_task,
        key=run.job_key,
        kind="reminders",
        title=f"Напоминания об ознакомлении (рассылка {run.number})",
        organisation_id=run.version.document.organisation_id,
        actor=actor,
        args=(run.pk,),
    )


# Offered again: reminders not sent, and those whose sending was not confirmed (a worker killed
# mid-send): nothing sends those by itself, the administrator decides.
UNSENT = (DeliveryStatus.FAILED, DeliveryStatus.UNCONFIRMED)


def reminders_retry_failed(*, run: ReminderRun, actor: User, base_url: str) -> ReminderRun:
    """A new run for just the people whose reminder in `run` was not sent or not confirmed."""
    if run.finished_at is None:
        raise PortalError("Рассылка ещё идёт: дождитесь её окончания.")
    if not run.deliveries.filter(status__in=UNSENT).exists():
        raise PortalError("В этой рассылке нет неотправленных напоминаний.")
    return reminders_start(version=run.version, actor=actor, base_url=base_url, retry_failed_of=run)


def reminders_due(*, base_url: str, on_date: dt.date | None = None) -> list[ReminderRun]:
    """Scheduled reminders, run daily (`tasks.scheduled_reading_reminders`): one run for each
    current version with a pending reader whose reminder is due today by
    `cdt_portal.reminder_schedule.reminder_due` (when asked, before and on the due date, then
    every few days, at most a few times). Idempotent per day: a version that already had a
    run today gets none, and nobody reminded today is due again today."""
    on_date = on_date or timezone.localdate()
    runs = []
    approved = DocumentVersion.objects.filter(status=VersionStatus.APPROVED).select_related(
        "document__organisation"
    )
    for version in approved:
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
        _require_open(locked)
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
        _log(actor, locked, "version.deadline_set", changed, locked.document.organisation_id)
    return locked


def _reminder_targets(run: ReminderRun):
    if run.scheduled:
        # Due that day; the run's own rows do not count, so running it again finds the same.
        return scheduled_targets(run.version, on_date=run.on_date, exclude_run=run)
    if run.retry_of_id:
        failed = run.retry_of.deliveries.filter(status__in=UNSENT)
        return pending_readers(run.version).filter(pk__in=failed.values("person_id"))
    return pending_readers(run.version)


# A run left by a stopped worker: whoever was `sending` then may have got the letter.
INTERRUPTED_SEND = "работа прервалась во время отправки; письмо могло уйти"


def _mark_interrupted(deliveries) -> None:
    """`sending` rows of a worker that stopped become unconfirmed: never sent again alone."""
    deliveries.filter(status=DeliveryStatus.SENDING).update(
        status=DeliveryStatus.UNCONFIRMED, reason=INTERRUPTED_SEND, at=timezone.now()
    )


def _record_without_email(run: ReminderRun, people: list[User]) -> None:
    """Everyone without an e-mail in one insert; a row already there (a run started again)
    stays as it is."""
    ReminderDelivery.objects.bulk_create(
        [ReminderDelivery(run=run, person=p, status=DeliveryStatus.NO_EMAIL) for p in people],
        batch_size=1000,
        ignore_conflicts=True,
    )


def _deliver(run: ReminderRun, person: User, mailer: Mailer) -> None:
    """One person's reminder, recorded before and after: `sending` is committed before the
    SMTP call, so a worker killed during it leaves a trace that is never sent again."""
    try:
        with transaction.atomic():
            delivery = ReminderDelivery.objects.create(
                run=run, person=person, status=DeliveryStatus.SENDING
            )
    except IntegrityError:
        # Recorded since this run looked: another worker on the same run has this person.
        _mark_interrupted(run.deliveries.filter(person=person))
        return
    message = build_templated(
        "reminder",
        to=[person.email],
        context={"person": person, "version": run.version, "base_url": run.base_url},
    )
    # The same delivery as invitations: temporary refusals retried with back-off, a line that
    # went quiet after the server may have taken the letter recorded as unconfirmed.
    result = mailer.send(message)
    status = {
        SENT: DeliveryStatus.SENT,
        UNKNOWN: DeliveryStatus.UNCONFIRMED,
    }.get(result.outcome, DeliveryStatus.FAILED)
    reason, attempts = result.error, result.attempts
    ReminderDelivery.objects.filter(pk=delivery.pk).update(
        status=status, reason=reason[:2000], attempts=attempts, at=timezone.now()
    )


def reminders_run(*, job_id: int, run_id: int) -> str:
    """The reminder job: one e-mail per person, each recorded before the next; a person
    already recorded in this run is skipped, so running it again sends nobody twice. The
    people without an e-mail are recorded together first, the letters go through one SMTP
    connection. The run ends with one `version.reminded` entry with its counts."""
    run = ReminderRun.objects.select_related("version__document__organisation").get(pk=run_id)
    result_url = ""  # the reminders page that shows the progress reloads to show the results
    if run.finished_at is not None:
        return result_url
    people = list(_reminder_targets(run))
    # A retry run's targets stop being pending once they confirm; the recorded ones stay counted.
    recorded = set(run.deliveries.values_list("person_id", flat=True))
    total = len(people) + len(recorded - {p.pk for p in people})
    progress = ThrottledProgress(job_id, total)
    _mark_interrupted(run.deliveries.all())
    fresh = [p for p in people if p.pk not in recorded]
    _record_without_email(run, [p for p in fresh if not p.email])
    to_send = [p for p in fresh if p.email]
    done = total - len(to_send)
    progress(done)
    with Mailer() as mailer:
        for person in to_send:
            _deliver(run, person, mailer)
            done += 1
            progress(done)
    progress(done, final=True)
    with transaction.atomic():
        locked = ReminderRun.objects.select_for_update().get(pk=run_id)
        if locked.finished_at is not None:
            return result_url
        counts = reminder_counts(locked)
        locked.finished_at = timezone.now()
        locked.save(update_fields=["finished_at"])
        _log(
            locked.started_by,
            run.version,
            "version.reminded",
            {
                "run": locked.number,
                "sent": counts[DeliveryStatus.SENT],
                "without_email": counts[DeliveryStatus.NO_EMAIL],
                "failed": counts[DeliveryStatus.FAILED],
                "unconfirmed": counts[DeliveryStatus.UNCONFIRMED],
            },
            run.version.document.organisation_id,
        )
    return result_url
