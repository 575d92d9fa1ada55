from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Role, StudyGroup, User
from accounts.permissions import MANAGERS, roles_required
from acknowledgements.models import REGULATION_CODE, Acknowledgement
from acknowledgements.services import current_version, readers, reading_status


@roles_required(MANAGERS)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The rollout at a glance for the administrator and the director."""
    organisation = request.user.organisation
    people = User.objects.filter(organisation=organisation, is_active=True)
    counts = people.aggregate(
        **{
            role: Count("pk", filter=Q(user_roles__role=role), distinct=True)
            for role in Role.values
        }
    )
    version = current_version(organisation, REGULATION_CODE)
    staff = readers(organisation)
    staff_total = staff.count()
    staff_confirmed = (
        Acknowledgement.objects.filter(version=version, person__in=staff).count() if version else 0
    )
    return render(
        request,
        "onboarding/dashboard.html",
        {
            "version": version,
            "staff_total": staff_total,
            "staff_confirmed": staff_confirmed,
            "staff_percent": round(100 * staff_confirmed / staff_total) if staff_total else 0,
            "reading": reading_status(request.user),
            "organisation": organisation,
            "counts": counts,
            "group_count": StudyGroup.objects.filter(organisation=organisation).count(),
            "administrators": organisation.platform_administrators,
        },
    )
