"""The administrator manages people, groups and invitations; people accept invitations."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cdt_portal.access import public
from cdt_portal.paging import contains_any_case, paginate
from cdt_portal.pdf import pdf_response

from .forms import GroupForm, GroupLinkForm, ParentLinkForm, PersonForm
from .invitations import (
    InvitationInvalid,
    check_invitation,
    invitation_accept,
    invitation_issue,
    invitation_sheet,
)
from .models import Guardianship, Role, StudyGroup, User
from .permissions import (
    ADMINS,
    MANAGERS,
    TEACHERS,
    get_group_for_user,
    get_person_for_user,
    roles_required,
)
from .services import guardianship_link, person_create, person_set_active, user_set_roles


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@roles_required(ADMINS)
def person_new(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        roles = data.pop("roles")
        try:
            person = person_create(
                organisation=request.user.organisation, actor=request.user, roles=roles, **data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Добавлен(а): {person.full_name}. Пригласите в портал.")
            return redirect("person_detail", pk=person.pk)
    return render(request, "accounts/person_form.html", {"form": form, "person": None})


@roles_required(ADMINS)
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request, pk)
    form = PersonForm(
        request.POST or None, instance=person, initial={"roles": sorted(person.roles)}
    )
    if request.method == "POST" and form.is_valid():
        roles = form.cleaned_data["roles"]
        if person == request.user and Role.ADMIN not in roles:
            form.add_error("roles", "Нельзя снять с себя роль администратора.")
        else:
            form.save()
            user_set_roles(user=person, roles=roles)
            messages.success(request, "Изменения сохранены.")
            return redirect("person_detail", pk=person.pk)
    if request.method == "POST":
        messages.error(request, "Изменения не сохранены: проверьте поля формы.")
    return render(request, "accounts/person_form.html", {"form": form, "person": person})


@roles_required(ADMINS)
def person_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (after a confirmation page) or reactivate a person."""
    person = get_person_for_user(request, pk)
    if request.method == "POST":
        active = request.POST.get("active") == "1"
        if person == request.user and not active:
            messages.error(request, "Нельзя отключить собственную учётную запись.")
        else:
            person_set_active(person=person, active=active)
            messages.success(
                request,
                f"{person.full_name}: учётная запись {'включена' if active else 'отключена'}.",
            )
        return redirect("person_detail", pk=person.pk)
    return render(request, "accounts/person_deactivate.html", {"person": person})


@require_POST
@roles_required(ADMINS)
def person_invite(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request, pk)
    if not person.is_active:
        messages.error(request, "Учётная запись отключена: сначала включите её.")
        return redirect("person_detail", pk=person.pk)
    try:
        issued = invitation_issue(user=person, actor=request.user, base_url=_base_url(request))
    except Exception as exc:  # the mail server refused: say so, the link is still valid
        messages.error(request, f"Письмо не отправлено: {exc}. Распечатайте приглашение.")
        return redirect("person_detail", pk=person.pk)
    if issued.emailed:
        messages.success(request, f"Приглашение отправлено на {person.email}.")
    else:
        messages.warning(
            request,
            "У человека нет e-mail: распечатайте приглашение на странице «Приглашения».",
        )
    return redirect("person_detail", pk=person.pk)


@roles_required(ADMINS)
def invitations_print(request: HttpRequest) -> HttpResponse:
    """Slips to hand out for people who have not chosen a password yet."""
    waiting = (
        User.objects.filter(organisation_id=request.user.organisation_id, is_active=True)
        .filter(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .prefetch_related("user_roles")
        .order_by("last_name", "first_name")
    )
    if request.method == "POST":
        chosen = waiting.filter(pk__in=request.POST.getlist("people"))
        if not chosen:
            messages.error(request, "Отметьте, кому напечатать приглашения.")
            return redirect("invitations_print")
        issued = [
            invitation_issue(
                user=person, actor=request.user, base_url=_base_url(request), send_email=False
            )
            for person in chosen
        ]
        filename, pdf = invitation_sheet(issued)
        return pdf_response(filename, pdf, inline=False)
    return render(request, "accounts/invitations_print.html", {**paginate(request, waiting, 200)})


@public
def invitation_accept_view(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    try:
        invitation = check_invitation(pk, token)
    except InvitationInvalid as exc:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"reason": exc.message, "invitation": _any_invitation(pk)},
            status=410,
        )
    form = SetPasswordForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = invitation_accept(invitation=invitation, password=form.cleaned_data["new_password1"])
        login(request, user, backend="accounts.backends.UsernameOrEmailBackend")
        messages.success(request, "Пароль сохранён. Добро пожаловать!")
        return redirect("home")
    return render(
        request, "accounts/invitation_accept.html", {"form": form, "person": invitation.user}
    )


def _any_invitation(pk: int):
    from .models import Invitation

    return Invitation.objects.select_related("user__organisation").filter(pk=pk).first()


