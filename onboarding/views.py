from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Role, StudyGroup, User
from accounts.permissions import MANAGERS, roles_required


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
    return render(
        request,
        "onboarding/dashboard.html",
        {
            "organisation": organisation,
            "counts": counts,
            "group_count": StudyGroup.objects.filter(organisation=organisation).count(),
            "administrators": organisation.platform_administrators,
        },
    )
