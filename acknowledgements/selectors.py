"""What pages read about documents and acknowledgements: readers, reading status, progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist
from django.db.models import CharField, Count, Prefetch, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from accounts.messenger import names_vk
from accounts.models import Messenger, Organisation, Role, StudyGroup, User
from cdt_portal import outbox
from cdt_portal.audit import history
from cdt_portal.models import AuditEntry, Delivery, Job
from cdt_portal.paging import search_people
from cdt_portal.progress import Progress
from cdt_portal.reminder_schedule import people_due

from .diff import ParagraphDiff, paragraph_diff
from .models import (
    AGREEMENT_CODE,
    REGULATION_CODE,
    TRANSITIONS,
    Acknowledgement,
    Audience,
    Document,
    DocumentVersion,
    PaperOnly,
    ReminderRun,
    VersionStatus,
)

READER_ROLES = (Role.TEACHER, Role.ADMIN)


def staff(organisation: Organisation) -> QuerySet[User]:
    """The staff a document for all staff asks to read: teachers and the platform
    administrators. The director approves the documents and is not on the sheet, as in the
    seed."""
    return (
        User.objects.active_in(organisation)
        .with_role(*READER_ROLES)
        .order_by("last_name", "first_name", "patronymic")
    )


def readers(document: Document) -> QuerySet[User]:
    """The active people of the document's organisation asked to read it, by its audience."""
    people = staff(document.organisation)
    if document.audience == Audience.ROLES:
        people = (
            User.objects.active_in(document.organisation)
            .with_role(*document.audience_roles)
            .order_by("last_name", "first_name", "patronymic")
        )
    elif document.audience == Audience.GROUPS:
        taught = StudyGroup.teachers.through.objects.filter(
            studygroup__in=document.audience_groups.all()
        )
        people = people.filter(pk__in=taught.values("user_id"))
    elif document.audience == Audience.PEOPLE:
        people = people.filter(pk__in=document.audience_people.values("pk"))
    return people


def is_reader(user: User, document: Document) -> bool:
    return readers(document).filter(pk=user.pk).exists()


def read_document_ids(person: User, documents: list[Document]) -> set[int]:
    """Which of `documents` `person` is asked to read: `readers`' rule for one person across
    many documents, in two queries whatever their number, not one per document
    (`tests/acknowledgements/test_my_documents.py` holds the two to the same answer)."""
    if not person.is_active or not documents:
        return set()
    roles = person.roles
    is_staff = bool(roles.intersection(READER_ROLES))
    ids = [document.pk for document in documents]
    by_group = set(
        Document.audience_groups.through.objects.filter(
            document_id__in=ids, studygroup__teachers=person
        ).values_list("document_id", flat=True)
    )
    by_name = set(
        Document.audience_people.through.objects.filter(
            document_id__in=ids, user_id=person.pk
        ).values_list("document_id", flat=True)
    )
    named = {
        Audience.ALL_STAFF: lambda document: is_staff,
        Audience.ROLES: lambda document: bool(roles.intersection(document.audience_roles)),
        Audience.GROUPS: lambda document: is_staff and document.pk in by_group,
        Audience.PEOPLE: lambda document: is_staff and document.pk in by_name,
    }
    return {
        document.pk
        for document in documents
        if document.organisation_id == person.organisation_id and named[document.audience](document)
    }


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


def open_regulation_draft(organisation: Organisation) -> DocumentVersion | None:
    """The newest draft (or a version being approved) of the organisation's regulation."""
    return (
        DocumentVersion.objects.filter(
            document__organisation=organisation,
            document__code=REGULATION_CODE,
            status__in=(VersionStatus.DRAFT, VersionStatus.APPROVING),
        )
        .order_by("-number")
        .first()
    )


@dataclass(frozen=True)
class MessengerDraft:
    """What a change of the organisation's messenger asks of the regulation (the dashboard's
    prompt): a draft of a new version with the messenger's name replaced
    (`services.messenger_draft_create`)."""

    # The approved regulation still names VK while the messenger is MAX (or the transition),
    # and no draft of a new version exists yet.
    needed: bool
    # The open draft (or a version being approved) of the regulation, when there is one.
    draft: DocumentVersion | None


