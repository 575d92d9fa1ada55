"""What pages read about the rollout: the request and its timeline, teachers' statuses, the
family page, notices and consents, and the dashboard's summary. Nothing here writes."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import formataddr

from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.messenger import names_vk
from accounts.models import Guardianship, Messenger, Organisation, Role, StudyGroup, User
from acknowledgements.models import REGULATION_CODE, DocumentVersion, VersionStatus, text_sha256
from acknowledgements.selectors import (
    AckFilter,
    acknowledgement_progress,
    acknowledgement_rows,
    current_version,
    is_overdue,
)
from cdt_portal.audit import action_label, history, organisation_entries
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Job
from cdt_portal.numbers import counted_once
from cdt_portal.paging import search_people
from cdt_portal.progress import Progress

from .actions import REQUEST_DETAILS_CHANGED, SFERUM_STATUS_CHANGED
from .documents import build_registration_email
from .models import (
    TRANSITIONS,
    AmendmentItem,
    AmendmentState,
    ConsentDetails,
    ConsentRecord,
    ConsentText,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    ParentReminder,
    ParentTask,
    RegistrationRequest,
    RequestStatus,
    SferumStatus,
    StudentNotice,
    StudentNoticeAcknowledgement,
    TeacherSferumStatus,
)

S = RequestStatus

# The registration request ------------------------------------------------------------------

NEXT_STEP = {
    S.DRAFT: (
        "Проверьте Ф.И.О. и мобильный телефон администратора и сформируйте письмо о назначении."
    ),
    S.AWAITING_SIGNATURE: (
        "Распечатайте письмо, подпишите у руководителя, поставьте печать, отсканируйте; "
        "заполните анкету организации и отметьте это здесь, приложив скан."
    ),
    S.READY: "Отправьте заявку на info@sferum.ru — из портала или из почты организации (.eml).",
    S.UNCONFIRMED: (
        "Отправка не подтверждена: проверьте папку «Отправленные» почтового ящика портала "
        "(или дождитесь ответа «Сферума») и выберите «Письмо дошло» или «Отправить ещё раз»."
    ),
    S.SENT: "Дождитесь ответа «Сферума»: права администратора придут на указанный телефон.",
    S.RETURNED: "Исправьте то, о чём просит «Сферум», и отправьте заявку снова.",
    S.REGISTERED: "Организация зарегистрирована. Педагоги могут подтверждать статус «учитель».",
    S.CANCELLED: "Заявка отменена. Начните новую, если нужно.",
}


def next_step(request: RegistrationRequest | None) -> str:
    if request is None:
        return "Начните заявку на регистрацию организации в «Сферуме»."
    if request.status in TRANSITIONS["prepare_letter"].sources:
        missing = missing_letterhead_fields(request.organisation)
        if missing:
            return (
                f"Укажите в сведениях об организации: {', '.join(missing)} — они печатаются "
                "на бланке письма о назначении. Затем сформируйте письмо."
            )
    return NEXT_STEP[RequestStatus(request.status)]


# The letterhead's contacts (model field, as the person reads its name). The appointment
# letter prints whichever of them the organisation has, so without them it would go out on a
# bare letterhead: the page asks for them first and the letter is not offered.
LETTERHEAD_FIELDS = (("address", "адрес"), ("phone", "телефон"), ("email", "e-mail"))


def missing_letterhead_fields(organisation: Organisation) -> list[str]:
    """The letterhead contacts the organisation's profile lacks, in Russian, in the order the
    letterhead prints them; empty when the letter can be made."""
    return [
        label
        for name, label in LETTERHEAD_FIELDS
        if not str(getattr(organisation, name) or "").strip()
    ]


def organisation_mail_domain(organisation: Organisation) -> str:
    """The part of the organisation's e-mail after «@»; empty when it has no e-mail."""
    return (organisation.email or "").rpartition("@")[2].strip().lower()


