"""What pages read about the rollout: the family page, the request, counts and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from accounts.models import Organisation, Role, StudyGroup, User

from .models import ConsentRecord, NoticeAcknowledgement, ParentNotice


def current_notice(organisation: Organisation) -> ParentNotice | None:
    return ParentNotice.objects.filter(organisation=organisation).first()


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
        .prefetch_related(groups_with_teachers, consent_history)
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
