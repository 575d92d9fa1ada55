"""What pages read about families: the parents' and the students' notices and who confirmed
them, the consents and their documents, the families' choices of channel, the parents'
deadlines and who is pending, overdue or due a reminder, the reminders sent (letters of the
core's outbox, kind `parent_reminder`), and the counts the rollout's dashboard shows (read by
`onboarding`, which sits above). Nothing here writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    CharField,
    Count,
    DateField,
    Exists,
    F,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User
from acknowledgements.models import text_sha256
from cdt_portal.errors import PortalError
from cdt_portal.markup import render_markdown
from cdt_portal.models import AuditEntry, Delivery
from cdt_portal.paging import search_people
from cdt_portal.progress import Progress
from cdt_portal.reminder_schedule import reminder_due

from .models import (
    AuthorityDocument,
    ChildDocument,
    ConsentAction,
    ConsentDetails,
    ConsentRecord,
    ConsentText,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentDeadline,
    ParentNotice,
    ParentTask,
    SignatureTerms,
    StudentConsent,
    StudentNotice,
    StudentNoticeAcknowledgement,
)

# The notices ----------------------------------------------------------------------------------


def current_notice(organisation: Organisation) -> ParentNotice | None:
    return ParentNotice.objects.filter(organisation=organisation).first()


def notice_predates_messenger(organisation: Organisation) -> bool:
    """The organisation's messenger changed after the parents' notice in force was published
    (or none is): the dashboard asks for a new notice."""
    changed_at = organisation.messenger_changed_at
    if changed_at is None:
        return False
    notice = current_notice(organisation)
    return notice is None or notice.published_at < changed_at


def default_notice_text(organisation: Organisation) -> str:
    return render_to_string("families/notice_default.md", {"organisation": organisation})


def current_student_notice(organisation: Organisation):

    return StudentNotice.objects.filter(organisation=organisation).first()


def default_student_notice_text(organisation: Organisation) -> str:
    return render_to_string("families/student_notice_default.md", {"organisation": organisation})


def student_notice_ack(student: User):
    """The student's confirmation of the students' notice in force, or None."""

    notice = current_student_notice(student.organisation)
    if notice is None:
        return None
    return StudentNoticeAcknowledgement.objects.filter(notice=notice, student=student).first()


@dataclass(frozen=True)
class StudentNoticeState:
    notice: object  # StudentNotice | None
    ack: object  # StudentNoticeAcknowledgement | None


def student_notice_state(user: User) -> StudentNoticeState:
    """For a student's home: the students' notice in force and their confirmation."""
    if not user.has_role(Role.STUDENT):
        return StudentNoticeState(None, None)
    return StudentNoticeState(current_student_notice(user.organisation), student_notice_ack(user))


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


# The consents ---------------------------------------------------------------------------------


def _default_text(template_name: str, organisation: Organisation) -> str:
    return render_to_string(
        template_name,
        {
            "organisation": organisation,
            "retention_days": settings.CONSENT_RETENTION_DAYS,
            "sferum_operator": settings.SFERUM_OPERATOR,
        },
    )


def default_consent_text(organisation: Organisation) -> str:
    """The parent's consent: for their own data and their child's."""
    return _default_text("families/consent_default.md", organisation)


def default_student_consent_text(organisation: Organisation) -> str:
    """A student's own consent (from 14): in the first person, for their own data only, and
    withdrawn from their own page. An edition of `ConsentText` like the parent's, told apart
    by its text."""
    return _default_text("families/student_consent_default.md", organisation)


def default_signature_terms(organisation: Organisation) -> str:
    return render_to_string("families/signature_terms_default.md", {"organisation": organisation})


def _stored_or_new(model, organisation: Organisation, body: str):
    """The stored edition of `body` (a consent text, or the signature terms), or an unsaved one:
    the services store it with the first act signed under it."""
    found = model.objects.filter(organisation=organisation, text_sha256=text_sha256(body)).first()
    return found or model(organisation=organisation, text=body, text_sha256=text_sha256(body))


def current_signature_terms(organisation: Organisation) -> SignatureTerms:
    return _stored_or_new(SignatureTerms, organisation, default_signature_terms(organisation))


def current_consent_text(organisation: Organisation) -> ConsentText:
    """The consent text in force. Before anyone consented it is the portal's template, shown
    unsaved: the consent service stores it with the first consent."""
    # A changed template (the complete consent of issue 12) is a new edition: stored with the
    # first consent under it, while the records under the old one keep theirs.
    return _stored_or_new(ConsentText, organisation, default_consent_text(organisation))


def current_student_consent_text(organisation: Organisation) -> ConsentText:
    """The student's own consent text in force, shown unsaved until the first student gives it."""
    return _stored_or_new(ConsentText, organisation, default_student_consent_text(organisation))