def current_request(organisation: Organisation) -> RegistrationRequest | None:
    return organisation.registration_requests.order_by("-created_at", "-pk").first()


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a history: when, what («Черновик → На подписи»), who, and a comment."""

    at: object
    what: str
    who: str
    comment: str


def _who(entry: AuditEntry) -> str:
    return entry.actor.short_name if entry.actor else entry.actor_name


def _status_change(data: dict, labels: dict[str, str]) -> str:
    before, after = data.get("from", ""), data.get("to", "")
    after_label = labels.get(after, after)
    return f"{labels[before]} → {after_label}" if before in labels else after_label


DETAILS_LABELS = {
    "admin_full_name": "Ф.И.О.",
    "admin_position": "должность",
    "admin_phone": "мобильный телефон",
}


def _details_comment(data: dict) -> str:
    parts = [
        f"{label}: {data[field][0] or '—'} → {data[field][1] or '—'}"
        for field, label in DETAILS_LABELS.items()
        if field in data
    ]
    if data.get("comment"):
        parts.append(data["comment"])
    return "; ".join(parts)


# «…, Message-ID <…@…>» at the end of a recorded comment: kept in the audit log, where it
# names the message for anyone who looks it up in a mail server's log, but not shown on the
# page, where it means nothing to the person reading it.
_MESSAGE_ID_MENTION = re.compile(r"[,;]?\s*Message-ID:?\s*(<[^>]*>)?", re.IGNORECASE)


def _shown_comment(comment: str) -> str:
    return _MESSAGE_ID_MENTION.sub("", comment).strip()


def request_timeline(registration: RegistrationRequest) -> list[TimelineEntry]:
    """The request's history, read from the audit log, oldest first."""
    labels = dict(RequestStatus.choices)
    return [
        TimelineEntry(
            at=entry.at,
            what=_timeline_what(entry, labels),
            who=_who(entry),
            comment=_details_comment(entry.data)
            if entry.action == REQUEST_DETAILS_CHANGED
            else _shown_comment(entry.data.get("comment", "") or entry.data.get("reason", "")),
        )
        for entry in history(registration)
    ]


def _timeline_what(entry, labels: dict) -> str:
    if entry.action == REQUEST_DETAILS_CHANGED:
        return "Изменены данные администратора"
    if "to" in entry.data:
        return _status_change(entry.data, labels)
    # The sending job's own steps (queued, handed to the server, refused) are not state changes.
    return action_label(entry.action)


@dataclass(frozen=True)
class RequestOverview:
    registration: RegistrationRequest | None
    next_step: str
    # The actions of `models.TRANSITIONS` the request's state allows: the page's buttons.
    allowed: list[str]
    timeline: list[TimelineEntry]
    previous: QuerySet[RegistrationRequest] | list
    # What the organisation's profile lacks for the letterhead, and for the .eml's sender.
    letterhead_missing: tuple[str, ...] = ()
    email_missing: bool = False


def request_overview(organisation: Organisation) -> RequestOverview:
    registration = current_request(organisation)
    letterhead_missing = tuple(missing_letterhead_fields(organisation))
    email_missing = not organisation_mail_domain(organisation)
    if registration is None:
        return RequestOverview(None, next_step(None), [], [], [], letterhead_missing, email_missing)
    return RequestOverview(
        registration=registration,
        next_step=next_step(registration),
        allowed=registration.allowed_actions(),
        timeline=request_timeline(registration),
        previous=organisation.registration_requests.exclude(pk=registration.pk),
        letterhead_missing=letterhead_missing,
        email_missing=email_missing,
    )


def registration_message_id(registration: RegistrationRequest) -> str:
    """The request's Message-ID on the organisation's mail domain. It is made there when the
    request becomes ready; one made earlier on the portal's domain, or before the
    organisation's e-mail changed, keeps its unique part and takes the domain of today."""
    domain = organisation_mail_domain(registration.organisation)
    unique = registration.message_id.strip().strip("<>").rpartition("@")[0]
    if not (domain and unique):
        return registration.message_id
    return f"<{unique}@{domain}>"


def registration_eml(registration: RegistrationRequest) -> bytes:
    """The registration e-mail as an .eml file that the institution's mail program opens as
    a draft (`X-Unsent: 1`), from and replied to at the organisation's e-mail, under the
    organisation's short name. Only reads: the Message-ID was fixed when the request became
    ready. Without the organisation's e-mail there is no sender: refused."""
    registration.require("download_eml")
    organisation = registration.organisation
    if not organisation_mail_domain(organisation):
        raise PortalError(
            "Укажите e-mail организации в сведениях об организации: письмо для почтовой "
            "программы отправляется с него."
        )
    message = build_registration_email(registration)
    message.from_email = formataddr((organisation.short_name, organisation.email))
    message.extra_headers = {
        **message.extra_headers,
        "Reply-To": organisation.email,
        "Message-ID": registration_message_id(registration),
        "X-Unsent": "1",
    }
    return message.message().as_bytes()


# Teachers' Sferum status --------------------------------------------------------------------


def teacher_status(person: User) -> TeacherSferumStatus:
    """The teacher's status; one who has taken no step yet gets an unsaved «не начато»
    (the row is created by the first step, never by opening a page)."""
    status = TeacherSferumStatus.objects.select_related("verified_by").filter(person=person).first()
    return status or TeacherSferumStatus(person=person)


def sferum_history(person: User) -> list[TimelineEntry]:
    """The teacher's Sferum steps from the audit log, oldest first."""
    labels = dict(SferumStatus.choices)
    return [
        TimelineEntry(
            at=entry.at, what=_status_change(entry.data, labels), who=_who(entry), comment=""
        )
        for entry in history(person).filter(action=SFERUM_STATUS_CHANGED)
    ]


