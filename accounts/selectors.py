"""What pages read about organisations, people and groups."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from .models import Organisation, StudyGroup, User


def public_organisations() -> list[Organisation]:
    """At most two organisations: enough to tell a one-institution deployment from a shared one."""
    return list(Organisation.objects.all()[:2])


def taught_groups(teacher: User) -> QuerySet[StudyGroup]:
    return teacher.taught_groups.annotate(student_count=Count("students")).order_by("name")
