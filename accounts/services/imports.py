"""Staff lists: uploaded, read by a job (the preview), then added by a job in one transaction, or
cancelled."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError
from cdt_portal.jobs import job_progress, job_task, start_job
from cdt_portal.models import Job

from ..models import (
    ImportBatch,
    Organisation,
    Role,
    User,
    UserRole,
)
from ..staff_import import ImportRow, preview_staff_import, stored_preview
from .common import _sheets_changed, free_username, username_base

# Roles a staff list may bring in, with the words the upload page uses for them.
IMPORT_ROLES = [
    (Role.TEACHER, "педагоги"),
    (Role.STUDENT, "обучающиеся"),
    (Role.PARENT, "родители"),
]
IMPORT_MAX_BYTES = 5 * 1024 * 1024
BATCH_DONE = "Этот список уже загружен или отменён."


# --- Staff import -------------------------------------------------------------------------


def import_upload(
    *, organisation: Organisation, actor: User, filename: str, content: bytes, role: str
) -> ImportBatch:
    """Keep an uploaded list and start the job that reads it (`import_check`); the preview
    page shows «Проверяем список…» until the job has stored what it found. Queue down:
    `PortalError`, nothing is kept."""
    if role not in dict(IMPORT_ROLES):
        raise PortalError("Выберите, кого добавляет список.", field="role")
    if len(content) > IMPORT_MAX_BYTES:
        raise PortalError("Файл больше 5 МБ. Разделите список на несколько файлов.", field="file")
    if not content:
        raise PortalError("Файл пустой.", field="file")
    with transaction.atomic():
        batch = ImportBatch.objects.create(
            organisation=organisation,
            created_by=actor,
            filename=filename[:300],
            content=content,
            role=role,
        )
        log_action(actor, batch, "import.uploaded", {"filename": batch.filename, "role": role})
        start_job(
            task=check_import,
            key=f"import-check:{batch.pk}",
            kind="import",
            title=f"Проверка списка «{batch.filename}»",
            organisation_id=organisation.pk,
            actor=actor,
            args=(batch.pk,),
        )
    return batch


def import_check(*, job_id: int, batch_id: int) -> str:
    """The parse job's work: read the file and store what the preview shows (or why the file
    cannot be read). Running it again stores the same thing; a batch no longer pending is
    left alone."""
    batch = ImportBatch.objects.select_related("organisation").get(pk=batch_id)
    if batch.status != ImportBatch.Status.PENDING:
        return ""

    def progress(done: int, total: int) -> None:
        job_progress(job_id, done, total)

    try:
        preview = stored_preview(
            preview_staff_import(
                organisation=batch.organisation, content=bytes(batch.content), progress=progress
            )
        )
    except PortalError as exc:
        preview = {"error": exc.message}
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch_id)
        if locked.status != ImportBatch.Status.PENDING or locked.preview == preview:
            return ""
        locked.preview = preview
        locked.save(update_fields=["preview"])
        log_action(
            None,
            locked,
            "import.checked",
            {k: preview.get(k, "") for k in ("error", "to_add", "matches", "errors")},
            organisation_id=locked.organisation_id,
        )
    return ""


IMPORT_ROWS_WITH_ERRORS = (
    "В списке есть строки с ошибками: исправьте файл и загрузите его снова. Ничего не добавлено."
)
IMPORT_EMAIL_TAKEN = (
    "Пока вы проверяли список, один из e-mail появился у другого человека. "
    "Ничего не добавлено: откройте проверку заново."
)
IMPORT_STILL_CHECKING = "Список ещё проверяется: дождитесь конца проверки."
IMPORT_APPLYING = "Люди из этого списка уже добавляются: отменить загрузку нельзя."
IMPORT_NOT_CONFIRMED = "Добавление не подтверждено: нажмите «Добавить» ещё раз."
# People added per INSERT.
IMPORT_CHUNK = 500


def _import_apply_key(batch_pk: int) -> str:
    return f"import-apply:{batch_pk}"


def _committed_batch(pk: int) -> ImportBatch:
    """The batch as last committed, read without its row lock: the apply job holds that lock
    for as long as it adds people, and no request may wait for it."""
    return ImportBatch.objects.defer("content").get(pk=pk)


def _require_clean(preview: dict | None) -> None:
    if preview is None:
        raise PortalError(IMPORT_STILL_CHECKING)
    if preview.get("error"):
        raise PortalError(preview["error"])
    if preview.get("errors"):
        raise PortalError(IMPORT_ROWS_WITH_ERRORS)


def _start_apply_job(batch: ImportBatch, actor: User) -> Job:
    return start_job(
        task=apply_import,
        key=_import_apply_key(batch.pk),
        kind="import",
        title=f"Добавление людей из списка «{batch.filename}»",
        organisation_id=batch.organisation_id,
        actor=actor,
        args=(batch.pk,),
        total=(batch.preview or {}).get("to_add", 0),
    )


def import_apply_start(*, batch: ImportBatch, actor: User) -> Job:
    """The administrator confirms a clean preview: the batch becomes `applying` and a job adds
    the people (`import_apply_run`); the request answers at once. Pressed again while the
    people are being added: the same job (one that failed is queued again). Queue down:
    `PortalError`, the batch stays pending and no job is recorded.

    Nothing is audited here: the change is the people, recorded once as `import.applied`
    (with this actor) in the job's transaction that adds them."""
    current = _committed_batch(batch.pk)
    if current.status != ImportBatch.Status.APPLYING:
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().defer("content").get(pk=batch.pk)
            if locked.status == ImportBatch.Status.PENDING:
                _require_clean(locked.preview)
                locked.status = ImportBatch.Status.APPLYING
                locked.save(update_fields=["status"])
                # In the same transaction: a queue that is down undoes the change above.
                return _start_apply_job(locked, actor)
            if locked.status != ImportBatch.Status.APPLYING:
                raise PortalError(BATCH_DONE)
            current = locked
    return _start_apply_job(current, actor)


