"""What pages read about documents and acknowledgements: readers, reading status, progress."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.models import Organisation, Role, User
from cdt_portal.progress import Progress

from .models import REGULATION_CODE, Acknowledgement, DocumentVersion, VersionStatus

READER_ROLES = (Role.TEACHER, Role.ADMIN)


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
