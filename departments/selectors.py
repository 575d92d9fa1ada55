"""What a department sees: the rollout numbers of its institutions, their administrators'
names and contacts, and its messages with who has read them. Never an institution's people:
nothing here returns a staff member, student or parent, only counts of them.

The list of institutions is built from one grouped query per kind of number, whatever the
number of institutions or people (`institution_rows`); the same numbers for one institution
come from `onboarding.selectors.rollout_summary`, and a test holds the two equal.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from accounts.models import (
    Department,
    Messenger,
    Organisation,
    Role,
    StudyGroup,
    User,
    UserRole,
)
from acknowledgements.models import REGULATION_CODE, Acknowledgement, DocumentVersion, VersionStatus
from acknowledgements.selectors import READER_ROLES
from cdt_portal import outbox
from cdt_portal.models import Delivery, Job
from cdt_portal.numbers import NumbersCounter, counted_each, newest_entry
from cdt_portal.paging import contains_any_case
from cdt_portal.progress import Progress
from families.models import (
    ConsentRecord,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    ParentTask,
)
from families.selectors import NoticeCounts
from onboarding.models import RegistrationRequest, RequestStatus, SferumStatus, TeacherSferumStatus
from onboarding.selectors import RolloutSummary, dashboard_numbers

from .models import DepartmentMessage, MessageReceipt


def department_of(user: User) -> Department:
    """The signed-in person's department (the views let in only people who have one)."""
    return user.department


def institution_for(department: Department, slug: str) -> Organisation:
    """An institution under the department; any other is 404, as if it did not exist."""
    try:
        return Organisation.objects.get(department=department, slug=slug)
    except Organisation.DoesNotExist as exc:
        raise Http404("Нет такой организации") from exc


@dataclass(frozen=True)
class InstitutionPage:
    """An institution's page as its department sees it: the dashboard's numbers, and of its
    people only the platform administrators (names and contacts)."""

    organisation: Organisation
    summary: RolloutSummary
    notices: NoticeCounts
    administrators: list[User]


def institution_page(department: Department, slug: str) -> InstitutionPage:
    organisation = institution_for(department, slug)
    numbers = dashboard_numbers(organisation)
    return InstitutionPage(
        organisation=organisation,
        summary=numbers.summary,
        notices=numbers.notices,
        administrators=list(numbers.summary.administrators),
    )


@dataclass
class InstitutionRow:
    organisation: Organisation | None = None  # set when the row is shown (rows are kept)
    registration_status: str = ""  # RequestStatus value, "" when no request was started
    registration_label: str = "не начата"
    registration_date: dt.date | None = None
    staff: Progress = field(default_factory=lambda: Progress(0, 0))
    teachers: Progress = field(default_factory=lambda: Progress(0, 0))
    groups: Progress = field(default_factory=lambda: Progress(0, 0))
    parents: Progress = field(default_factory=lambda: Progress(0, 0))
    consents: Progress = field(default_factory=lambda: Progress(0, 0))
    read_by: dt.date | None = None  # the regulation's due date for the staff
    staff_overdue: int = 0
    # The parents' tasks whose due date has passed with someone still pending.
    parents_overdue: list[str] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return bool(self.staff_overdue or self.parents_overdue)

    @property
    def messenger_label(self) -> str:
        """The institution's messenger: «VK», «переход до DD.MM.YYYY» or «MAX» (its wording,
        as every messenger sentence, is accounts.messenger's)."""
        return self.organisation.messenger_texts.label


# The messenger filter's choices (GET `messenger`), in the order the column sorts them: from
# VK, through the transition (the nearest end first), to MAX.
MESSENGER_FILTERS = {
    Messenger.VK: "VK",
    Messenger.TRANSITION: "переход на MAX",
    Messenger.MAX: "MAX",
}
MESSENGER_ORDER = {state: n for n, state in enumerate(MESSENGER_FILTERS)}


def _messenger_key(row: InstitutionRow) -> tuple[int, dt.date]:
    organisation = row.organisation
    return (
        MESSENGER_ORDER.get(organisation.messenger, len(MESSENGER_ORDER)),
        organisation.max_only_from or dt.date.max,
    )


