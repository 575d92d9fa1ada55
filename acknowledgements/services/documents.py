"""Documents, plural: the administrator or the director adds a local act (its kind, who must read
it, a due date and the clock for new staff) with its first draft; the institution's agreement on
the простая электронная подпись is added the same way from its default text. The draft is then
edited and approved like any version (`services.versions`)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import STAFF_ROLES, Organisation, StudyGroup, User
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError
from cdt_portal.files import store_once
from cdt_portal.markup import refuse_images
from cdt_portal.uploads import CheckedUpload

from ..models import (
    AGREEMENT_CODE,
    AGREEMENT_TITLE,
    Audience,
    Document,
    DocumentKind,
    DocumentVersion,
)
from ..selectors import readers

NOBODY_TO_READ = (
    "Документ некому читать: среди выбранных нет ни одного действующего сотрудника. "
    "Выберите других или «все сотрудники»."
)
# A new member of staff is given at least a day and at most a year.
NEW_STAFF_DAYS = (1, 365)


def document_create(
    *,
    organisation: Organisation,
    actor: User,
    title: str,
    kind: str,
    audience: str,
    audience_roles: list[str] | tuple = (),
    audience_groups: list[StudyGroup] | tuple = (),
    audience_people: list[User] | tuple = (),
    new_staff_days: int | None = None,
    read_by: dt.date | None = None,
    text: str,
    order_number: str,
    order_date: dt.date,
    approver_position: str,
    approver_name: str,
    source: CheckedUpload | None = None,
    source_name: str = "",
) -> DocumentVersion:
    """A new local act with its first draft: its text, or its own PDF (`source`, checked by
    `cdt_portal.uploads.check_upload`). Refused, with nothing written: no title, neither text
    nor file, an unknown kind, a second agreement, a due date in the past, people or groups of
    another organisation, an audience with no active member of staff in it."""
    title = " ".join(title.split())
    if not title:
        raise PortalError("Укажите название документа.", field="title")
    if kind not in DocumentKind.values:
        raise PortalError("Выберите вид документа.", field="kind")
    if audience not in Audience.values:
        raise PortalError("Выберите, кто знакомится с документом.", field="audience")
    if read_by is not None and read_by < timezone.localdate():
        raise PortalError(
            "Срок ознакомления не может быть раньше сегодняшнего дня.", field="read_by"
        )
    if new_staff_days is not None and not (
        NEW_STAFF_DAYS[0] <= new_staff_days <= NEW_STAFF_DAYS[1]
    ):
        raise PortalError("Срок для новых сотрудников — от 1 до 365 дней.", field="new_staff_days")
    roles = sorted(set(audience_roles)) if audience == Audience.ROLES else []
    groups = list(audience_groups) if audience == Audience.GROUPS else []
    people = list(audience_people) if audience == Audience.PEOPLE else []
    if set(roles) - set(STAFF_ROLES):
        raise PortalError("Выберите роли сотрудников.", field="audience_roles")
    if any(g.organisation_id != organisation.pk for g in groups) or any(
        p.organisation_id != organisation.pk for p in people
    ):
        raise PortalError("Можно выбрать только объединения и сотрудников вашей организации.")
    if source is not None and source.content_type != "application/pdf":
        raise PortalError("Файл документа — только PDF.", field="source_pdf")
    if not text.strip() and source is None:
        raise PortalError("Введите текст документа или приложите его файл PDF.", field="text")
    refuse_images(text)
    with transaction.atomic():
        Organisation.objects.select_for_update().get(pk=organisation.pk)  # one agreement
        if kind == DocumentKind.AGREEMENT:
            if Document.objects.filter(organisation=organisation, code=AGREEMENT_CODE).exists():
                raise PortalError(
                    "Соглашение об электронной подписи уже есть: создайте его новую редакцию.",
                    field="kind",
                )
            code = AGREEMENT_CODE
        else:
            code = f"act-{Document.objects.filter(organisation=organisation).count() + 1}"
            while Document.objects.filter(organisation=organisation, code=code).exists():
                code += "-1"
        document = Document.objects.create(
            organisation=organisation,
            code=code,
            title=title,
            kind=kind,
            audience=audience,
            audience_roles=roles,
            new_staff_days=new_staff_days,
        )
        document.audience_groups.set(groups)
        document.audience_people.set(people)
        if not readers(document).exists():
            raise PortalError(NOBODY_TO_READ, field="audience")
        stored = ""
        if source is not None:
            # Named by its content: the same file is stored once, and nothing else has its name.
            stored = f"documents/acts/{hashlib.sha256(source.content).hexdigest()}.pdf"
            store_once(stored, source.content)
        version = DocumentVersion.objects.create(
            source_pdf=stored,
            source_name=source_name[:255] if source is not None else "",
            document=document,
            number=1,
            title=title,
            text=text,
            order_number=order_number,
            order_date=order_date,
            approver_position=approver_position,
            approver_name=approver_name,
            read_by=read_by,
            created_by=actor,
        )
        log_action(
            actor,
            document,
            "document.created",
            {
                "code": code,
                "title": title,
                "kind": kind,
                "audience": audience,
                "audience_roles": roles,
                "audience_groups": sorted(g.pk for g in groups),
                "audience_people": sorted(p.pk for p in people),
                "new_staff_days": new_staff_days,
                "read_by": read_by.isoformat() if read_by else None,
                "source_pdf": stored or None,
            },
            organisation_id=organisation.pk,
        )
        log_action(
            actor,
            version,
            "version.created",
            {"number": version.number},
            organisation_id=organisation.pk,
        )
    return version


def default_agreement_text(organisation: Organisation) -> str:
    """The agreement on the простая электронная подпись with the organisation's data, for the
    administrator to check and the director to approve like any act."""
    return render_to_string("acknowledgements/agreement_default.md", {"organisation": organisation})


def agreement_create(
    *, organisation: Organisation, actor: User, order_number: str, order_date: dt.date
) -> DocumentVersion:
    """The organisation's agreement from its default text: a draft for every member of staff."""
    return document_create(
        organisation=organisation,
        actor=actor,
        title=AGREEMENT_TITLE,
        kind=DocumentKind.AGREEMENT,
        audience=Audience.ALL_STAFF,
        text=default_agreement_text(organisation),
        order_number=order_number,
        order_date=order_date,
        approver_position=organisation.head_position,
        approver_name=organisation.head_name,
    )
