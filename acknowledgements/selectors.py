"""What pages read about documents and acknowledgements: readers, reading status, progress."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Prefetch, QuerySet

from accounts.models import Organisation, Role, User
from cdt_portal.audit import history
from cdt_portal.models import AuditEntry, Job
from cdt_portal.paging import search_people
from cdt_portal.progress import Progress

from .models import (
    REGULATION_CODE,
    Acknowledgement,
    DeliveryStatus,
    DocumentVersion,
    ReminderDelivery,
    ReminderRun,
    VersionStatus,
)

READER_ROLES = (Role.TEACHER, Role.ADMIN)

# Shown when someone opens the edit form of an approved version, and raised by the service
# that refuses the edit: one sentence, kept here so the two never drift apart.
NOT_EDITABLE = "Утверждённую редакцию изменить нельзя: создайте новую редакцию документа."


def readers(organisation: Organisation) -> QuerySet[User]:
    """Staff asked to read a document: teachers and the platform administrators.

    The director approves the document and is not on the sheet, as in the seed.
    """
    return (
        User.objects.active_in(organisation)
        .with_role(*READER_ROLES)
        .order_by("last_name", "first_name", "patronymic")
    )


def is_reader(user: User) -> bool:
    return user.is_active and user.has_role(*READER_ROLES)


def current_version(
    organisation: Organisation, code: str = REGULATION_CODE
) -> DocumentVersion | None:
    return (
        DocumentVersion.objects.select_related("document__organisation")
        .filter(
            document__organisation=organisation,
            document__code=code,
            status=VersionStatus.APPROVED,
        )
        .first()
    )


@dataclass(frozen=True)
class ReadingStatus:
    version: DocumentVersion | None
    acknowledgement: Acknowledgement | None
    must_read: bool


def reading_status(
    person: User, version: DocumentVersion | None = None, code: str = REGULATION_CODE
) -> ReadingStatus:
    """Whether the person still has the version (by default the current one) to read."""
    if version is None:
        version = current_version(person.organisation, code)
    ack = None
    if version is not None:
        ack = Acknowledgement.objects.filter(version=version, person=person).first()
    return ReadingStatus(
        version=version,
        acknowledgement=ack,
        must_read=version is not None
        and ack is None
        and version.status == VersionStatus.APPROVED
        and is_reader(person),
    )


def pending_readers(version: DocumentVersion) -> QuerySet[User]:
    return readers(version.document.organisation).exclude(acknowledgements__version=version)


def acknowledgement_progress(
    version: DocumentVersion | None, organisation: Organisation
) -> Progress:
    """Staff who confirmed `version`, of all staff asked to read it."""
    staff = readers(organisation)
    if version is None:
        return Progress(0, staff.count())
    return Progress(
        Acknowledgement.objects.filter(version=version, person__in=staff).count(), staff.count()
    )


def edit_refusal(version: DocumentVersion) -> str | None:
    """Why the version may not be edited, or None when it may (only a draft may)."""
    if version.status == VersionStatus.APPROVING:
        return "Редакция утверждается: изменить её нельзя."
    return None if version.is_draft else NOT_EDITABLE


def organisation_versions(organisation: Organisation) -> QuerySet[DocumentVersion]:
    return DocumentVersion.objects.filter(document__organisation=organisation).select_related(
        "document"
    )


class AckFilter:
    """The acknowledgement list's status filter, as it appears in the address."""

    CONFIRMED = "confirmed"
    PENDING = "pending"


def acknowledgement_rows(version: DocumentVersion, *, status: str, query: str) -> QuerySet[User]:
    """Staff asked to read `version`, each with `version_acks` (their acknowledgement, or
    nothing) prefetched, narrowed to those who have or haven't confirmed, and by a search."""
    acks = Prefetch(
        "acknowledgements",
        queryset=Acknowledgement.objects.filter(version=version).select_related("recorded_by"),
        to_attr="version_acks",
    )
    people = readers(version.document.organisation).prefetch_related(acks)
    if status == AckFilter.CONFIRMED:
        people = people.filter(acknowledgements__version=version)
    elif status == AckFilter.PENDING:
        people = people.exclude(acknowledgements__version=version)
    return search_people(people, query)


def with_acknowledgements(people) -> list[tuple[User, Acknowledgement | None]]:
    """(person, acknowledgement or None) pairs from rows of `acknowledgement_rows`."""
    return [(person, person.version_acks[0] if person.version_acks else None) for person in people]


def _field_label(name: str) -> str:
    try:
        return str(DocumentVersion._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a field renamed since the entry was written
        return name


def _history_note(entry: AuditEntry) -> str:
    """What the version page says under an entry, from the entry's data. Entries carried over
    from the former table of version events hold only a comment, or nothing."""
    data = entry.data or {}
    if "comment" in data:
        return data["comment"]
    if not data:
        return ""
    if entry.action == "version.approved":
        return data["order_label"]
    if entry.action == "version.superseded":
        return f"заменена редакцией {data['by_version']}"
    if entry.action == "version.edited":
        return "изменено: " + ", ".join(_field_label(field) for field in data)
    if entry.action == "version.reminded":
        note = (
            f"отправлено: {data['sent']}, без e-mail: {data['without_email']}, "
            f"ошибок: {data['failed']}"
        )
        if data.get("unconfirmed"):
            note += f", не подтверждено: {data['unconfirmed']}"
        return note
    if entry.action == "version.approval_started":
        return data["order_label"]
    if entry.action == "version.approval_failed":
        return f"приказ не сформирован: {data['reason']}"
    return ""


def version_history(version: DocumentVersion) -> list[tuple[AuditEntry, str]]:
    """The version's audit entries, oldest first, each with a note a person can read."""
    return [(entry, _history_note(entry)) for entry in history(version)]


def approval_job_key(version: DocumentVersion) -> str:
    return f"approve-v{version.pk}"


def approval_job(version: DocumentVersion) -> Job | None:
    """The job that approves (or approved, or failed to approve) the version."""
    return Job.objects.filter(key=approval_job_key(version)).first()


def last_reminder_run(version: DocumentVersion) -> ReminderRun | None:
    return ReminderRun.objects.filter(version=version).first()


def reminder_run_for_user(version: DocumentVersion, pk: int) -> ReminderRun | None:
    return ReminderRun.objects.filter(version=version, pk=pk).first()


def reminder_job(run: ReminderRun) -> Job | None:
    return Job.objects.filter(key=run.job_key).first()


def reminder_deliveries(run: ReminderRun) -> QuerySet[ReminderDelivery]:
    return run.deliveries.select_related("person").order_by(
        "person__last_name", "person__first_name", "person__patronymic"
    )


def reminder_counts(run: ReminderRun) -> dict[str, int]:
    """How many people of the run have each result, by status value."""
    counts = dict.fromkeys(DeliveryStatus.values, 0)
    for status in run.deliveries.values_list("status", flat=True):
        counts[status] += 1
    return counts


def job_by_key(key: str) -> Job | None:
    return Job.objects.filter(key=key).first()
