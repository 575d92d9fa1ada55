"""Every state change of documents and acknowledgements: one function each, atomic, logged."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User

from .models import (
    AckMethod,
    Acknowledgement,
    Document,
    DocumentVersion,
    VersionEvent,
    VersionStatus,
    text_sha256,
)
from .selectors import is_reader, pending_readers


class DocumentError(Exception):
    """A refused change; the message is shown to the person as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _log(version: DocumentVersion, action: str, actor: User | None, comment: str = "") -> None:
    VersionEvent.objects.create(version=version, action=action, actor=actor, comment=comment)


def version_create(
    *,
    document: Document,
    actor: User | None,
    title: str,
    text: str,
    order_number: str,
    order_date: dt.date,
    approver_position: str,
    approver_name: str,
) -> DocumentVersion:
    with transaction.atomic():
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
        _log(version, VersionEvent.Action.CREATED, actor)
    return version


EDITABLE_FIELDS = (
    "title",
    "text",
    "order_number",
    "order_date",
    "approver_position",
    "approver_name",
)


def version_edit(*, version: DocumentVersion, actor: User, **changes) -> DocumentVersion:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {sorted(unknown)}")
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status != VersionStatus.DRAFT:
            raise DocumentError(
                "Утверждённую редакцию изменить нельзя: создайте новую редакцию документа."
            )
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save(update_fields=list(changes))
        _log(locked, VersionEvent.Action.EDITED, actor)
    return locked


def version_supersede(*, version: DocumentVersion, actor: User, by: DocumentVersion) -> None:
    if version.status != VersionStatus.APPROVED:
        raise DocumentError("Заменить можно только утверждённую редакцию.")
    version.status = VersionStatus.SUPERSEDED
    version.save(update_fields=["status"])
    _log(version, VersionEvent.Action.SUPERSEDED, actor, f"заменена редакцией {by.number}")


def version_approve(*, version: DocumentVersion, actor: User) -> DocumentVersion:
    """Approve a draft: fix its text by SHA-256, supersede the previous approved version and
    store the approved order's PDF, rendered once now and never again."""
    from .documents import render_order

    if version.status != VersionStatus.DRAFT:
        raise DocumentError("Эта редакция уже утверждена или заменена: утвердить её нельзя.")
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
            raise DocumentError("Эта редакция уже утверждена или заменена: утвердить её нельзя.")
        if any(getattr(locked, f) != getattr(version, f) for f in EDITABLE_FIELDS):
            raise DocumentError(
                "Черновик изменили, пока он утверждался. Проверьте его и утвердите снова."
            )
        if not locked.text.strip():
            raise DocumentError("Нельзя утвердить редакцию без текста.")
        if locked.order_date > timezone.localdate():
            raise DocumentError("Дата приказа не может быть позже сегодняшней.")
        previous = (
            DocumentVersion.objects.select_for_update()
            .filter(document=locked.document, status=VersionStatus.APPROVED)
            .first()
        )
        if previous is not None:
            version_supersede(version=previous, actor=actor, by=locked)
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
        _log(locked, VersionEvent.Action.APPROVED, actor, locked.order_label)
    return locked


def _require_open(version: DocumentVersion) -> None:
    if version.status != VersionStatus.APPROVED:
        raise DocumentError(
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
        raise DocumentError("Неверный пароль. Ознакомление не записано.")
    if not is_reader(person) or person.organisation_id != version.document.organisation_id:
        raise DocumentError("Вас нет в списке сотрудников, которые знакомятся с документом.")
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
        raise DocumentError("Этот человек не работает в вашей организации.")
    if not is_reader(person):
        raise DocumentError("Этого человека нет в списке сотрудников, знакомящихся с документом.")
    if paper_date > timezone.localdate():
        raise DocumentError("Дата на бумажном листе не может быть позже сегодняшней.")
    if paper_date < version.order_date:
        raise DocumentError(
            f"Дата на бумажном листе не может быть раньше даты приказа "
            f"({version.order_date:%d.%m.%Y})."
        )
    with transaction.atomic():
        locked = DocumentVersion.objects.select_for_update().get(pk=version.pk)
        _require_open(locked)
        if Acknowledgement.objects.filter(version=locked, person=person).exists():
            raise DocumentError(f"{person.full_name} уже ознакомлен(а) с этой редакцией.")
        try:
            with transaction.atomic():
                return Acknowledgement.objects.create(
                    version=locked,
                    person=person,
                    method=AckMethod.PAPER,
                    acknowledged_on=paper_date,
                    recorded_by=recorded_by,
                    text_sha256=locked.text_sha256,
                )
        except IntegrityError as exc:
            raise DocumentError(f"{person.full_name} уже ознакомлен(а) с этой редакцией.") from exc


@dataclass(frozen=True)
class ReminderResult:
    sent: list[User]
    without_email: list[User]
    failed: list[tuple[User, str]]


def reminders_send(*, version: DocumentVersion, actor: User, base_url: str) -> ReminderResult:
    """E-mail everyone who has not confirmed yet. Each message goes on its own, so one bad
    address stops nobody else's, and every failure is reported back by name."""
    from cdt_portal.emails import send_templated

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
    _log(
        version,
        VersionEvent.Action.REMINDED,
        actor,
        f"отправлено: {len(sent)}, без e-mail: {len(without_email)}, ошибок: {len(failed)}",
    )
    return ReminderResult(sent=sent, without_email=without_email, failed=failed)