def consent_state(student: User) -> ConsentRecord | None:
    """The consent in force for the student: their newest record."""
    return ConsentRecord.objects.filter(student=student).order_by("-at", "-pk").first()


# From this age a student gives their own consent too (ГК РФ ст. 26); from 18 alone.
OWN_CONSENT_AGE = 14
ADULT_AGE = 18


def age_on(birth_date: dt.date, day: dt.date) -> int:
    """Full years on `day` (born on 29 February: a year older on 1 March of other years)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


CHILD_DOCUMENT_FIELDS = ("series", "number", "issued_on", "issued_by")
CHILD_PASSPORT_NEEDED = (
    "Ребёнку исполнилось 14 лет: его личность удостоверяет паспорт. Укажите паспорт ребёнка."
)
CHILD_DOCUMENT_NEEDED = (
    "Полномочия подтверждает не свидетельство о рождении ребёнка: укажите документ, "
    "удостоверяющий личность ребёнка."
)


def child_birth_date(details: dict) -> dt.date | None:
    """The child's date of birth in a consent's details (a service's caller may give it as
    ISO text), or None."""
    born = details.get("child_birth_date")
    if isinstance(born, str):
        return dt.date.fromisoformat(born) if born else None
    return born


def with_child_document(details: dict, day: dt.date, *, required: bool = True) -> dict:
    """The consent's details with the child's identity document (the subject's, 152-ФЗ ст. 9
    ч. 4 п. 1). Left empty, it is the birth certificate that proves the parent's authority, if
    that is what the parent gave and the child is under 14 on `day`; otherwise the child's own
    document is needed (`PortalError` on `child_id_document`). From 14 a birth certificate no
    longer proves the child's identity, whichever way it is given. `required=False` (a paper
    signed on a blank printed before the document was asked for) lets it stay empty. Returns a
    new dict."""
    details = dict(details)
    born = child_birth_date(details)
    fourteen = born is not None and age_on(born, day) >= OWN_CONSENT_AGE
    given = details.get("child_id_document")
    if given:
        if fourteen and given == ChildDocument.BIRTH_CERTIFICATE:
            raise PortalError(CHILD_PASSPORT_NEEDED, field="child_id_document")
        return details
    if not fourteen and details.get("authority_document") == AuthorityDocument.BIRTH_CERTIFICATE:
        details["child_id_document"] = ChildDocument.BIRTH_CERTIFICATE
        for name in CHILD_DOCUMENT_FIELDS:
            details[f"child_id_{name}"] = details.get(f"authority_{name}")
        return details
    if not required:
        return details
    raise PortalError(
        CHILD_PASSPORT_NEEDED if fourteen else CHILD_DOCUMENT_NEEDED, field="child_id_document"
    )


def student_consent_state(student: User) -> StudentConsent | None:
    """The student's own consent in force: their newest act."""
    return StudentConsent.objects.filter(student=student).order_by("-at", "-pk").first()


# What the nightly job erases: the details of a consent a withdrawal ended, or of a student
# whose studies ended (the account switched off), once CONSENT_RETENTION_DAYS have passed.
WITHDRAWN = "withdrawn"
STUDIES_ENDED = "studies_ended"
# A parent's earlier consent, not the one in force, whose parent was unlinked from the child.
PARENT_UNLINKED = "parent_unlinked"
DEACTIVATED = "person.deactivated"  # the accounts' audit action for a switched-off account