class _NotApplied(Exception):
    """The apply job found the file can no longer be added as it is; nothing was added."""

    def __init__(self, message: str, preview: dict | None) -> None:
        super().__init__(message)
        self.message, self.preview = message, preview


def _imported_person(batch: ImportBatch, row: ImportRow, taken: set[str]) -> User:
    return User(
        organisation=batch.organisation,
        username=free_username(
            username_base(
                last_name=row.last_name, first_name=row.first_name, patronymic=row.patronymic
            ),
            taken,
        ),
        last_name=row.last_name,
        first_name=row.first_name,
        patronymic=row.patronymic,
        position=row.position,
        email=row.email,
        phone=row.phone,
        password=make_password(None),  # no password until the invitation
    )


def _apply_locked(batch_id: int, actor: User | None) -> int | None:
    """Add the people of an `applying` batch; called in the job's one transaction. None when
    there is nothing to do (an earlier run applied it, or it was put back)."""
    locked = (
        ImportBatch.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=batch_id)
    )
    if locked.status != ImportBatch.Status.APPLYING:
        return None
    # Read again under the lock: what is added is exactly what the preview of this moment shows.
    try:
        preview = preview_staff_import(
            organisation=locked.organisation, content=bytes(locked.content)
        )
    except PortalError as exc:
        raise _NotApplied(exc.message, {"error": exc.message}) from exc
    if preview.errors:
        raise _NotApplied(IMPORT_ROWS_WITH_ERRORS, stored_preview(preview))
    total = len(preview.to_add)
    taken = {u.lower() for u in User.objects.values_list("username", flat=True)}
    try:
        with transaction.atomic():
            for start in range(0, total, IMPORT_CHUNK):
                rows = preview.to_add[start : start + IMPORT_CHUNK]
                people = User.objects.bulk_create(
                    [_imported_person(locked, row, taken) for row in rows]
                )
                UserRole.objects.bulk_create(
                    [UserRole(user=person, role=locked.role) for person in people]
                )
    except IntegrityError as exc:
        # Someone took one of these e-mails since the file was read: nobody is added.
        raise _NotApplied(IMPORT_EMAIL_TAKEN, None) from exc
    if total:
        _sheets_changed(locked.organisation_id)
    locked.status = ImportBatch.Status.APPLIED
    locked.content = b""  # the people are in the database now; the file is not kept
    locked.preview = stored_preview(preview)  # what was added, for the batch's page
    locked.save(update_fields=["status", "content", "preview"])
    log_action(
        actor,
        locked,
        "import.applied",
        {"filename": locked.filename, "role": locked.role, "count": total},
    )
    return total


def import_apply_failed(*, batch_id: int, preview: dict | None) -> None:
    """Nothing was added: the batch goes back to pending, the job's message saying why.

    Pending again, not a status of its own: the file is still there, so the administrator
    can press «Добавить» again (the failed job is queued again, and reads the file again) or
    cancel, and an abandoned list is dropped after a day like any other. When the file now
    has errors (`preview`), the page shows them, recorded as a new check by the system."""
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().defer("content").get(pk=batch_id)
        if locked.status != ImportBatch.Status.APPLYING:
            return
        locked.status = ImportBatch.Status.PENDING
        if preview is None or preview == locked.preview:
            locked.save(update_fields=["status"])
            return
        locked.preview = preview
        locked.save(update_fields=["status", "preview"])
        log_action(
            None,
            locked,
            "import.checked",
            {k: preview.get(k, "") for k in ("error", "to_add", "matches", "errors")},
            organisation_id=locked.organisation_id,
        )


