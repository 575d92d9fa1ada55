"""The parents' and the students' notices, and who has confirmed them."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Prefetch,
)
from django.template.loader import render_to_string

from accounts.models import Guardianship, Organisation, Role, StudyGroup, User

from ..models import (
    NoticeAcknowledgement,
    ParentNotice,
    StudentNotice,
    StudentNoticeAcknowledgement,
)


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
