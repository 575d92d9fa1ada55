"""Pages that span the apps: each role's home and the public front page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Organisation
from accounts.permissions import TEACHERS, roles_required
from accounts.selectors import public_organisations, taught_groups
from accounts.views import render_join
from acknowledgements.selectors import other_documents_to_read, reading_status
from cdt_portal.access import public

from .navigation import home_url


@public
def home(request: HttpRequest) -> HttpResponse:
    """Signed in: the role's home. Anonymous: how students and parents join Sferum."""
    if request.user.is_authenticated:
        return redirect(home_url(request.user))
    organisations = public_organisations()
    if len(organisations) == 1:
        return render_join(request, organisations[0])
    return render(
        request, "accounts/organisations.html", {"organisations": Organisation.objects.all()}
    )


@roles_required(TEACHERS)
def teacher_home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "portal/teacher_home.html",
        {
            "groups": taught_groups(request.user),
            "reading": reading_status(request.user),
            "other_documents": other_documents_to_read(request.user),
        },
    )
