"""Pages that span the apps: each role's home and the public front page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Organisation
from accounts.permissions import FAMILIES, TEACHERS, roles_required
from accounts.selectors import public_organisations, taught_groups
from accounts.views import render_join
from acknowledgements.selectors import reading_status
from cdt_portal.access import public
from cdt_portal.markup import render_markdown
from onboarding.selectors import family_overview, student_notice_state

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
        {"groups": taught_groups(request.user), "reading": reading_status(request.user)},
    )


@roles_required(FAMILIES)
def family_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    family = family_overview(user)
    student_notice = student_notice_state(user)
    return render(
        request,
        "portal/family_home.html",
        {
            "notice": family.notice,
            "notice_html": render_markdown(family.notice.text) if family.notice else "",
            "notice_ack": family.notice_ack,
            "student_notice": student_notice.notice,
            "student_notice_html": (
                render_markdown(student_notice.notice.text) if student_notice.notice else ""
            ),
            "student_notice_ack": student_notice.ack,
            "organisation": user.organisation,
            "children": family.children,
            "own_groups": family.own_groups,
            "administrators": user.organisation.platform_administrators,
        },
    )
