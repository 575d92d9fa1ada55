"""What pages read about the rollout: the request and its timeline, teachers' statuses, the
§5.1 checklist and the dashboard's summary. The families' numbers the dashboard shows come
from `families.selectors`; the weekly digest reads these in `portal.selectors`. Nothing here
writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import formataddr

from django.db.models import Count, Q, QuerySet

from accounts.models import Organisation, Role, StudyGroup, User
from acknowledgements.models import DocumentVersion
from acknowledgements.selectors import (
    acknowledgement_progress,
    current_version,
    is_overdue,
)
from cdt_portal.audit import action_label, history
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Job
from cdt_portal.numbers import NumbersCounter, counted_once
from cdt_portal.paging import search_people
from cdt_portal.progress import Progress
from families.selectors import (
    FamilyCounts,
    NoticeCounts,
    family_counts,
    notice_counts,
)

from .actions import REQUEST_DETAILS_CHANGED, SFERUM_STATUS_CHANGED
from .documents import build_registration_email
from .models import (
    TRANSITIONS,
    AmendmentItem,
    AmendmentState,
    RegistrationRequest,
    RequestStatus,
    SferumStatus,
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
    # One line whatever is stored: a line break in a header is refused by Django.
    message.from_email = formataddr((" ".join(organisation.short_name.split()), organisation.email))
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


@dataclass(frozen=True)
class DashboardNumbers:
    """Every number of the dashboard that counts the organisation's people."""

    summary: RolloutSummary
    staff_statuses: list[StaffStatusRow]
    amendments: Progress
    notices: NoticeCounts


def _count_dashboard(organisation: Organisation) -> DashboardNumbers:
    return DashboardNumbers(
        summary=rollout_summary(organisation),
        staff_statuses=staff_status_counts(organisation),
        amendments=amendment_summary(organisation),
        notices=notice_counts(organisation),
    )


def dashboard_numbers(organisation: Organisation) -> DashboardNumbers:
    """The dashboard's numbers, counted once per change of the organisation, by the worker
    right after it (`cdt_portal.numbers`): at 50,000 people counting them is the page's cost."""
    return counted_once(organisation.pk, DASHBOARD, lambda: _count_dashboard(organisation))


# Registered with the core in `OnboardingConfig.ready`: kept counted for every organisation.
DASHBOARD = "dashboard"
DASHBOARD_COUNTER = NumbersCounter(
    compute=lambda ids: {
        organisation.pk: _count_dashboard(organisation)
        for organisation in Organisation.objects.filter(pk__in=ids)
    },
    every_id=lambda: list(Organisation.objects.values_list("pk", flat=True)),
)


# --- Background work ------------------------------------------------------------------------


def send_job(registration: RegistrationRequest) -> Job | None:
    """The request's latest sending job, while it runs or when it failed (the page shows its
    progress or its reason); None once it is done (the request's state says the rest). While
    it is not finished the page offers no other way to send the letter, and marking it sent
    from the organisation's mail is refused (tests/onboarding/test_request.py)."""
    job = (
        Job.objects.filter(key__startswith=f"registration-send:{registration.pk}:")
        .order_by("-created_at", "-pk")
        .first()
    )
    if job is None or job.status == Job.Status.DONE:
        return None
    return job


# Issue 12, §4.7: the director and administrators use the учебный профиль too -------------


@dataclass(frozen=True)
class StaffStatusRow:
    """One group of staff on the dashboard: who they are, how many are verified, and the
    people not verified yet (with their current status)."""

    label: str
    verified: Progress
    not_verified: list[User]


def _staff_row(label: str, people: QuerySet) -> StaffStatusRow:
    listed = list(people.select_related("sferum_status").order_by("last_name", "first_name"))
    not_verified = [p for p in listed if _sferum_status_of(p) != SferumStatus.VERIFIED]
    return StaffStatusRow(
        label=label,
        verified=Progress(len(listed) - len(not_verified), len(listed)),
        not_verified=not_verified,
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