@roles_required(ADMINS)
def person_parents(request: HttpRequest, pk: int) -> HttpResponse:
    """Link a parent to a student (or unlink)."""
    student = get_person_for_user(request, pk)
    form = ParentLinkForm(request.POST or None, organisation=request.user.organisation)
    if request.method == "POST":
        if "unlink" in request.POST:
            Guardianship.objects.filter(student=student, parent_id=request.POST["unlink"]).delete()
            messages.success(request, "Связь с родителем удалена.")
            return redirect("person_detail", pk=student.pk)
        if form.is_valid():
            guardianship_link(parent=form.cleaned_data["parent"], student=student)
            messages.success(request, "Родитель привязан.")
            return redirect("person_detail", pk=student.pk)
    return render(request, "accounts/person_parents.html", {"student": student, "form": form})


# Groups ------------------------------------------------------------------------------------


@roles_required(MANAGERS | TEACHERS)
def group_list(request: HttpRequest) -> HttpResponse:
    groups = StudyGroup.objects.filter(organisation_id=request.user.organisation_id)
    if not request.user.has_role(Role.ADMIN, Role.DIRECTOR):
        groups = groups.filter(teachers=request.user)
    query = request.GET.get("q", "").strip()
    if query:
        for word in query.split():
            groups = groups.filter(contains_any_case("name", word))
    groups = (
        groups.annotate(student_count=Count("students", distinct=True))
        .prefetch_related("teachers")
        .order_by("name")
    )
    return render(
        request, "accounts/group_list.html", {**paginate(request, groups), "query": query}
    )


@roles_required(ADMINS)
def group_new(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None, organisation=request.user.organisation)
    if request.method == "POST" and form.is_valid():
        group = form.save()
        messages.success(request, f"Объединение «{group.name}» создано.")
        return redirect("group_detail", pk=group.pk)
    return render(request, "accounts/group_form.html", {"form": form, "group": None})


@roles_required(ADMINS | TEACHERS)
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_group_for_user(request, pk)
    if request.user.has_role(Role.ADMIN):
        form = GroupForm(request.POST or None, instance=group, organisation=group.organisation)
    else:
        form = GroupLinkForm(request.POST or None, instance=group)
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Объединение сохранено.")
            return redirect("group_detail", pk=group.pk)
        messages.error(request, "Не сохранено: проверьте поля формы.")
    return render(request, "accounts/group_form.html", {"form": form, "group": group})


# Staff import ------------------------------------------------------------------------------

IMPORT_MAX_BYTES = 5 * 1024 * 1024
IMPORT_ROLES = [
    (Role.TEACHER, "педагоги"),
    (Role.STUDENT, "обучающиеся"),
    (Role.PARENT, "родители"),
]


def get_batch_for_user(request: HttpRequest, pk: int):
    from django.shortcuts import get_object_or_404

    from .models import ImportBatch

    return get_object_or_404(ImportBatch, pk=pk, organisation_id=request.user.organisation_id)


@roles_required(ADMINS)
def staff_import(request: HttpRequest) -> HttpResponse:
    from .models import ImportBatch
    from .staff_import import ImportFileError, preview_staff_import

    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        role = request.POST.get("role", Role.TEACHER)
        if role not in dict(IMPORT_ROLES):
            role = Role.TEACHER
        if upload is None:
            error = "Выберите файл CSV или XLSX."
        elif upload.size > IMPORT_MAX_BYTES:
            error = "Файл больше 5 МБ. Разделите список на несколько файлов."
        else:
            content = upload.read()
            try:  # whole-file problems are told now, before anything is stored
                preview_staff_import(
                    organisation=request.user.organisation, content=content, filename=upload.name
                )
            except ImportFileError as exc:
                error = exc.message
            else:
                batch = ImportBatch.objects.create(
                    organisation=request.user.organisation,
                    created_by=request.user,
                    filename=upload.name[:300],
                    content=content,
                    role=role,
                )
                return redirect("staff_import_preview", pk=batch.pk)
    return render(request, "accounts/import_upload.html", {"error": error, "roles": IMPORT_ROLES})


@roles_required(ADMINS)
def staff_import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    from .import_services import ImportRefused, batch_apply, batch_cancel, batch_preview
    from .models import ImportBatch
    from .staff_import import ImportFileError

    batch = get_batch_for_user(request, pk)
    if request.method == "POST":
        if "cancel" in request.POST:
            batch_cancel(batch=batch)
            messages.info(request, "Загрузка отменена: никто не добавлен.")
            return redirect("people")
        try:
            added = batch_apply(batch=batch, actor=request.user)
        except ImportRefused as exc:
            messages.error(request, exc.message)
            return redirect("staff_import_preview", pk=batch.pk)
        messages.success(
            request,
            f"Добавлено: {len(added)}. Пригласите их в портал (e-mail или печать приглашений).",
        )
        return redirect("people")
    preview, error = None, ""
    if batch.status == ImportBatch.Status.PENDING:
        try:
            preview = batch_preview(batch)
        except ImportFileError as exc:
            error = exc.message
    return render(
        request,
        "accounts/import_preview.html",
        {
            "batch": batch,
            "preview": preview,
            "error": error,
            "role_label": dict(IMPORT_ROLES)[batch.role]
            if batch.role in dict(IMPORT_ROLES)
            else batch.role,
        },
    )