def import_apply_run(*, job_id: int, batch_id: int) -> str:
    """The apply job's work: add the new people of an `applying` batch with their role, all
    in one transaction or nobody, audited once as `import.applied` by the person who pressed
    «Добавить». Running it again after it applied changes nothing. When the people cannot be
    added (the file has errors now, an e-mail was taken meanwhile, anything unexpected) the
    batch is pending again and the job fails with the reason. Returns the people list.

    The job ends done only when the batch is applied: a run that finds it put back (a stale
    second run) fails, so that pressing «Добавить» again queues the job again."""
    batch = _committed_batch(batch_id)
    # The batch's own page: it says how many were added and links to them.
    result_url = reverse("staff_import_preview", kwargs={"pk": batch_id})
    added = None
    if batch.status == ImportBatch.Status.APPLYING:
        job = Job.objects.select_related("started_by").filter(pk=job_id).first()
        actor = job.started_by if job is not None and job.started_by else batch.created_by
        # One transaction, so its progress could only be seen at its commit: the bar shows
        # «добавляются люди» until then (10,000 people take about 2 s).
        # Anything else that goes wrong puts the batch back too: the task's `on_failure`.
        try:
            with transaction.atomic():
                added = _apply_locked(batch_id, actor)
        except _NotApplied as refused:
            import_apply_failed(batch_id=batch_id, preview=refused.preview)
            raise PortalError(refused.message) from refused
    if added is not None:
        job_progress(job_id, added, added)
    elif _committed_batch(batch_id).status != ImportBatch.Status.APPLIED:
        raise PortalError(IMPORT_NOT_CONFIRMED)
    return result_url


def import_cancel(*, batch: ImportBatch, actor: User) -> None:
    """Drop a list before it is applied. Cancelling twice is harmless; an applied list can
    no longer be cancelled, nor one whose people are being added."""
    if _committed_batch(batch.pk).status == ImportBatch.Status.APPLYING:
        raise PortalError(IMPORT_APPLYING)  # at once: the apply job holds the row's lock
    with transaction.atomic():
        locked = ImportBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == ImportBatch.Status.CANCELLED:
            return
        if locked.status != ImportBatch.Status.PENDING:
            raise PortalError(BATCH_DONE)
        locked.status = ImportBatch.Status.CANCELLED
        locked.content = b""
        locked.preview = None
        locked.save(update_fields=["status", "content", "preview"])
        log_action(actor, locked, "import.cancelled", {"filename": locked.filename})


def import_expire_abandoned(*, older_than: dt.timedelta = dt.timedelta(days=1)) -> list[int]:
    """Lists left unconfirmed for longer than `older_than` are cancelled and their content
    dropped, each audited as done by the system. Run by a periodic task; running it again
    finds nothing more."""
    expired = []
    since = timezone.now() - older_than
    pks = ImportBatch.objects.filter(
        status=ImportBatch.Status.PENDING, created_at__lt=since
    ).values_list("pk", flat=True)
    for pk in list(pks):
        with transaction.atomic():
            locked = ImportBatch.objects.select_for_update().get(pk=pk)
            if locked.status != ImportBatch.Status.PENDING:
                continue
            locked.status = ImportBatch.Status.CANCELLED
            locked.content = b""
            locked.preview = None
            locked.save(update_fields=["status", "content", "preview"])
            log_action(
                None,
                locked,
                "import.expired",
                {"filename": locked.filename},
                organisation_id=locked.organisation_id,
            )
        expired.append(pk)
    return expired


# --- The jobs ---------------------------------------------------------------------------------


@job_task()
def check_import(job_id: int, batch_id: int) -> str:
    return import_check(job_id=job_id, batch_id=batch_id)


def _put_batch_back(job_id: int, batch_id: int, *, reason: str) -> None:
    import_apply_failed(batch_id=batch_id, preview=None)


# Not retried from the jobs page: a batch put back is added by «Добавить» on its own page,
# which reads the file again.
@job_task(retryable=False, on_failure=_put_batch_back)
def apply_import(job_id: int, batch_id: int) -> str:
    return import_apply_run(job_id=job_id, batch_id=batch_id)
