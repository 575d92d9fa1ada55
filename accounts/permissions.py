"""Role rules for views, and one access helper per object type.

- anonymous person on a protected page: redirect to the login page;
- signed in without the role: 403;
- an object of another organisation: 404, exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from cdt_portal.access import View

from .models import Guardianship, ImportBatch, Role, StudyGroup, User, UserRole

# The rules views use. Each is a set of roles; a person holding any of them passes.
MANAGERS = frozenset({Role.ADMIN, Role.DIRECTOR})
ADMINS = frozenset({Role.ADMIN})
TEACHERS = frozenset({Role.TEACHER})
FAMILIES = frozenset({Role.STUDENT, Role.PARENT})
# The Sferum status page (regulation §4.7): the director and the administrators use the
# учебный профиль with a verified «учитель» status too, not only the teachers.
SFERUM_STATUS_HOLDERS = TEACHERS | MANAGERS
# A specialist of an education department: a member of a department, not of an organisation.
DEPARTMENT = frozenset({Role.DEPARTMENT})


def roles_required(roles: frozenset[str]) -> Callable[[View], View]:
    """A signed-in member holding one of `roles`: of an organisation, or for the department
    role of a department (such a person belongs to no organisation)."""
    member_of = "department_id" if roles == DEPARTMENT else "organisation_id"

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if getattr(user, member_of) is None or not user.has_role(*roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.access_rule = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator


def get_child_for_parent(request: HttpRequest, pk: int) -> User:
    """One of the signed-in parent's own children; any other child is 404."""
    return get_object_or_404(
        User,
        pk=pk,
        organisation_id=request.user.organisation_id,
        parent_links__parent=request.user,
    )


def get_student_for_user(request: HttpRequest, pk: int) -> User:
    """A student of the person's organisation, or someone still linked to a parent (whose role
    was taken away later: the link can still be removed); anyone else is 404, so no parent is
    ever linked to a teacher or the director."""
    return get_object_or_404(
        User.objects.prefetch_related("user_roles").filter(
            Q(Exists(UserRole.objects.filter(user=OuterRef("pk"), role=Role.STUDENT)))
            | Q(Exists(Guardianship.objects.filter(student=OuterRef("pk"))))
        ),
        pk=pk,
        organisation_id=request.user.organisation_id,
    )


def get_person_for_user(request: HttpRequest, pk: int) -> User:
    return get_object_or_404(
        User.objects.prefetch_related("user_roles"),
        pk=pk,
        organisation_id=request.user.organisation_id,
    )


def get_group_for_user(request: HttpRequest, pk: int) -> StudyGroup:
    """A group of the person's organisation that they manage or teach; anything else is 404,
    so a teacher learns nothing about colleagues' groups."""
    group = get_object_or_404(
        StudyGroup.objects.prefetch_related("teachers", "students"),
        pk=pk,
        organisation_id=request.user.organisation_id,
    )
    user = request.user
    if user.has_role(Role.ADMIN, Role.DIRECTOR):
        return group
    if user.has_role(Role.TEACHER) and user in group.teachers.all():
        return group
    raise Http404("Нет такого объединения")


def get_batch_for_user(request: HttpRequest, pk: int) -> ImportBatch:
    return get_object_or_404(ImportBatch, pk=pk, organisation_id=request.user.organisation_id)