def messenger_draft(organisation: Organisation) -> MessengerDraft:
    draft, needed = None, False
    if organisation.messenger != Messenger.VK:
        draft = open_regulation_draft(organisation)
        if draft is None:
            current = current_version(organisation)
            needed = current is not None and names_vk(current.text)
    return MessengerDraft(needed=needed, draft=draft)


def counted_version_ids(version: DocumentVersion) -> list[int]:
    """The versions whose acknowledgements count for `version`: itself and, when it is an
    editorial correction, the version it corrects (and so on down a chain of corrections).
    Acknowledgements are never copied: each stays on the version the person actually read."""
    ids = [version.pk]
    current = version
    while current.editorial and current.corrects_id and current.corrects_id not in ids:
        ids.append(current.corrects_id)
        current = DocumentVersion.objects.only("pk", "editorial", "corrects").get(
            pk=current.corrects_id
        )
    return ids


def counted_acknowledgement(version: DocumentVersion, person: User) -> Acknowledgement | None:
    """The person's acknowledgement that counts for `version` (of it, or of a version it only
    corrected editorially), the newest first; None: still to read."""
    return (
        Acknowledgement.objects.filter(version__in=counted_version_ids(version), person=person)
        .select_related("version")
        .order_by("-version__number")
        .first()
    )


@dataclass(frozen=True)
class AgreementState:
    """A person and the organisation's agreement on the простая электронная подпись: the
    version in force (None: the organisation has none yet), the person's acceptance of it
    (an online acknowledgement counting for it) and whether they refused it («только на
    бумаге»)."""

    in_force: DocumentVersion | None
    accepted: Acknowledgement | None
    paper_only: bool


