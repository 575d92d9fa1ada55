"""A document's versions: a draft is created and edited, the director approves it, and a job
renders and stores the order, then approves it (the version in force before it superseded).
Each step is allowed by the versions' transition table (`models.TRANSITIONS`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Organisation, User
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.errors import PortalError
from cdt_portal.files import store_once
from cdt_portal.jobs import job_progress, job_task, start_job
from cdt_portal.markup import refuse_images
from cdt_portal.models import Job

from ..documents import render_order
from ..models import (
    EDITABLE_FIELDS,
    REGULATION_CODE,
    REGULATION_TITLE,
    Document,
    DocumentVersion,
    VersionStatus,
)
from ..selectors import approval_job_key, current_version
from ..sheet import sheet_changed


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
    code: str = REGULATION_CODE,
) -> DocumentVersion:
    """A new draft of the organisation's document `code`, numbered after the last one. The
    regulation's document is created with its first version; every other document is added
    with its first draft (`documents.document_create`)."""
    refuse_images(text)
    with transaction.atomic():
        if code == REGULATION_CODE:
            document, created = Document.objects.get_or_create(
                organisation=organisation, code=code, defaults={"title": REGULATION_TITLE}
            )
        else:
            document, created = Document.objects.get(organisation=organisation, code=code), False
        if created:
            log_action(
                actor,
                document,
                "document.created",
                {"code": document.code, "title": document.title},
                organisation_id=organisation.pk,
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
        log_action(
            actor,
            version,
            "version.created",
            {"number": version.number},
            organisation_id=organisation.pk,
        )
    return version


def version_edit(*, version: DocumentVersion, actor: User, **new_values: Any) -> DocumentVersion:
    """Change a draft's fields. Saving what is already there changes nothing and logs nothing."""
    unknown = set(new_values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    if "text" in new_values:
        refuse_images(new_values["text"])
    with transaction.atomic():
        locked = _lock(version.pk)
        locked.require("edit")
        before = snapshot(locked, new_values)
        for field, value in new_values.items():
            setattr(locked, field, value)
        changed = changes(before, snapshot(locked, new_values))
        if changed:
            locked.save(update_fields=list(changed))
            sheet_changed(locked.pk)  # the title, the order and the approver are printed
            log_action(
                actor,
                locked,
                "version.edited",
                changed,
                organisation_id=locked.document.organisation_id,
            )
    return locked


def _lock(version_id: int) -> DocumentVersion:
    # Only the version's row: its document and organisation are read, not locked.
    return (
        DocumentVersion.objects.select_for_update(of=("self",))
        .select_related("document__organisation")
        .get(pk=version_id)
    )


# --- approval, finished by a job ---------------------------------------------------------------

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
        locked = _lock(version.pk)
        step = locked.require("approve")
        if locked.status == step.target:
            # Pressed again: the job already there (queued again if it was lost).
            _start_approval_job(locked, actor)
            return locked
        if not locked.text.strip() and not locked.source_pdf:
            raise PortalError("Нельзя утвердить редакцию без текста.")
        if locked.order_date > timezone.localdate():
            raise PortalError("Дата приказа не может быть позже сегодняшней.")
        document = locked.document
        if editorial and current_version(document.organisation, document.code) is None:
            raise PortalError(EDITORIAL_WITHOUT_PREVIOUS, field="editorial")
        locked.status = step.target
        locked.editorial = editorial
        locked.editorial_reason = editorial_reason if editorial else ""
        locked.save(update_fields=["status", "editorial", "editorial_reason"])
        data: dict[str, Any] = {"order_label": locked.order_label}
        if editorial:
            data.update(editorial=True, editorial_reason=editorial_reason)
        log_action(
            actor,
            locked,
            "version.approval_started",
            data,
            organisation_id=locked.document.organisation_id,
        )
        # Queued when this commits; if the queue refuses it, the job fails and its
        # `on_failure` (`version_approval_failed`) puts the draft back.
        _start_approval_job(locked, actor)
    locked.refresh_from_db()
    return locked


def _start_approval_job(version: DocumentVersion, actor: User) -> Job:
    return start_job(
        task=version_approval_task,
        key=approval_job_key(version),
        kind="version.approve",
        title=f"Утверждение редакции {version.number}: {version.document.title}",
        organisation_id=version.document.organisation_id,
        actor=actor,
        args=(version.pk, actor.pk),
        total=2,
    )


def _put_draft_back(job_id: int, version_id: int, actor_id: int, *, reason: str) -> None:
    version_approval_failed(
        version_id=version_id, actor=User.objects.filter(pk=actor_id).first(), reason=reason
    )


# Not retried from the jobs page: the draft is put back, and the director approves it again.
@job_task(retryable=False, on_failure=_put_draft_back)
def version_approval_task(job_id: int, version_id: int, actor_id: int) -> str:
    return version_approval_run(job_id=job_id, version_id=version_id, actor_id=actor_id)


def version_approval_run(*, job_id: int, version_id: int, actor_id: int) -> str:
    """The approval job: render and store the order once, then approve under the row lock.
    Safe to run again at any point: an approved version is left alone, a stored order is
    adopted rather than stored again. A rendering failure fails the job, and its task's
    `on_failure` (`version_approval_failed`) puts the draft back with the reason."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    actor = User.objects.get(pk=actor_id)
    # No result link: the version page that shows the progress reloads itself to show it.
    result_url = ""
    if not version.allows("approval_finish"):
        return result_url  # approved by an earlier run, or put back to draft
    name = _order_storage_name(version)
    if not (default_storage.exists(name) and _is_whole_pdf(name)):
        try:
            _, pdf = render_order(version)
        except Exception as exc:
            raise PortalError(f"Приказ не удалось сформировать: {exc}") from exc
        if default_storage.exists(name):
            # Not a whole PDF (stored by an earlier version of this code, which wrote in
            # place): replaced. `store_once` gives the name only to a whole file.
            default_storage.delete(name)
        store_once(name, pdf)  # another worker that stored it meanwhile: one file
    job_progress(job_id, 1)
    with transaction.atomic():
        locked = _lock(version_id)
        if not locked.allows("approval_finish"):
            return result_url
        previous = (
            DocumentVersion.objects.select_for_update(of=("self",))
            .select_related("document")
            .filter(document=locked.document, status=VersionStatus.APPROVED)
            .first()
        )
        if previous is not None:
            _supersede(previous, actor=actor, by=locked)
        locked.status = locked.require("approval_finish").target
        locked.text_sha256 = locked.content_sha256()
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
        sheet_changed(locked.pk)
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
        log_action(
            actor, locked, "version.approved", data, organisation_id=locked.document.organisation_id
        )
    job_progress(job_id, 2)
    return result_url


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


def _supersede(previous: DocumentVersion, *, actor: User, by: DocumentVersion) -> None:
    """Part of approving `by`: only ever called under its lock and in its transaction."""
    previous.status = previous.require("supersede").target
    previous.save(update_fields=["status"])
    log_action(
        actor,
        previous,
        "version.superseded",
        {"by_version": by.number},
        organisation_id=previous.document.organisation_id,
    )


def version_approval_failed(*, version_id: int, actor: User | None, reason: str) -> None:
    """The approval job failed (the order could not be rendered, the job could not be queued
    or kept being interrupted): the version is a draft again, the reason in its history, so
    the director can approve it again. Nothing happens to a version no longer approving."""
    with transaction.atomic():
        locked = _lock(version_id)
        if not locked.allows("approval_fail"):
            return
        locked.status = locked.require("approval_fail").target
        locked.save(update_fields=["status"])
        log_action(
            actor,
            locked,
            "version.approval_failed",
            {"reason": reason[:1000]},
            organisation_id=locked.document.organisation_id,
        )