# The columns a department may sort by, and how (ties: the institution's name).
SORT_KEYS = {
    "name": lambda row: row.organisation.short_name.lower(),
    "messenger": _messenger_key,
    "registration": lambda row: REGISTRATION_ORDER.get(row.registration_status, -1),
    "staff": lambda row: row.staff.percent,
    "teachers": lambda row: row.teachers.percent,
    "groups": lambda row: row.groups.percent,
    "parents": lambda row: row.parents.percent,
    "consents": lambda row: row.consents.percent,
    "overdue": lambda row: row.staff_overdue + len(row.parents_overdue),
}
REGISTRATION_ORDER = {
    RequestStatus.CANCELLED: 0,
    RequestStatus.DRAFT: 1,
    RequestStatus.AWAITING_SIGNATURE: 2,
    RequestStatus.READY: 3,
    RequestStatus.RETURNED: 4,
    RequestStatus.UNCONFIRMED: 5,
    RequestStatus.SENT: 6,
    RequestStatus.REGISTERED: 7,
}


def _role(role_or_roles) -> Exists:
    roles = role_or_roles if isinstance(role_or_roles, tuple) else (role_or_roles,)
    return Exists(UserRole.objects.filter(user=OuterRef("pk"), role__in=roles))


def _grouped(queryset, key: str, **aggregates) -> dict[int, dict]:
    return {row[key]: row for row in queryset.values(key).annotate(**aggregates).order_by()}


def _registration_date(request: RegistrationRequest) -> dt.date:
    if request.status == RequestStatus.REGISTERED and request.registered_on:
        return request.registered_on
    if request.sent_at and request.status not in (RequestStatus.DRAFT, RequestStatus.CANCELLED):
        return timezone.localdate(request.sent_at)
    return timezone.localdate(request.created_at)


def _counted_versions(versions: list[dict]) -> dict[int, tuple[dict, list[int]]]:
    """Per organisation: its regulation in force and the versions whose acknowledgements count
    for it (itself and the versions an editorial correction corrects), as
    `acknowledgements.selectors.counted_version_ids` counts them, from one list of rows."""
    by_pk = {v["pk"]: v for v in versions}
    result = {}
    for version in versions:
        if version["status"] != VersionStatus.APPROVED:
            continue
        ids = [version["pk"]]
        current = version
        while current["editorial"] and current["corrects_id"] in by_pk:
            if current["corrects_id"] in ids:
                break
            ids.append(current["corrects_id"])
            current = by_pk[current["corrects_id"]]
        result[version["document__organisation_id"]] = (version, ids)
    return result


def institution_rows(
    department: Department, *, query: str = "", sort: str = "name", messenger: str = ""
) -> list[InstitutionRow]:
    """Every institution under the department with its numbers, found by name, only those in
    the messenger state `messenger` when it is one of `MESSENGER_FILTERS` (any other value
    filters nothing), and sorted by a column of `SORT_KEYS` (a leading «-» reverses it). Each
    institution's numbers are kept until it changes (`cdt_portal.numbers.counted_each`): one
    query when none has changed, eleven when any has, whatever the size. The messenger comes
    with the institution itself, in the same query."""
    organisations = Organisation.objects.filter(department=department)
    if messenger in MESSENGER_FILTERS:
        organisations = organisations.filter(messenger=messenger)
    for word in query.split():
        organisations = organisations.filter(
            contains_any_case("short_name", word) | contains_any_case("full_name", word)
        )
    organisations = list(
        organisations.annotate(head=newest_entry()).only(
            "pk", "slug", "short_name", "full_name", "messenger", "max_only_from"
        )
    )
    counted = counted_each(
        {o.pk: o.head for o in organisations}, INSTITUTION_ROW, _institution_numbers
    )
    rows = []
    for organisation in organisations:
        row = counted[organisation.pk]
        row.organisation = organisation
        rows.append(row)
    return sort_rows(rows, sort)


