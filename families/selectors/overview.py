"""A family's page, a group's families, and the dashboard's numbers about families."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)

from accounts.models import Organisation, Role, StudyGroup, User
from cdt_portal.progress import Progress

from ..models import (
    ConsentRecord,
    FamilyChoice,
    NoticeAcknowledgement,
    ParentNotice,
    ParentTask,
    StudentNoticeAcknowledgement,
)
from .deadlines import overdue_parents
from .notices import current_notice, current_student_notice


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