def agreement_state(person: User) -> AgreementState:
    in_force = current_version(person.organisation, AGREEMENT_CODE)
    accepted = None
    if in_force is not None:
        accepted = counted_acknowledgement(in_force, person)
    return AgreementState(
        in_force=in_force,
        accepted=accepted,
        paper_only=PaperOnly.objects.filter(person=person).exists(),
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
        ack = counted_acknowledgement(version, person)
    return ReadingStatus(
        version=version,
        acknowledgement=ack,
        must_read=version is not None
        and ack is None
        and version.allows("confirm")
        and is_reader(person, version.document),
    )


def pending_readers(version: DocumentVersion) -> QuerySet[User]:
    return readers(version.document).exclude(
        acknowledgements__version__in=counted_version_ids(version)
    )


def pending_email_counts(version: DocumentVersion) -> tuple[int, int]:
    """(with an e-mail, without one) of the people still to read `version`: one query."""
    counts = pending_readers(version).aggregate(
        total=Count("pk"), without=Count("pk", filter=Q(email=""))
    )
    return counts["total"] - counts["without"], counts["without"]


def is_overdue(version: DocumentVersion, today: dt.date | None = None) -> bool:
    """The version's due date has passed (those still pending are overdue)."""
    return version.read_by is not None and version.read_by < (today or timezone.localdate())


def acknowledgement_progress(
    version: DocumentVersion | None, organisation: Organisation
) -> Progress:
    """Staff who confirmed `version`, of all staff asked to read it (before any version is in
    force: of all staff)."""
    people = readers(version.document) if version is not None else staff(organisation)
    if version is None:
        return Progress(0, people.count())
    confirmed = (
        Acknowledgement.objects.filter(version__in=counted_version_ids(version), person__in=people)
        .values("person")
        .distinct()
        .count()
    )
    return Progress(confirmed, people.count())


def organisation_versions(organisation: Organisation) -> QuerySet[DocumentVersion]:
    return DocumentVersion.objects.filter(document__organisation=organisation).select_related(
        "document", "corrects"
    )


class AckFilter:
    """The acknowledgement list's status filter, as it appears in the address."""

    CONFIRMED = "confirmed"
    PENDING = "pending"
    OVERDUE = "overdue"


def acknowledgement_rows(version: DocumentVersion, *, status: str, query: str) -> QuerySet[User]:
    """Staff asked to read `version`, each with `version_acks` (their acknowledgements that
    count for it, the latest version first, or nothing) prefetched, narrowed to those who have
    or haven't confirmed (or are overdue: not confirmed after the due date), and by a search."""
    counted = counted_version_ids(version)
    acks = Prefetch(
        "acknowledgements",
        queryset=Acknowledgement.objects.filter(version__in=counted)
        .select_related("recorded_by", "version")
        .order_by("-version__number"),
        to_attr="version_acks",
    )
    people = readers(version.document).prefetch_related(acks)
    if status == AckFilter.CONFIRMED:
        people = people.filter(acknowledgements__version__in=counted).distinct()
    elif status == AckFilter.PENDING:
        people = people.exclude(acknowledgements__version__in=counted)
    elif status == AckFilter.OVERDUE:
        people = people.exclude(acknowledgements__version__in=counted)
        if not is_overdue(version):
            people = people.none()
    return search_people(people, query)


def with_acknowledgements(people) -> Iterator[tuple[User, Acknowledgement | None]]:
    """(person, acknowledgement or None) pairs from rows of `acknowledgement_rows`, as `people`
    yields them (a queryset's `iterator()` keeps a 10,000-row export streaming)."""
    for person in people:
        yield person, person.version_acks[0] if person.version_acks else None


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
    if entry.action in ("version.approved", "version.approval_started") and data.get("editorial"):
        return f"{data['order_label']}; редакционная правка: {data['editorial_reason']}"
    if entry.action == "version.approved":
        return data["order_label"]
    if entry.action == "version.deadline_set":
        new = data["read_by"][1]
        return f"срок: до {dt.date.fromisoformat(new):%d.%m.%Y}" if new else "срок снят"
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
    return job_by_key(approval_job_key(version))


def approval_failure(version: DocumentVersion, job: Job | None) -> str:
    """Why the version's last approval failed, while the failure has put it back to draft
    (the state `approval_fail` leads to); "" otherwise."""
    put_back = version.status == TRANSITIONS["approval_fail"].target
    return job.message if job and job.status == Job.Status.FAILED and put_back else ""


def last_reminder_run(version: DocumentVersion) -> ReminderRun | None:
    return ReminderRun.objects.filter(version=version).first()


def reminder_run_for_user(version: DocumentVersion, pk: int) -> ReminderRun | None:
    return ReminderRun.objects.filter(version=version, pk=pk).first()


def reminder_job(run: ReminderRun) -> Job | None:
    return job_by_key(run.job_key)


def reminder_deliveries(run: ReminderRun, *, query: str = "") -> QuerySet[Delivery]:
    """The run's letters by name, narrowed by a search over the person (as the lists are)."""
    letters = outbox.letters(run.batch).order_by(
        "person__last_name", "person__first_name", "person__patronymic", "pk"
    )
    return search_people(letters, query, prefix="person__")


def reminder_counts(run: ReminderRun) -> dict[str, int]:
    """How many letters of the run are in each state, by status value, every state present
    (counted by the database: one row per status, whatever the run's size)."""
    return dict(outbox.counts(run.batch))


def job_by_key(key: str) -> Job | None:
    return Job.objects.filter(key=key).first()


# --- what changed between versions -----------------------------------------------------------


def previous_version(version: DocumentVersion) -> DocumentVersion | None:
    """The version of the same document numbered just before this one."""
    return (
        DocumentVersion.objects.filter(document_id=version.document_id, number__lt=version.number)
        .order_by("-number")
        .first()
    )


def sibling_version(version: DocumentVersion, pk: int) -> DocumentVersion | None:
    """Another version of the same document (so of the same organisation), or None."""
    return (
        DocumentVersion.objects.filter(document_id=version.document_id, pk=pk)
        .exclude(pk=version.pk)
        .first()
    )


def document_versions(version: DocumentVersion) -> QuerySet[DocumentVersion]:
    return DocumentVersion.objects.filter(document_id=version.document_id).order_by("-number")


def version_changes(old: DocumentVersion, new: DocumentVersion) -> ParagraphDiff:
    """The paragraphs of the two versions' texts that differ, rendered, with their words
    struck and inserted (`diff.paragraph_diff`), and the title's words when it changed."""
    return paragraph_diff(old.text, new.text, old_title=old.title, new_title=new.title)


@dataclass(frozen=True)
class ChangesSinceRead:
    acknowledgement: Acknowledgement
    version: DocumentVersion  # the one the person confirmed
    diff: ParagraphDiff


def changes_since_read(person: User, version: DocumentVersion) -> ChangesSinceRead | None:
    """For a person asked to read `version`: what changed since the latest earlier version of
    the same document they confirmed, or None when they confirmed none."""
    ack = (
        Acknowledgement.objects.filter(
            person=person,
            version__document_id=version.document_id,
            version__number__lt=version.number,
        )
        .select_related("version")
        .order_by("-version__number")
        .first()
    )
    if ack is None:
        return None
    return ChangesSinceRead(ack, ack.version, version_changes(ack.version, version))


# --- scheduled reminders -----------------------------------------------------------------------


# Letters that reminded nobody, so the schedule does not count them: refused by the server, or
# recorded by a run that has not sent them yet.
NOT_REMINDED = (Delivery.Status.FAILED, Delivery.Status.PENDING)


def reminder_history(
    version: DocumentVersion, *, exclude_run: ReminderRun | None = None
) -> dict[int, tuple[int, dt.date]]:
    """Per person: how many reminders of this version they got (or were listed for, without an
    e-mail) and the day of the last one (the day of its run)."""
    runs = ReminderRun.objects.filter(version=version)
    if exclude_run is not None:
        runs = runs.exclude(pk=exclude_run.pk)
    runs = runs.annotate(
        batch_name=Concat(Value(ReminderRun.BATCH_PREFIX), Cast("pk", CharField()))
    )
    day_of = dict(runs.values_list("batch_name", "on_date"))
    # The runs' batch names (`ReminderRun.batch`) as a subquery: no list of parameters that
    # grows with the runs.
    letters = Delivery.objects.filter(
        kind=Delivery.Kind.REMINDER, batch__in=runs.values("batch_name")
    ).exclude(status__in=NOT_REMINDED)
    history_of: dict[int, tuple[int, dt.date]] = {}
    for person_id, batch in letters.values_list("person_id", "batch"):
        on_date = day_of[batch]
        count, last = history_of.get(person_id, (0, on_date))
        history_of[person_id] = (count + 1, max(last, on_date))
    return history_of


def scheduled_targets(
    version: DocumentVersion, *, on_date: dt.date, exclude_run: ReminderRun | None = None
) -> list[User]:
    """The pending readers whose scheduled reminder is due on `on_date`
    (`cdt_portal.reminder_schedule.reminder_due`). A version without a start day (approved
    before the schedule existed, and no due date set since) has none."""
    if version.reminders_from is None or not version.allows("remind"):
        return []
    return people_due(
        pending_readers(version),
        reminder_history(version, exclude_run=exclude_run),
        today=on_date,
        start=version.reminders_from,
        due=version.read_by,
    )


# Documents, plural ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentRow:
    """A document on the managers' list: its version in force (None: not approved yet), its
    open draft, and how many of the people asked to read it have."""

    document: Document
    version: DocumentVersion | None
    draft: DocumentVersion | None
    progress: Progress


def organisation_documents(organisation: Organisation) -> list[DocumentRow]:
    """Every document of the organisation, the regulation and the agreement first, then by
    title. A few queries a document: an institution has tens of acts, not thousands."""
    documents = sorted(
        Document.objects.filter(organisation=organisation),
        key=lambda d: (d.code != REGULATION_CODE, not d.is_agreement, d.title),
    )
    rows = []
    for document in documents:
        versions = list(document.versions.order_by("-number"))
        version = next((v for v in versions if v.status == VersionStatus.APPROVED), None)
        draft = next(
            (v for v in versions if v.status in (VersionStatus.DRAFT, VersionStatus.APPROVING)),
            None,
        )
        if version is not None:
            version.document = document
            progress = acknowledgement_progress(version, organisation)
        else:
            progress = Progress(0, readers(document).count())
        rows.append(DocumentRow(document, version, draft, progress))
    return rows


@dataclass(frozen=True)
class MyDocument:
    """A document a member of staff is asked to read: the version in force, their
    acknowledgement of it (None: still to read), their own due date and whether it passed."""

    document: Document
    version: DocumentVersion
    acknowledgement: Acknowledgement | None
    due: dt.date | None
    overdue: bool


def staff_since(person: User) -> dt.datetime | None:
    """When the person first got a staff role (None: before this was recorded)."""
    granted = [
        r.granted_at
        for r in person.user_roles.filter(role__in=READER_ROLES)
        if r.granted_at is not None
    ]
    return min(granted) if granted else None


def personal_due(version: DocumentVersion, since: dt.datetime | None) -> dt.date | None:
    """The person's due date for `version`: the version's own, or, for someone who joined the
    staff after it was approved and a document with a clock for new staff, that many days
    from the day they joined."""
    days = version.document.new_staff_days
    if days and since is not None and version.approved_at and since > version.approved_at:
        return timezone.localtime(since).date() + dt.timedelta(days=days)
    return version.read_by


def my_documents(person: User, *, today: dt.date | None = None) -> list[MyDocument]:
    """«Мои документы»: each document in force the person is asked to read, what they read and
    when, and by when the rest; the ones still to read first, the nearest due date first. The
    agreement on the простая электронная подпись is not among them: it is the basis of
    confirming online, shown above them (`agreement_state`)."""
    today = today or timezone.localdate()
    since = staff_since(person)
    mine = []
    versions = [
        version
        for version in DocumentVersion.objects.filter(
            document__organisation=person.organisation, status=VersionStatus.APPROVED
        ).select_related("document")
        if not version.document.is_agreement
    ]
    read = read_document_ids(person, [version.document for version in versions])
    versions = [version for version in versions if version.document_id in read]
    # The person's acknowledgements of these documents, newest version first, in one query:
    # each version takes the first that counts for it (`counted_version_ids`).
    acks = list(
        Acknowledgement.objects.filter(
            person=person, version__document__in=[version.document_id for version in versions]
        )
        .select_related("version")
        .order_by("-version__number")
    )
    for version in versions:
        counted = set(counted_version_ids(version))
        ack = next((a for a in acks if a.version_id in counted), None)
        due = personal_due(version, since)
        overdue = ack is None and due is not None and due < today
        mine.append(MyDocument(version.document, version, ack, due, overdue))
    mine.sort(key=lambda d: (d.acknowledgement is not None, d.due or dt.date.max, d.document.title))
    return mine


def other_documents_to_read(person: User) -> list[MyDocument]:
    """The acts besides the regulation the person has still to read, nearest due date first:
    the teacher's home names them under the regulation's own card."""
    return [
        item
        for item in my_documents(person)
        if item.acknowledgement is None and item.document.code != REGULATION_CODE
    ]


def overdue_by_document(organisation: Organisation) -> list[tuple[DocumentVersion, list[User]]]:
    """Each document in force past its due date, with the people who have not read it (the
    agreement has no due date to pass): the managers' weekly list of who is overdue on what
    (`portal.selectors.weekly_digest_context`). The regulation first, then by title."""
    versions = sorted(
        DocumentVersion.objects.filter(
            document__organisation=organisation,
            status=VersionStatus.APPROVED,
            read_by__lt=timezone.localdate(),
        ).select_related("document__organisation"),
        key=lambda v: (v.document.code != REGULATION_CODE, v.document.title),
    )
    overdue = []
    for version in versions:
        people = list(acknowledgement_rows(version, status=AckFilter.OVERDUE, query=""))
        if people:
            overdue.append((version, people))
    return overdue