def _institution_numbers(ids: list[int]) -> dict[int, InstitutionRow]:
    """The numbers of the institutions `ids`: one grouped query per kind of number."""
    today = timezone.localdate()
    rows = {pk: InstitutionRow() for pk in ids}
    people = User.objects.filter(organisation_id__in=ids, is_active=True)
    totals = _grouped(
        people,
        "organisation_id",
        readers=Count("pk", filter=Q(_role(READER_ROLES))),
        teachers=Count("pk", filter=Q(_role(Role.TEACHER))),
        parents=Count("pk", filter=Q(_role(Role.PARENT))),
        students=Count("pk", filter=Q(_role(Role.STUDENT))),
    )

    versions = _counted_versions(
        list(
            DocumentVersion.objects.filter(
                document__organisation_id__in=ids, document__code=REGULATION_CODE
            ).values(
                "pk", "status", "editorial", "corrects_id", "read_by", "document__organisation_id"
            )
        )
    )
    counted = [pk for _version, pks in versions.values() for pk in pks]
    confirmed = _grouped(
        Acknowledgement.objects.filter(version_id__in=counted, person__is_active=True).filter(
            Exists(UserRole.objects.filter(user=OuterRef("person"), role__in=READER_ROLES))
        ),
        "person__organisation_id",
        n=Count("person", distinct=True),
    )
    verified = _grouped(
        TeacherSferumStatus.objects.filter(
            status=SferumStatus.VERIFIED,
            person__organisation_id__in=ids,
            person__is_active=True,
        ).filter(Exists(UserRole.objects.filter(user=OuterRef("person"), role=Role.TEACHER))),
        "person__organisation_id",
        n=Count("pk"),
    )
    groups = _grouped(
        StudyGroup.objects.filter(organisation_id__in=ids),
        "organisation_id",
        total=Count("pk"),
        with_link=Count("pk", filter=~Q(chat_invite_link="") | ~Q(max_invite_link="")),
    )

    notices: dict[int, int] = {}
    for notice in ParentNotice.objects.filter(organisation_id__in=ids).values(
        "pk", "organisation_id"
    ):  # newest first (the model's ordering): the first per organisation is in force
        notices.setdefault(notice["organisation_id"], notice["pk"])
    informed = _grouped(
        NoticeAcknowledgement.objects.filter(
            notice_id__in=notices.values(), parent__is_active=True
        ).filter(Exists(UserRole.objects.filter(user=OuterRef("parent"), role=Role.PARENT))),
        "parent__organisation_id",
        n=Count("pk"),
    )
    latest_consent = (
        ConsentRecord.objects.filter(student=OuterRef("pk")).order_by("-at", "-pk").values("action")
    )[:1]
    consents = _grouped(
        people.filter(_role(Role.STUDENT))
        .annotate(state=Subquery(latest_consent))
        .filter(state="given"),
        "organisation_id",
        n=Count("pk"),
    )

    for request in RegistrationRequest.objects.filter(organisation_id__in=ids).order_by(
        "organisation_id", "-created_at", "-pk"
    ):
        row = rows[request.organisation_id]
        if not row.registration_status:  # the newest request, as `current_request` takes it
            row.registration_status = request.status
            row.registration_label = request.get_status_display()
            row.registration_date = _registration_date(request)

    deadlines = defaultdict(list)
    for deadline in ParentDeadline.objects.filter(organisation_id__in=ids, due_date__lt=today):
        deadlines[deadline.organisation_id].append(deadline.kind)

    for pk, row in rows.items():
        total = totals.get(pk, {})
        row.staff = Progress(confirmed.get(pk, {}).get("n", 0), total.get("readers", 0))
        row.teachers = Progress(verified.get(pk, {}).get("n", 0), total.get("teachers", 0))
        group = groups.get(pk, {})
        row.groups = Progress(group.get("with_link", 0), group.get("total", 0))
        row.parents = Progress(informed.get(pk, {}).get("n", 0), total.get("parents", 0))
        row.consents = Progress(consents.get(pk, {}).get("n", 0), total.get("students", 0))
        version = versions.get(pk, (None, []))[0]
        if version is not None:
            row.read_by = version["read_by"]
            if row.read_by is not None and row.read_by < today:
                row.staff_overdue = row.staff.total - row.staff.done
        for kind in deadlines.get(pk, []):
            progress = row.parents if kind == ParentTask.NOTICE else row.consents
            if not progress.complete and progress.total:
                row.parents_overdue.append(str(ParentTask(kind).label))

    return rows


# Registered with the core in `DepartmentsConfig.ready`: kept counted for every institution
# under a department (`cdt_portal.numbers`).
INSTITUTION_ROW = "institution-row"
INSTITUTION_ROW_COUNTER = NumbersCounter(
    compute=lambda ids: _institution_numbers(
        list(
            Organisation.objects.filter(pk__in=ids, department__isnull=False).values_list(
                "pk", flat=True
            )
        )
    ),
    every_id=lambda: list(
        Organisation.objects.filter(department__isnull=False).values_list("pk", flat=True)
    ),
)


def sort_rows(rows: list[InstitutionRow], sort: str) -> list[InstitutionRow]:
    descending = sort.startswith("-")
    key = SORT_KEYS.get(sort.lstrip("-"), SORT_KEYS["name"])
    rows.sort(key=SORT_KEYS["name"])
    rows.sort(key=key, reverse=descending)
    return rows


def department_totals(rows: list[InstitutionRow]) -> dict[str, Progress]:
    """The department's own line: the sums of its institutions' numbers."""
    return {
        name: Progress(
            sum(getattr(row, name).done for row in rows),
            sum(getattr(row, name).total for row in rows),
        )
        for name in ("staff", "teachers", "groups", "parents", "consents")
    }


