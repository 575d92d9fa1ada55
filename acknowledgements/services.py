"""Every state change of documents and acknowledgements: one function each, atomic, audited."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Model
from django.utils import timezone

from accounts.models import Organisation, User
from cdt_portal.audit import changes, log_action, snapshot
from cdt_portal.emails import send_templated
from cdt_portal.errors import PortalError
from cdt_portal.markup import refuse_images

from .documents import render_order
from .models import (
    EDITABLE_FIELDS,
    REGULATION_CODE,
    REGULATION_TITLE,
    AckMethod,
    Acknowledgement,
    Document,
    DocumentVersion,
    VersionStatus,
    text_sha256,
)
from .selectors import edit_refusal, is_reader, pending_readers

NOT_APPROVABLE = "Эта редакция уже утверждена или заменена: утвердить её нельзя."


def _log(actor: User | None, obj: Model, action: str, data: dict[str, Any], org_id: int) -> None:
    # A version knows its organisation only through its document, which log_action does not
    # follow; every entry here names the organisation itself.
    log_action(actor, obj, action, data, organisation_id=org_id)


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
            DocumentVersion.objects.select_for_update()
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


def version_approve(*, version: DocumentVersion, actor: User) -> DocumentVersion:
    """Approve a draft: fix its text by SHA-256, supersede the previous approved version and
    store the approved order's PDF, rendered once now and never again."""
    if version.status != VersionStatus.DRAFT:
        raise PortalError(NOT_APPROVABLE)
    # Rendered before any row is locked: for thousands of staff this takes a while, and
    # nobody else should wait for it. The state is checked again under the lock below.
    _, pdf = render_order(version)
    with transaction.atomic():
        locked = (
            DocumentVersion.objects.select_for_update()
            .select_related("document__organisation")
            .get(pk=version.pk)
        )
        if locked.status != VersionStatus.DRAFT:
            raise PortalError(NOT_APPROVABLE)
        if any(getattr(locked, f) != getattr(version, f) for f in EDITABLE_FIELDS):
            raise PortalError(
                "Черновик изменили, пока он утверждался. Проверьте его и утвердите снова."
            )
        if not locked.text.strip():
            raise PortalError("Нельзя утвердить редакцию без текста.")
        if locked.order_date > timezone.localdate():
            raise PortalError("Дата приказа не может быть позже сегодняшней.")
        previous = (
            DocumentVersion.objects.select_for_update()
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
        # An ASCII name on disk; people get the Russian filename when they download it.
        storage_name = f"order-{locked.document_id}-{locked.number}.pdf"
        locked.order_pdf.save(storage_name, ContentFile(pdf), save=False)
        locked.save(
            update_fields=["status", "text_sha256", "approved_at", "approved_by", "order_pdf"]
        )
        _log(
            actor,
            locked,
            "version.approved",
            {"order_label": locked.order_label, "text_sha256": locked.text_sha256},
            locked.document.organisation_id,
        )
    return locked


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
        existing = Acknowledgement.objects.filter(version=locked, person=person).first()
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
        if Acknowledgement.objects.filter(version=locked, person=person).exists():
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
        _log(
            recorded_by,
            ack,
            "acknowledgement.paper_recorded",
            {"person": person.pk, "paper_date": paper_date, "recorded_by": recorded_by.pk},
            version.document.organisation_id,
        )
    return ack


@dataclass(frozen=True)
class ReminderResult:
    sent: list[User]
    without_email: list[User]
    failed: list[tuple[User, str]]

    @property
    def anyone_pending(self) -> bool:
        return bool(self.sent or self.without_email or self.failed)


def reminders_send(*, version: DocumentVersion, actor: User, base_url: str) -> ReminderResult:
    """E-mail everyone who has not confirmed yet. Each message goes on its own, so one bad
    address stops nobody else's, and every failure is reported back by name."""
    _require_open(version)
    sent, without_email, failed = [], [], []
    for person in pending_readers(version):
        if not person.email:
            without_email.append(person)
            continue
        try:
            send_templated(
                "reminder",
                to=[person.email],
                context={"person": person, "version": version, "base_url": base_url},
            )
        except Exception as exc:  # SMTP errors come in many classes; all are reported
            failed.append((person, str(exc)))
        else:
            sent.append(person)
    # Written after the sending, outside any transaction: a message that went out cannot be
    # taken back, so a held lock or a rollback would protect nothing.
    _log(
        actor,
        version,
        "version.reminded",
        {"sent": len(sent), "without_email": len(without_email), "failed": len(failed)},
        version.document.organisation_id,
    )
    return ReminderResult(sent=sent, without_email=without_email, failed=failed)
