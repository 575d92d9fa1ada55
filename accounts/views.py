from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_safe

from cdt_portal.access import login_only, public
from cdt_portal.errors import PortalError
from cdt_portal.paging import paginate

from .forms import OrganisationForm
from .models import INSTITUTION_ROLE_CHOICES, Organisation
from .permissions import (
    FAMILIES,
    MANAGERS,
    TEACHERS,
    get_group_for_user,
    get_person_for_user,
    roles_required,
)
from .roles import may_edit_group, may_open_account_of
from .selectors import (
    group_students,
    latest_person_delivery,
    login_failures,
    people_list,
    person_record,
    privacy_context,
)
from .services import organisation_update


@public
def join(request: HttpRequest, slug: str) -> HttpResponse:
    return render_join(request, get_object_or_404(Organisation, slug=slug))


def render_join(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    return render(
        request,
        "accounts/join.html",
        {
            "organisation": organisation,
            "administrators": organisation.platform_administrators,
        },
    )


@roles_required(MANAGERS)
def people(request: HttpRequest) -> HttpResponse:
    role = request.GET.get("role", "")
    query = request.GET.get("q", "").strip()
    persons = people_list(organisation_id=request.user.organisation_id, role=role, query=query)
    return render(
        request,
        "accounts/people.html",
        {
            **paginate(request, persons, organisation_id=request.user.organisation_id),
            "role_filters": INSTITUTION_ROLE_CHOICES,
            "role": role,
            "query": query,
        },
    )


@roles_required(MANAGERS)
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request, pk)
    return render(
        request,
        "accounts/person_detail.html",
        {
            "person": person,
            "record": person_record(person),
            "letter": latest_person_delivery(person),
            "login_failures": login_failures(person),
            # Only whoever stands above every role the person holds may open their account.
            "may_invite": person.is_active and may_open_account_of(request.user, person),
            # ... and only they may let a locked-out person try again (`login_unlock`).
            "may_unlock": may_open_account_of(request.user, person),
        },
    )


@roles_required(MANAGERS | TEACHERS)
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_group_for_user(request, pk)
    return render(
        request,
        "accounts/group_detail.html",
        {
            "group": group,
            "students": group_students(group),
            "may_edit": may_edit_group(request.user, group),
        },
    )


@roles_required(MANAGERS)
def organisation_settings(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    form = OrganisationForm(request.POST or None, instance=organisation)
    if request.method == "POST":
        if form.is_valid():
            try:
                organisation_update(
                    organisation=organisation, actor=request.user, data=form.cleaned_data
                )
            except PortalError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, "Сведения об организации сохранены.")
                return redirect("organisation_settings")
        messages.error(request, "Проверьте поля формы: изменения не сохранены.")
    return render(
        request,
        "accounts/organisation_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@require_GET
@login_only
def keepalive(request: HttpRequest) -> HttpResponse:
    """Pinged by the regulation page while someone reads it: the request itself counts as
    activity for `SessionTimeoutMiddleware`, so there is nothing more to do."""
    return HttpResponse(status=204)


@require_safe
@roles_required(FAMILIES | TEACHERS | MANAGERS)
def privacy(request: HttpRequest) -> HttpResponse:
    """The signed-in person's organisation's privacy policy."""
    return render(request, "accounts/privacy.html", privacy_context(request.user.organisation))


@public
@require_safe
def privacy_public(request: HttpRequest, slug: str) -> HttpResponse:
    """Any organisation's privacy policy, public, addressed like its join page."""
    organisation = get_object_or_404(Organisation, slug=slug)
    return render(request, "accounts/privacy.html", privacy_context(organisation))