# Messages -------------------------------------------------------------------------------------


def department_messages(department: Department) -> QuerySet[DepartmentMessage]:
    """The department's messages, each with how many institutions it went to and how many of
    them have read it (counted apart: one join of both would multiply their rows)."""
    institutions = (
        DepartmentMessage.institutions.through.objects.filter(departmentmessage=OuterRef("pk"))
        .values("departmentmessage")
        .annotate(n=Count("pk"))
        .values("n")
    )
    read = (
        MessageReceipt.objects.filter(message=OuterRef("pk"))
        .values("message")
        .annotate(n=Count("organisation", distinct=True))
        .values("n")
    )
    return DepartmentMessage.objects.filter(department=department).annotate(
        institutions_count=Coalesce(Subquery(institutions), 0),
        read_count=Coalesce(Subquery(read), 0),
    )


def message_for_department(department: Department, pk: int) -> DepartmentMessage:
    try:
        return DepartmentMessage.objects.get(department=department, pk=pk)
    except DepartmentMessage.DoesNotExist as exc:
        raise Http404("Нет такого сообщения") from exc


def message_letters_job(message: DepartmentMessage) -> Job | None:
    """The job sending the message's copies by e-mail (none for a message sent before there
    were jobs)."""
    return Job.objects.filter(key=message.job_key).first()


def may_follow_letters_job(user, job: Job) -> bool:
    """A department's specialist follows the job sending a message of their department."""
    if job.kind != "department_message" or not job.task_args:
        return False
    if getattr(user, "department_id", None) is None or not user.has_role(Role.DEPARTMENT):
        return False
    return DepartmentMessage.objects.filter(
        pk=job.task_args[0], department_id=user.department_id
    ).exists()


@dataclass(frozen=True)
class LettersLeft:
    """The message's copies by e-mail not settled: those no run has tried yet, and those a
    run was handing to the mail server when it stopped (`sending`)."""

    waiting: int
    in_flight: int

    def __bool__(self) -> bool:
        return bool(self.waiting or self.in_flight)


def letters_left(message: DepartmentMessage) -> LettersLeft:
    counts = outbox.letters(message.batch).aggregate(
        waiting=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
        in_flight=Count("pk", filter=Q(status=Delivery.Status.SENDING)),
    )
    return LettersLeft(**counts)


@dataclass(frozen=True)
class ReadLine:
    organisation: Organisation
    # (administrator's name, when read), in the order they read it; empty: nobody has.
    readers: list[tuple[str, dt.datetime]]
    # The copies by e-mail to its administrators: (state label, how many), in `Status` order.
    letters: list[tuple[str, int]]


def message_readers(message: DepartmentMessage) -> list[ReadLine]:
    """Per institution the message went to: which of its administrators read it, and when,
    and what became of the copies by e-mail."""
    letters: dict[int, Counter] = defaultdict(Counter)
    for organisation_id, status in outbox.letters(message.batch).values_list(
        "organisation_id", "status"
    ):
        letters[organisation_id][status] += 1
    receipts = defaultdict(list)
    for receipt in message.receipts.select_related("reader").only(
        "organisation_id",
        "read_at",
        "reader__last_name",
        "reader__first_name",
        "reader__patronymic",
    ):
        receipts[receipt.organisation_id].append((receipt.reader.full_name, receipt.read_at))
    return [
        ReadLine(
            organisation,
            receipts.get(organisation.pk, []),
            [
                (Delivery.Status(status).label, letters[organisation.pk][status])
                for status in Delivery.Status.values
                if letters[organisation.pk][status]
            ],
        )
        for organisation in message.institutions.order_by("short_name").only(
            "pk", "slug", "short_name"
        )
    ]


def unread_messages(user: User) -> QuerySet[DepartmentMessage]:
    """The department's messages an institution's administrator has not marked read yet."""
    if user.organisation_id is None or not user.has_role(Role.ADMIN):
        return DepartmentMessage.objects.none()
    return (
        DepartmentMessage.objects.filter(institutions=user.organisation_id)
        .exclude(Exists(MessageReceipt.objects.filter(message=OuterRef("pk"), reader=user)))
        .select_related("department")
    )


def message_for_reader(user: User, pk: int) -> DepartmentMessage:
    """A message sent to the administrator's institution; any other is 404."""
    try:
        return DepartmentMessage.objects.get(pk=pk, institutions=user.organisation_id)
    except DepartmentMessage.DoesNotExist as exc:
        raise Http404("Нет такого сообщения") from exc