@dataclass(frozen=True)
class ErasureDue:
    row: ConsentDetails | StudentConsent
    reason: str  # WITHDRAWN, STUDIES_ENDED or PARENT_UNLINKED
    since: dt.datetime  # the withdrawal, or the account switched off


def _studies_ended_at(student_field: str) -> Subquery:
    """When the student's account was last switched off (the audit log's entry)."""
    return Subquery(
        AuditEntry.objects.filter(
            action=DEACTIVATED,
            content_type=ContentType.objects.get_for_model(User),
            object_id=Cast(OuterRef(student_field), output_field=CharField()),
        )
        .order_by("-at", "-pk")
        .values("at")[:1]
    )


def _due(rows: QuerySet, *, student: str, act_at: str, acts: QuerySet, cutoff) -> list[ErasureDue]:
    """Of `rows` not erased yet: those whose act a withdrawal after it ended (the withdrawal no
    later than `cutoff`), those whose student's account was switched off no later than
    `cutoff` and is still off, and parents' consents whose parent was unlinked from the child
    no later than `cutoff`. `student` and `act_at` name the row's student and moment."""
    withdrawal = (
        acts.filter(
            student=OuterRef(student),
            action=ConsentAction.WITHDRAWN,
            at__gt=OuterRef(act_at),
            at__lte=cutoff,
        )
        .order_by("at", "pk")
        .values("at")[:1]
    )
    rows = rows.filter(erased_at__isnull=True).annotate(
        withdrawn_at=Subquery(withdrawal),
        left_at=_studies_ended_at(f"{student}_id"),
        student_active=F(f"{student}__is_active"),
    )
    ended = Q(left_at__lte=cutoff, student_active=False)
    due_when = Q(withdrawn_at__isnull=False) | ended
    if rows.model is ConsentDetails:  # a parent's consent: its parent may have been unlinked
        due_when |= Q(parent_unlinked_at__lte=cutoff)
    due = []
    for row in rows.filter(due_when).order_by("pk"):
        if row.withdrawn_at is not None:
            due.append(ErasureDue(row, WITHDRAWN, row.withdrawn_at))
        elif row.left_at is not None and row.left_at <= cutoff and not row.student_active:
            due.append(ErasureDue(row, STUDIES_ENDED, row.left_at))
        else:
            due.append(ErasureDue(row, PARENT_UNLINKED, row.parent_unlinked_at))
    return due


# How far apart the erasure's runs are (`families.tasks`: every night).
ERASURE_RUNS_EVERY = dt.timedelta(days=1)


def consent_data_due_for_erasure(now: dt.datetime) -> list[ErasureDue]:
    """Every consent whose identity and address data the retention no longer allows to keep,
    across organisations: the parents' (the details of a «дано» act) and the students' own.
    The law counts the retention as a limit (152-ФЗ ст. 21 ч. 5: «в срок, не превышающий
    тридцати дней»), and the job runs once a night, so a consent is due on the last run before
    its retention ends: due at the next run instead, it would be kept up to a day too long."""
    cutoff = now - (dt.timedelta(days=settings.CONSENT_RETENTION_DAYS) - ERASURE_RUNS_EVERY)
    parents = _due(
        ConsentDetails.objects.filter(record__action=ConsentAction.GIVEN),
        student="record__student",
        act_at="record__at",
        acts=ConsentRecord.objects.all(),
        cutoff=cutoff,
    )
    students = _due(
        StudentConsent.objects.filter(action=ConsentAction.GIVEN),
        student="student",
        act_at="at",
        acts=StudentConsent.objects.all(),
        cutoff=cutoff,
    )
    return parents + students


@dataclass(frozen=True)
class ConsentListing:
    students: QuerySet[User]
    groups: QuerySet[StudyGroup]