@dataclass(frozen=True)
class TeacherCounts:
    verified: Progress
    # (status, label, how many); None for «не начато», which has no row to count.
    by_status: list[tuple[str, str, int | None]]


def teacher_counts(organisation: Organisation) -> TeacherCounts:
    teachers = User.objects.active_in(organisation).with_role(Role.TEACHER)
    by_status = dict(
        TeacherSferumStatus.objects.filter(person__in=teachers)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    return TeacherCounts(
        verified=Progress(by_status.get(SferumStatus.VERIFIED, 0), teachers.count()),
        by_status=[
            (value, label, by_status.get(value, 0) if value != SferumStatus.NOT_STARTED else None)
            for value, label in SferumStatus.choices
        ],
    )


def teacher_list(organisation: Organisation, *, query: str = "", status: str = "") -> QuerySet:
    """The organisation's active teachers with their status, found by name and status."""
    teachers = search_people(
        User.objects.active_in(organisation)
        .with_role(Role.TEACHER)
        .select_related("sferum_status")
        .order_by("last_name", "first_name"),
        query,
    )
    if status == SferumStatus.NOT_STARTED:
        return teachers.filter(Q(sferum_status__isnull=True) | Q(sferum_status__status=status))
    if status in SferumStatus.values:
        return teachers.filter(sferum_status__status=status)
    return teachers


# Families: the notice and the consents ------------------------------------------------------


def current_notice(organisation: Organisation) -> ParentNotice | None:
    return ParentNotice.objects.filter(organisation=organisation).first()


def default_notice_text(organisation: Organisation) -> str:
    return render_to_string("onboarding/notice_default.md", {"organisation": organisation})


def default_consent_text(organisation: Organisation) -> str:
    return render_to_string("onboarding/consent_default.md", {"organisation": organisation})


def current_consent_text(organisation: Organisation) -> ConsentText:
    """The consent text in force. Before anyone consented it is the portal's template, shown
    unsaved: the consent service stores it with the first consent."""
    body = default_consent_text(organisation)
    # A changed template (the complete consent of issue 12) is a new edition: stored with the
    # first consent under it, while the records under the old one keep theirs.
    text = ConsentText.objects.filter(
        organisation=organisation, text_sha256=text_sha256(body)
    ).first()
    if text is None:
        text = ConsentText(organisation=organisation, text=body, text_sha256=text_sha256(body))
    return text


def consent_state(student: User) -> ConsentRecord | None:
    """The consent in force for the student: their newest record."""
    return ConsentRecord.objects.filter(student=student).order_by("-at", "-pk").first()


@dataclass(frozen=True)
class FamilyOverview:
    notice: ParentNotice | None
    notice_ack: NoticeAcknowledgement | None
    children: QuerySet[User]
    own_groups: QuerySet[StudyGroup] | list


def family_overview(user: User) -> FamilyOverview:
    """A student's own groups; a parent's notice, and each child's groups and consent history
    (the newest consent record is the one in force), each list in one query."""
    is_parent = user.has_role(Role.PARENT)
    groups_with_teachers = Prefetch(
        "study_groups", queryset=StudyGroup.objects.prefetch_related("teachers")
    )
    consent_history = Prefetch(
        "consents", queryset=ConsentRecord.objects.order_by("at", "pk"), to_attr="consent_history"
    )
    children = (
        User.objects.filter(parent_links__parent=user, organisation_id=user.organisation_id)
        .prefetch_related(groups_with_teachers, consent_history, _own_choices(user))
        .order_by("last_name", "first_name")
        if is_parent
        else User.objects.none()
    )
    own_groups = (
        user.study_groups.prefetch_related("teachers") if user.has_role(Role.STUDENT) else []
    )
    notice = current_notice(user.organisation) if is_parent else None
    notice_ack = (
        NoticeAcknowledgement.objects.filter(notice=notice, parent=user).first() if notice else None
    )
    return FamilyOverview(notice, notice_ack, children, own_groups)


@dataclass(frozen=True)
class GroupParents:
    group: StudyGroup
    parents: list[tuple[User, bool]]  # (parent, has confirmed the notice)
    confirmed: int


@dataclass(frozen=True)
class NoticeOverview:
    notice: ParentNotice | None
    draft: str  # what the publishing form starts from
    groups: list[GroupParents]


def notice_overview(organisation: Organisation) -> NoticeOverview:
    """The notice in force and, group by group, which active parents confirmed it."""
    notice = current_notice(organisation)
    confirmed = (
        set(NoticeAcknowledgement.objects.filter(notice=notice).values_list("parent_id", flat=True))
        if notice
        else set()
    )
    links = Prefetch(
        "students__parent_links", queryset=Guardianship.objects.select_related("parent")
    )
    rows = []
    for group in StudyGroup.objects.filter(organisation=organisation).prefetch_related(links):
        parents = {
            link.parent.pk: link.parent
            for student in group.students.all()
            for link in student.parent_links.all()
            if link.parent.is_active
        }
        people = sorted(parents.values(), key=lambda p: p.full_name)
        rows.append(
            GroupParents(
                group=group,
                parents=[(p, p.pk in confirmed) for p in people],
                confirmed=sum(p.pk in confirmed for p in people),
            )
        )
    return NoticeOverview(
        notice=notice,
        draft=notice.text if notice else default_notice_text(organisation),
        groups=rows,
    )


@dataclass(frozen=True)
class ConsentListing:
    students: QuerySet[User]
    groups: QuerySet[StudyGroup]


def consent_listing(
    organisation: Organisation, *, query: str = "", group_id: int | None = None
) -> ConsentListing:
    """Students with their consent history (oldest first), found by name and group."""
    records = Prefetch(
        "consents",
        queryset=ConsentRecord.objects.select_related("parent", "details").order_by("at", "pk"),
        to_attr="consent_history",
    )
    students = search_people(
        User.objects.filter(organisation=organisation)
        .with_role(Role.STUDENT)
        .prefetch_related(records, "study_groups")
        .order_by("last_name", "first_name"),
        query,
    )
    if group_id is not None:
        students = students.filter(study_groups__pk=group_id)
    return ConsentListing(students, StudyGroup.objects.filter(organisation=organisation))


@dataclass(frozen=True)
class FamilyCounts:
    notice: ParentNotice | None
    informed: Progress  # active parents who confirmed the notice in force
    consents: Progress  # active students whose consent in force is «дано»


def family_counts(organisation: Organisation) -> FamilyCounts:
    parents = User.objects.active_in(organisation).with_role(Role.PARENT)
    students = User.objects.active_in(organisation).with_role(Role.STUDENT)
    notice = current_notice(organisation)
    latest = (
        ConsentRecord.objects.filter(student=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )
    informed = (
        NoticeAcknowledgement.objects.filter(notice=notice, parent__in=parents).count()
        if notice
        else 0
    )
    return FamilyCounts(
        notice=notice,
        informed=Progress(informed, parents.count()),
        consents=Progress(
            students.annotate(state=Subquery(latest)).filter(state="given").count(),
            students.count(),
        ),
    )


# The dashboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    label: str
    done: bool
    url_name: str | None  # where to go to do it


@dataclass(frozen=True)
class RolloutSummary:
    role_counts: dict[str, int]  # active people per role
    administrators: list[User]
    version: DocumentVersion | None  # the regulation in force
    staff: Progress  # staff who read the regulation
    registration: RegistrationRequest | None
    next_step: str
    teachers: TeacherCounts
    groups: Progress  # groups that have a chat invite link
    families: FamilyCounts
    checklist: list[ChecklistItem]
    # Staff who have not read the version by its due date (0 before the date or without one).
    staff_overdue: int = 0


def rollout_summary(organisation: Organisation) -> RolloutSummary:
    """The rollout at a glance: every number on the dashboard, and the checklist made of them.
    Its number of queries does not depend on how many people there are."""
    role_counts = User.objects.filter(organisation=organisation, is_active=True).aggregate(
        **{
            role: Count("pk", filter=Q(user_roles__role=role), distinct=True)
            for role in Role.values
        }
    )
    version = current_version(organisation)
    staff = acknowledgement_progress(version, organisation)
    registration = current_request(organisation)
    teachers = teacher_counts(organisation)
    group_counts = StudyGroup.objects.filter(organisation=organisation).aggregate(
        total=Count("pk"),
        with_link=Count("pk", filter=~Q(chat_invite_link="") | ~Q(max_invite_link="")),
    )
    groups = Progress(group_counts["with_link"], group_counts["total"])
    families = family_counts(organisation)
    administrators = list(organisation.platform_administrators)
    status = registration.status if registration else None
    checklist = [
        ChecklistItem("Назначен администратор ИКОП «Сферум»", bool(administrators), None),
        ChecklistItem("Положение утверждено приказом", version is not None, "regulation"),
        ChecklistItem(
            "Сотрудники ознакомлены с Положением", staff.complete, "acknowledgement_list"
        ),
        ChecklistItem(
            "Заявка на регистрацию отправлена на info@sferum.ru",
            status in (S.SENT, S.REGISTERED),
            "registration_request",
        ),
        ChecklistItem(
            "Организация зарегистрирована в «Сферуме»",
            status == S.REGISTERED,
            "registration_request",
        ),
        ChecklistItem(
            "Педагоги подтвердили статус «учитель»", teachers.verified.complete, "teacher_statuses"
        ),
        ChecklistItem(
            "У каждого объединения есть чат и ссылка-приглашение", groups.complete, "group_list"
        ),
        ChecklistItem(
            "Родители проинформированы об использовании «Сферума»",
            families.informed.complete,
            "notices",
        ),
    ]
    return RolloutSummary(
        role_counts=role_counts,
        administrators=administrators,
        version=version,
        staff=staff,
        registration=registration,
        next_step=next_step(registration),
        teachers=teachers,
        groups=groups,
        families=families,
        checklist=checklist,
        staff_overdue=staff.total - staff.done if version and is_overdue(version) else 0,
    )


# --- Background work ------------------------------------------------------------------------


def send_job(registration: RegistrationRequest) -> Job | None:
    """The request's latest sending job, while it runs or when it failed (the page shows its
    progress or its reason); None once it is done (the request's state says the rest)."""
    job = (
        Job.objects.filter(key__startswith=f"registration-send:{registration.pk}:")
        .order_by("-created_at", "-pk")
        .first()
    )
    if job is None or job.status == Job.Status.DONE:
        return None
    return job


# Issue 12, the family side: the students' notice, families who decline, the full consent,
# the privacy page -------------------------------------------------------------------------


def current_student_notice(organisation: Organisation):

    return StudentNotice.objects.filter(organisation=organisation).first()


def default_student_notice_text(organisation: Organisation) -> str:
    return render_to_string("onboarding/student_notice_default.md", {"organisation": organisation})


def student_notice_ack(student: User):
    """The student's confirmation of the students' notice in force, or None."""

    notice = current_student_notice(student.organisation)
    if notice is None:
        return None
    return StudentNoticeAcknowledgement.objects.filter(notice=notice, student=student).first()


def _declined_choices(organisation: Organisation):

    return FamilyChoice.objects.filter(
        declined=True, student__organisation=organisation, parent__organisation=organisation
    )


def declined_family_ids(organisation: Organisation) -> frozenset[int]:
    """The people of families who said «не используем „Сферум“»: each declining parent and the
    child they declined for. Reminder code leaves them out, so nobody is pressed."""
    ids: set[int] = set()
    for parent_id, student_id in _declined_choices(organisation).values_list(
        "parent_id", "student_id"
    ):
        ids.update((parent_id, student_id))
    return frozenset(ids)


@dataclass(frozen=True)
class NoticeCounts:
    parent_notice: ParentNotice | None
    student_notice: object  # StudentNotice | None
    parents: Progress  # active parents who confirmed the parents' notice in force
    students: Progress  # active students who confirmed the students' notice in force
    declined: int  # active students whose family chose another channel
    parents_overdue: int = 0  # parents past the notice's due date without confirming it
    consents_overdue: int = 0  # parents past the consent's due date with a child without one


def notice_counts(organisation: Organisation, *, today: dt.date | None = None) -> NoticeCounts:
    """The dashboard's notice numbers (partial `onboarding/_dashboard_notices.html`, context
    variable `notice_counts`): both notices, and the families who decline Sferum."""

    parents = User.objects.active_in(organisation).with_role(Role.PARENT)
    students = User.objects.active_in(organisation).with_role(Role.STUDENT)
    parent_notice = current_notice(organisation)
    student_notice = current_student_notice(organisation)
    parents_done = (
        NoticeAcknowledgement.objects.filter(notice=parent_notice, parent__in=parents).count()
        if parent_notice
        else 0
    )
    students_done = (
        StudentNoticeAcknowledgement.objects.filter(
            notice=student_notice, student__in=students
        ).count()
        if student_notice
        else 0
    )
    declined = students.filter(family_choices__declined=True).distinct().count()
    return NoticeCounts(
        parent_notice=parent_notice,
        student_notice=student_notice,
        parents=Progress(parents_done, parents.count()),
        students=Progress(students_done, students.count()),
        declined=declined,
        parents_overdue=overdue_parents(organisation, ParentTask.NOTICE, today=today).count(),
        consents_overdue=overdue_parents(organisation, ParentTask.CONSENT, today=today).count(),
    )


def family_choices(parent: User) -> dict:
    """The parent's choice per child: {student id: FamilyChoice}."""

    return {c.student_id: c for c in FamilyChoice.objects.filter(parent=parent)}


@dataclass(frozen=True)
class GroupFamily:
    student: User
    consent: ConsentRecord | None  # the record in force
    declined: list  # FamilyChoice rows with declined=True (one per declining parent)
    notice_read: bool  # the student confirmed the students' notice in force


def group_families(group: StudyGroup) -> list[GroupFamily]:
    """For the group's teacher: each student's consent state (not its personal data), the
    family's choice of channel, and whether the student read their notice. Fixed queries."""

    records = Prefetch(
        "consents", queryset=ConsentRecord.objects.order_by("at", "pk"), to_attr="consent_history"
    )
    declined = Prefetch(
        "family_choices",
        queryset=FamilyChoice.objects.filter(declined=True).select_related("parent"),
        to_attr="declined_choices",
    )
    students = group.students.filter(is_active=True).prefetch_related(records, declined)
    notice = current_student_notice(group.organisation)
    read = (
        set(
            StudentNoticeAcknowledgement.objects.filter(notice=notice).values_list(
                "student_id", flat=True
            )
        )
        if notice
        else set()
    )
    return [
        GroupFamily(
            student=s,
            consent=s.consent_history[-1] if s.consent_history else None,
            declined=s.declined_choices,
            notice_read=s.pk in read,
        )
        for s in students.order_by("last_name", "first_name")
    ]


def consent_details_of(record: ConsentRecord):

    return ConsentDetails.objects.filter(record=record).first()


def last_given_consent(student: User, parent: User | None = None) -> ConsentRecord | None:
    """The newest «дано» record for the student (by this parent, when given), with details."""
    records = ConsentRecord.objects.filter(student=student, action="given").select_related(
        "details", "parent"
    )
    if parent is not None:
        records = records.filter(parent=parent)
    return records.order_by("-at", "-pk").first()


def consent_record_for_manager(organisation: Organisation, pk: int) -> ConsentRecord:
    """A consent record of the organisation; any other is 404 (raised by the caller's
    get_object_or_404 semantics: DoesNotExist)."""
    return ConsentRecord.objects.select_related("details", "parent", "student").get(
        pk=pk, student__organisation=organisation
    )


def consent_document_context(organisation: Organisation, details=None, student=None) -> dict:
    """What the consent document (HTML and PDF) shows: the organisation as operator, the terms
    (a recorded consent's own edition, else the edition in force), and the filled details or
    blanks."""
    from cdt_portal.markup import render_markdown

    record_id = getattr(details, "record_id", None)
    text = (
        ConsentText.objects.get(records__pk=record_id)
        if record_id
        else current_consent_text(organisation)
    )
    return {
        "operator": {
            "full_name": organisation.full_name,
            "short_name": organisation.short_name,
            "address": organisation.address,
            "phone": organisation.phone.as_international if organisation.phone else "",
            "email": organisation.email,
        },
        "terms_html": str(render_markdown(text.text)),
        "text": text,
        "details": details,
        "child_name": (
            details.child_full_name if details else (student.full_name if student else "")
        ),
    }


def privacy_context(organisation: Organisation) -> dict:
    """The privacy policy's facts (152-ФЗ ст. 18.1), all from the organisation's record."""
    administrators = list(organisation.platform_administrators)
    return {
        "organisation": organisation,
        "phone": organisation.phone.as_international if organisation.phone else "",
        "administrators": administrators,
    }


def organisation_by_slug(slug: str) -> Organisation:
    return Organisation.objects.get(slug=slug)


# Issue 12, §4.7: the director and administrators use the учебный профиль too -------------


@dataclass(frozen=True)
class StaffStatusRow:
    """One group of staff on the dashboard: who they are, how many are verified, and the
    people not verified yet (with their current status)."""

    label: str
    verified: Progress
    not_verified: list[User]


def _staff_row(label: str, people: QuerySet) -> StaffStatusRow:
    people = people.select_related("sferum_status").order_by("last_name", "first_name")
    listed = list(people)
    verified = [p for p in listed if _sferum_status_of(p) == SferumStatus.VERIFIED]
    return StaffStatusRow(
        label=label,
        verified=Progress(len(verified), len(listed)),
        not_verified=[p for p in listed if _sferum_status_of(p) != SferumStatus.VERIFIED],
    )


def _sferum_status_of(person: User) -> str:
    try:
        return person.sferum_status.status
    except TeacherSferumStatus.DoesNotExist:
        return SferumStatus.NOT_STARTED


def staff_status_counts(organisation: Organisation) -> list[StaffStatusRow]:
    """Verified «учитель» status, and who has it not yet, of the director and the platform
    administrators: a few people, listed by name (one person may be in both rows). The
    teachers, who may be thousands, are counted by `rollout_summary` and listed, paginated, on
    the teachers' statuses page."""
    active = User.objects.active_in(organisation)
    return [
        _staff_row("Руководитель", active.with_role(Role.DIRECTOR)),
        _staff_row("Администраторы ИКОП «Сферум»", active.with_role(Role.ADMIN)),
    ]


# Issue 12, §5.1: the checklist of local acts and programmes to amend ---------------------


@dataclass(frozen=True)
class AmendmentRow:
    """One document of the checklist. `item` is None for a group's programme nobody has
    changed yet (read as «to do»; its row is stored by its first change)."""

    kind: str  # "programme" or "act"
    title: str
    group: StudyGroup | None
    item: AmendmentItem | None
    state: str
    state_label: str
    amended_on: object
    note: str
    # The date as an <input type="date"> takes it (ISO); pages show `amended_on` as d.m.Y.
    date_value: str


def amendment_checklist(organisation: Organisation) -> list[AmendmentRow]:
    """Each group's additional programme (by name), then the local acts (in the order added)."""
    rows: list[AmendmentRow] = []
    groups = StudyGroup.objects.filter(organisation=organisation).select_related(
        "programme_amendment"
    )
    for group in groups.order_by("name"):
        item = getattr(group, "programme_amendment", None)
        rows.append(
            _amendment_row("programme", f"Дополнительная программа «{group.name}»", group, item)
        )
    acts = AmendmentItem.objects.filter(organisation=organisation, group__isnull=True)
    rows.extend(_amendment_row("act", item.title, None, item) for item in acts)
    return rows


def _amendment_row(kind, title, group, item) -> AmendmentRow:
    state = item.state if item else AmendmentState.TODO
    return AmendmentRow(
        kind=kind,
        title=title,
        group=group,
        item=item,
        state=state,
        state_label=AmendmentState(state).label,
        amended_on=item.amended_on if item else None,
        note=item.note if item else "",
        date_value=item.amended_on.isoformat() if item and item.amended_on else "",
    )


def amendment_summary(organisation: Organisation) -> Progress:
    """Amended x of y: every group's programme and every local act named."""
    groups = StudyGroup.objects.filter(organisation=organisation).count()
    acts = AmendmentItem.objects.filter(organisation=organisation, group__isnull=True).count()
    amended = AmendmentItem.objects.filter(
        organisation=organisation, state=AmendmentState.AMENDED
    ).count()
    return Progress(amended, groups + acts)


# The move to MAX: the paperwork a change of the messenger starts ----------------------------


@dataclass(frozen=True)
class MessengerPaperwork:
    """What a change of the organisation's messenger still asks for (the dashboard's prompts,
    `templates/onboarding/_messenger_paperwork.html`)."""

    # The parents' notice in force was published before the messenger changed (or none is).
    notice_needed: bool
    # The approved regulation still names VK while the messenger is MAX (or the transition),
    # and no draft of a new version exists yet.
    draft_needed: bool
    # The open draft (or a version being approved) of the regulation, when there is one.
    draft: DocumentVersion | None

    @property
    def pending(self) -> bool:
        return self.notice_needed or self.draft_needed


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
class DashboardNumbers:
    """Every number of the dashboard that counts the organisation's people."""

    summary: RolloutSummary
    staff_statuses: list[StaffStatusRow]
    amendments: Progress
    notices: NoticeCounts


def dashboard_numbers(organisation: Organisation) -> DashboardNumbers:
    """The dashboard's numbers, counted once per change of the organisation
    (`cdt_portal.numbers.counted_once`): at 50,000 people counting them is the page's cost."""
    return counted_once(
        organisation.pk,
        "dashboard",
        lambda: DashboardNumbers(
            summary=rollout_summary(organisation),
            staff_statuses=staff_status_counts(organisation),
            amendments=amendment_summary(organisation),
            notices=notice_counts(organisation),
        ),
    )


def messenger_paperwork(organisation: Organisation) -> MessengerPaperwork:
    changed_at = organisation.messenger_changed_at
    notice = current_notice(organisation) if changed_at else None
    notice_needed = changed_at is not None and (notice is None or notice.published_at < changed_at)
    draft, draft_needed = None, False
    if organisation.messenger != Messenger.VK:
        draft = open_regulation_draft(organisation)
        if draft is None:
            current = current_version(organisation)
            draft_needed = current is not None and names_vk(current.text)
    return MessengerPaperwork(notice_needed=notice_needed, draft_needed=draft_needed, draft=draft)


def _own_choices(parent: User) -> Prefetch:
    """Each child's `own_choice`: a list with the parent's FamilyChoice, if any (family home)."""

    return Prefetch(
        "family_choices", queryset=FamilyChoice.objects.filter(parent=parent), to_attr="own_choice"
    )


@dataclass(frozen=True)
class StudentNoticeState:
    notice: object  # StudentNotice | None
    ack: object  # StudentNoticeAcknowledgement | None


def student_notice_state(user: User) -> StudentNoticeState:
    """For a student's home: the students' notice in force and their confirmation."""
    if not user.has_role(Role.STUDENT):
        return StudentNoticeState(None, None)
    return StudentNoticeState(current_student_notice(user.organisation), student_notice_ack(user))


# Issue 12, deadlines for parents and the weekly digest ---------------------------------------


def parent_deadline(organisation: Organisation, kind: str) -> ParentDeadline | None:
    return ParentDeadline.objects.filter(organisation=organisation, kind=kind).first()


def _latest_consent_action():
    return (
        ConsentRecord.objects.filter(student=OuterRef("student"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )


def pending_parents(organisation: Organisation, kind: str) -> QuerySet[User]:
    """Active parents who have not done `kind` yet: not confirmed the notice in force, or with
    an active child whose consent in force is not «дано». Families who decline Sferum
    (`declined_family_ids`) are left out: nobody presses them. Two queries, whatever the size."""
    parents = User.objects.active_in(organisation).with_role(Role.PARENT)
    if kind == ParentTask.NOTICE:
        notice = current_notice(organisation)
        if notice is None:
            return parents.none()
        parents = parents.exclude(
            Exists(NoticeAcknowledgement.objects.filter(notice=notice, parent=OuterRef("pk")))
        )
    else:
        missing = (
            Guardianship.objects.filter(
                parent=OuterRef("pk"), student__is_active=True, student__organisation=organisation
            )
            .annotate(state=Subquery(_latest_consent_action()))
            .filter(Q(state__isnull=True) | ~Q(state="given"))
        )
        parents = parents.filter(Exists(missing))
    return parents.exclude(pk__in=declined_family_ids(organisation)).order_by(
        "last_name", "first_name"
    )


def overdue_parents(
    organisation: Organisation, kind: str, *, today: dt.date | None = None
) -> QuerySet[User]:
    """Pending parents once the due date set by the administrator has passed."""
    deadline = parent_deadline(organisation, kind)
    today = today or timezone.localdate()
    if deadline is None or today <= deadline.due_date:
        return User.objects.none()
    return pending_parents(organisation, kind)


def overdue_consent_student_ids(
    organisation: Organisation, *, today: dt.date | None = None
) -> frozenset[int]:
    """Active students without a consent in force past the consent's due date (for the
    «просрочено» badge and filter of the consents list), families who decline left out."""
    deadline = parent_deadline(organisation, ParentTask.CONSENT)
    today = today or timezone.localdate()
    if deadline is None or today <= deadline.due_date:
        return frozenset()
    latest = (
        ConsentRecord.objects.filter(student=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )
    ids = (
        User.objects.active_in(organisation)
        .with_role(Role.STUDENT)
        .annotate(state=Subquery(latest))
        .filter(Q(state__isnull=True) | ~Q(state="given"))
        .exclude(pk__in=declined_family_ids(organisation))
        .values_list("pk", flat=True)
    )
    return frozenset(ids)


def parents_to_remind_in_person(organisation: Organisation, kind: str) -> QuerySet[User]:
    """Pending parents without an e-mail address: the administrator reminds them in person."""
    return pending_parents(organisation, kind).filter(email="")


def parent_reminder_history(deadline: ParentDeadline) -> dict[int, tuple[int, dt.date]]:
    """Each parent's reminders under `deadline` so far: (how many, the day of the last)."""
    rows = (
        ParentReminder.objects.filter(
            organisation_id=deadline.organisation_id,
            kind=deadline.kind,
            on_date__gte=deadline.reminders_from,
        )
        .values("parent_id")
        .annotate(n=Count("pk"), last=Max("on_date"))
    )
    return {row["parent_id"]: (row["n"], row["last"]) for row in rows}


def recent_parent_reminders(organisation: Organisation, kind: str, limit: int = 20):
    return ParentReminder.objects.filter(organisation=organisation, kind=kind).select_related(
        "parent"
    )[:limit]


def digest_recipients(organisation: Organisation) -> list[str]:
    """The director and the administrators who have an e-mail address."""
    return list(
        User.objects.active_in(organisation)
        .with_role(Role.DIRECTOR, Role.ADMIN)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )


def week_changes(organisation: Organisation, *, since: dt.date, until: dt.date) -> list:
    """The audit entries of the days `since`..`until` (both included), counted by action, as
    (label, count), the most frequent first."""
    rows = (
        organisation_entries(organisation.pk, date_from=since, date_to=until)
        .order_by()
        .values("action")
        .annotate(n=Count("pk"))
    )
    counted = [(action_label(row["action"]), row["n"]) for row in rows]
    return sorted(counted, key=lambda item: (-item[1], item[0]))


def weekly_digest_context(organisation: Organisation, *, week_start: dt.date) -> dict:
    """What the weekly digest says: the rollout in numbers, what is overdue, what changed in
    the seven days before `week_start`."""
    summary = rollout_summary(organisation)
    overdue_staff = (
        list(acknowledgement_rows(summary.version, status=AckFilter.OVERDUE, query=""))
        if summary.version is not None
        else []
    )
    since = week_start - dt.timedelta(days=7)
    return {
        "organisation": organisation,
        "summary": summary,
        "notice_counts": notice_counts(organisation, today=week_start),
        "overdue_staff": overdue_staff,
        "overdue_notice": list(overdue_parents(organisation, ParentTask.NOTICE, today=week_start)),
        "overdue_consent": list(
            overdue_parents(organisation, ParentTask.CONSENT, today=week_start)
        ),
        "since": since,
        "until": week_start - dt.timedelta(days=1),
        "changes": week_changes(organisation, since=since, until=week_start - dt.timedelta(days=1)),
    }
