from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy

from cdt_portal.paging import paginate, search_people

from .forms import LoginForm, OrganisationForm, ProfileForm
from .models import Guardianship, Organisation, Role, StudyGroup, User
from .navigation import home_url
from .permissions import (
    FAMILIES,
    MANAGERS,
    TEACHERS,
    get_group_for_user,
    get_person_for_user,
    login_only,
    public,
    roles_required,
)


@public
def home(request: HttpRequest) -> HttpResponse:
    """Signed in: the role's home. Anonymous: how students and parents join Sferum."""
    if request.user.is_authenticated:
        return redirect(home_url(request.user))
    organisations = list(Organisation.objects.all()[:2])
    if len(organisations) == 1:
        return _render_join(request, organisations[0])
    return render(
        request, "accounts/organisations.html", {"organisations": Organisation.objects.all()}
    )


@public
def join(request: HttpRequest, slug: str) -> HttpResponse:
    return _render_join(request, get_object_or_404(Organisation, slug=slug))


def _render_join(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    return render(
        request,
        "accounts/join.html",
        {
            "organisation": organisation,
            "administrators": organisation.platform_administrators,
        },
    )


@roles_required(TEACHERS)
def teacher_home(request: HttpRequest) -> HttpResponse:
    from acknowledgements.services import reading_status  # acknowledgements builds on accounts

    groups = request.user.taught_groups.annotate(student_count=Count("students")).order_by("name")
    return render(
        request,
        "accounts/teacher_home.html",
        {"groups": groups, "reading": reading_status(request.user)},
    )


@roles_required(FAMILIES)
def family_home(request: HttpRequest) -> HttpResponse:
    from acknowledgements.markup import render_markdown
    from onboarding.models import ConsentRecord, NoticeAcknowledgement
    from onboarding.parents import current_notice

    user = request.user
    groups_with_teachers = Prefetch(
        "study_groups", queryset=StudyGroup.objects.prefetch_related("teachers")
    )
    # Every child's consent history in one query; the newest record is the one in force.
    consent_history = Prefetch(
        "consents", queryset=ConsentRecord.objects.order_by("at", "pk"), to_attr="consent_history"
    )
    children = (
        User.objects.filter(parent_links__parent=user, organisation_id=user.organisation_id)
        .prefetch_related(groups_with_teachers, consent_history)
        .order_by("last_name", "first_name")
        if user.has_role(Role.PARENT)
        else User.objects.none()
    )
    own_groups = (
        user.study_groups.prefetch_related("teachers") if user.has_role(Role.STUDENT) else []
    )
    notice = current_notice(user.organisation) if user.has_role(Role.PARENT) else None
    return render(
        request,
        "accounts/family_home.html",
        {
            "notice": notice,
            "notice_html": render_markdown(notice.text) if notice else "",
            "notice_ack": NoticeAcknowledgement.objects.filter(notice=notice, parent=user).first()
            if notice
            else None,
            "organisation": user.organisation,
            "children": children,
            "own_groups": own_groups,
            "administrators": user.organisation.platform_administrators,
        },
    )


ROLE_FILTERS = {value: label for value, label in Role.choices}


@roles_required(MANAGERS)
def people(request: HttpRequest) -> HttpResponse:
    role = request.GET.get("role", "")
    query = request.GET.get("q", "").strip()
    persons = User.objects.filter(organisation_id=request.user.organisation_id).prefetch_related(
        "user_roles"
    )
    if role in ROLE_FILTERS:
        persons = persons.with_role(role)
    if query:
        persons = search_people(persons, query)
    return render(
        request,
        "accounts/people.html",
        {
            **paginate(request, persons),
            "role_filters": Role.choices,
            "role": role,
            "query": query,
        },
    )


@roles_required(MANAGERS)
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request, pk)
    links = Guardianship.objects.select_related("parent", "student")
    return render(
        request,
        "accounts/person_detail.html",
        {
            "person": person,
            "parents": [link.parent for link in links.filter(student=person)],
            "children": [link.student for link in links.filter(parent=person)],
            "taught_groups": person.taught_groups.all(),
            "study_groups": person.study_groups.all(),
            "invitation": person.invitations.first(),
        },
    )


@roles_required(MANAGERS | TEACHERS)
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_group_for_user(request, pk)
    students = group.students.prefetch_related(
        Prefetch("parent_links", queryset=Guardianship.objects.select_related("parent"))
    ).order_by("last_name", "first_name")
    return render(request, "accounts/group_detail.html", {"group": group, "students": students})


@roles_required(MANAGERS)
def organisation_settings(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    form = OrganisationForm(request.POST or None, instance=organisation)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Сведения об организации сохранены.")
            return redirect("organisation_settings")
        messages.error(request, "Проверьте поля формы: изменения не сохранены.")
    return render(request, "accounts/organisation_form.html", {"form": form})


@login_only
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Контактные данные сохранены.")
            return redirect("profile")
        messages.error(request, "Проверьте поля формы: изменения не сохранены.")
    return render(request, "accounts/profile.html", {"form": form})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "emails/password_reset.txt"
    html_email_template_name = "emails/password_reset.html"
    subject_template_name = "emails/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")


login_view = public(LoginView.as_view())
logout_view = public(auth_views.LogoutView.as_view())
password_change_view = login_only(
    auth_views.PasswordChangeView.as_view(success_url=reverse_lazy("password_change_done"))
)
password_change_done_view = login_only(auth_views.PasswordChangeDoneView.as_view())
password_reset_view = public(PasswordResetView.as_view())
password_reset_done_view = public(auth_views.PasswordResetDoneView.as_view())
password_reset_confirm_view = public(
    auth_views.PasswordResetConfirmView.as_view(success_url=reverse_lazy("password_reset_complete"))
)
password_reset_complete_view = public(auth_views.PasswordResetCompleteView.as_view())