def consent_listing(
    organisation: Organisation, *, query: str = "", group_id: int | None = None
) -> ConsentListing:
    """Students with their parents' consent history and their own (from 14), each oldest first,
    found by name and group."""
    records = Prefetch(
        "consents",
        queryset=ConsentRecord.objects.select_related("parent", "details").order_by("at", "pk"),
        to_attr="consent_history",
    )
    own = Prefetch(
        "own_consents",
        queryset=StudentConsent.objects.order_by("at", "pk"),
        to_attr="own_consent_history",
    )
    students = search_people(
        User.objects.filter(organisation=organisation)
        .with_role(Role.STUDENT)
        .prefetch_related(records, own, "study_groups")
        # A paper act is recorded for one of the student's parents: none, no link to it.
        .annotate(has_parents=Exists(Guardianship.objects.filter(student=OuterRef("pk"))))
        .order_by("last_name", "first_name"),
        query,
    )
    if group_id is not None:
        students = students.filter(study_groups__pk=group_id)
    return ConsentListing(students, StudyGroup.objects.filter(organisation=organisation))


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


def consent_operator(organisation: Organisation) -> dict:
    """The organisation as the operator a consent is given to."""
    return {
        "full_name": organisation.full_name,
        "short_name": organisation.short_name,
        "address": organisation.address,
        "phone": organisation.phone.as_international if organisation.phone else "",
        "email": organisation.email,
    }


def student_consent_document_context(organisation: Organisation) -> dict:
    """What a student's own consent shows: the operator and the student's text in force."""
    text = current_student_consent_text(organisation)
    return {
        "operator": consent_operator(organisation),
        "terms_html": str(render_markdown(text.text)),
        "text": text,
    }


def consent_document_context(organisation: Organisation, details=None, student=None) -> dict:
    """What the consent document (HTML and PDF) shows: the organisation as operator, the terms
    (a recorded consent's own edition, else the edition in force), and the filled details or
    blanks; for a recorded consent, the moment it was given."""
    record_id = getattr(details, "record_id", None)
    text = (
        ConsentText.objects.get(records__pk=record_id)
        if record_id
        else current_consent_text(organisation)
    )
    return {
        "operator": consent_operator(organisation),
        "terms_html": str(render_markdown(text.text)),
        "text": text,
        "details": details,
        # When a recorded online consent was given (the record's moment); None for a preview
        # that is not recorded yet.
        "given_at": details.record.at if record_id else None,
        "child_name": (
            details.child_full_name if details else (student.full_name if student else "")
        ),
    }


# A family's page and a group's families -------------------------------------------------------


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


def _own_choices(parent: User) -> Prefetch:
    """Each child's `own_choice`: a list with the parent's FamilyChoice, if any (family home)."""

    return Prefetch(
        "family_choices", queryset=FamilyChoice.objects.filter(parent=parent), to_attr="own_choice"
    )


def family_choices(parent: User) -> dict:
    """The parent's choice per child: {student id: FamilyChoice}."""

    return {c.student_id: c for c in FamilyChoice.objects.filter(parent=parent)}


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


# The dashboard's numbers about families -------------------------------------------------------


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
    """The dashboard's notice numbers (onboarding's partial `_dashboard_notices.html` shows them
    as `notice_counts`): both notices, and the families who decline Sferum."""

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


# Deadlines for parents: who is pending, who is overdue ----------------------------------------


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
    an active child for whom no consent was ever given. Families who decline Sferum
    (`declined_family_ids`) are left out, and so are those who withdrew a consent: they
    decided, and nobody presses them (a consent is voluntary; the consents list shows the
    withdrawal). Two queries, whatever the size."""
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
            .filter(state__isnull=True)
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
    """Active students for whom no consent was given by the consent's due date (for the
    «просрочено» badge and filter of the consents list); families who decline, and those who
    withdrew a consent, left out (`pending_parents`)."""
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
        .filter(state__isnull=True)
        .exclude(pk__in=declined_family_ids(organisation))
        .values_list("pk", flat=True)
    )
    return frozenset(ids)


def parents_to_remind_in_person(organisation: Organisation, kind: str) -> QuerySet[User]:
    """Pending parents without an e-mail address: the administrator reminds them in person."""
    return pending_parents(organisation, kind).filter(email="")


# The parents' reminders: letters of the core's outbox -----------------------------------------

REMINDER_KIND = Delivery.Kind.PARENT_REMINDER
# The parents' pages name the states of a reminder as they always have: a parent without an
# e-mail is one the administrator reminds in person.
REMINDER_STATUS_LABELS = {
    **dict(Delivery.Status.choices),
    Delivery.Status.NO_EMAIL: "нет e-mail: напомнить лично",
}


def parent_reminders_job_key(organisation_id: int, on_date: dt.date) -> str:
    """One job per organisation and day sends that day's reminders of both kinds."""
    return f"parent-reminders:{organisation_id}:{on_date:%Y-%m-%d}"


def parent_reminder_batch(organisation_id: int, kind: str, on_date: dt.date) -> str:
    """The outbox batch of one kind of reminder on one day: a batch holds each parent once, so
    a parent due for the notice and the consent gets two letters, and the day's job run again
    adds nobody. The organisation is in the name because a batch is sent by one job at a time
    (a second sender would take the first one's letter in flight for an interrupted one)."""
    return f"parent-reminders:{organisation_id}:{kind}:{on_date:%Y-%m-%d}"


def _reminders(organisation_id: int, kind: str) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        kind=REMINDER_KIND, organisation_id=organisation_id, data__kind=kind
    )


def _on_date():
    """The day a reminder was due, kept in its letter's data (`on_date`, ISO)."""
    return Cast(KeyTextTransform("on_date", "data"), DateField())


def parent_reminder_history(deadline: ParentDeadline) -> dict[int, tuple[int, dt.date]]:
    """Each parent's reminders under `deadline` so far: (how many, the day of the last). Every
    letter counts, whatever became of it (one whose sending was not confirmed may have
    arrived, one not yet sent today is today's), but one withdrawn as its turn came: the
    parent had done what it asked, and was never reminded."""
    rows = (
        _reminders(deadline.organisation_id, deadline.kind)
        .exclude(status=Delivery.Status.WITHDRAWN)
        .annotate(on_date=_on_date())
        .filter(on_date__gte=deadline.reminders_from)
        .values("person_id")
        .annotate(n=Count("pk"), last=Max("on_date"))
        .order_by()
    )
    return {row["person_id"]: (row["n"], row["last"]) for row in rows}


def parents_due_reminder(deadline: ParentDeadline, *, today: dt.date) -> list[User]:
    """The pending parents (`pending_parents`: families who decline left out) whose reminder
    under `deadline` is due `today` by the shared schedule (`reminder_due`): never twice a
    day, at most REMINDER_MAX times."""
    history = parent_reminder_history(deadline)
    due = []
    for parent in pending_parents(deadline.organisation, deadline.kind):
        count, last = history.get(parent.pk, (0, None))
        if reminder_due(
            today=today,
            start=deadline.reminders_from,
            due=deadline.due_date,
            sent_count=count,
            last_sent=last,
        ):
            due.append(parent)
    return due


@dataclass(frozen=True)
class ParentReminderRow:
    """One reminder as the parents' pages list it."""

    on_date: dt.date
    parent: User
    status: str
    status_label: str
    reason: str


def recent_parent_reminders(
    organisation: Organisation, kind: str, limit: int = 20
) -> list[ParentReminderRow]:
    """The newest reminders of `kind` (the letters of the outbox), newest first."""
    letters = (
        _reminders(organisation.pk, kind)
        .annotate(on_date=_on_date())
        .select_related("person")
        .order_by("-on_date", "-pk")[:limit]
    )
    return [
        ParentReminderRow(
            on_date=letter.on_date,
            parent=letter.person,
            status=letter.status,
            status_label=REMINDER_STATUS_LABELS.get(letter.status, letter.status),
            reason=letter.reason,
        )
        for letter in letters
    ]
