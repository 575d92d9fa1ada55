"""The administrator manages people, groups and invitations; people accept invitations."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from cdt_portal import throttle
from cdt_portal.access import public
from cdt_portal.downloads import private_stored_response
from cdt_portal.errors import PortalError
from cdt_portal.inputs import parse_id
from cdt_portal.jobs import job_state
from cdt_portal.models import Job
from cdt_portal.paging import paginate

from .forms import GroupForm, GroupLinkForm, InvitationAcceptForm, ParentLinkForm, PersonForm
from .invitations import SLIPS_FILENAME, mask_email
from .models import ImportBatch, Role
from .permissions import (
    ADMINS,
    MANAGERS,
    TEACHERS,
    get_batch_for_user,
    get_group_for_user,
    get_person_for_user,
    get_student_for_user,
    roles_required,
)
from .roles import is_manager, may_edit_group
from .selectors import (
    import_apply_job,
    import_batch_checked,
    import_check_job,
    invitation_by_pk,
    invitation_code_state,
    invitation_for_link,
    latest_person_delivery,
    mailing_for_user,
    mailing_of_job,
    mailing_results,
    people_waiting_for_invitation,
    people_without_password,
    visible_groups,
)
from .services import (
    IMPORT_MAX_BYTES,
    IMPORT_ROLES,
    group_create,
    group_set_link,
    group_update,
    guardianship_link,
    guardianship_unlink,
    import_apply_start,
    import_cancel,
    import_upload,
    invitation_accept,
    invitation_code_start,
    invitation_issue,
    invitation_mailing_retry,
    invitations_email_start,
    login_unlock,
    person_create,
    person_set_active,
    person_update,
)
from .services.invitations import (
    SLIPS_KEEP,
    SLIPS_KIND,
    invitation_slips_start,
    stored_invitation_slips,
)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


@roles_required(ADMINS)
def person_new(request: HttpRequest) -> HttpResponse:
    form = PersonForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            person = person_create(
                organisation=request.user.organisation, actor=request.user, **form.cleaned_data
            )
        except PortalError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(
                request, f"Добавлен{person.gender_suffix}: {person.full_name}. Пригласите в портал."
            )
            return redirect("person_detail", pk=person.pk)
    return render(request, "accounts/person_form.html", {"form": form, "person": None})


@roles_required(MANAGERS)
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The administrator edits teachers, students and parents; the director appoints and
    removes administrators here too. What each may change is the form's and the service's
    business (`accounts.roles`)."""
    person = get_person_for_user(request, pk)
    form = PersonForm(
        request.POST or None,
        instance=person,
        initial={"roles": sorted(person.roles)},
        actor=request.user,
    )
    if request.method == "POST":
        # The actor's password, asked again for a manager's contacts, counts on the sign-in's
        # counters (tests/trust/test_secrets_are_throttled_everywhere.py).
        throttle.check(request, request.user.get_username())
    if request.method == "POST" and form.is_valid():
        try:
            person_update(person=person, actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            if exc.field == "password":
                throttle.failed(request, request.user.get_username())
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, "Изменения сохранены.")
            return redirect("person_detail", pk=person.pk)
    if request.method == "POST":
        messages.error(request, "Изменения не сохранены: проверьте поля формы.")
    return render(
        request,
        "accounts/person_form.html",
        {"form": form, "person": person},
        status=400 if form.errors else 200,
    )


@roles_required(MANAGERS)
def person_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate (after a confirmation page) or reactivate a person."""
    person = get_person_for_user(request, pk)
    if request.method == "POST":
        active = request.POST.get("active") == "1"
        try:
            person_set_active(person=person, actor=request.user, active=active)
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"{person.full_name}: учётная запись {'включена' if active else 'отключена'}.",
            )
        return redirect("person_detail", pk=person.pk)
    return render(request, "accounts/person_deactivate.html", {"person": person})


@require_POST
@roles_required(MANAGERS)
def person_invite(request: HttpRequest, pk: int) -> HttpResponse:
    """With an e-mail: a job sends the letter (the person's page shows how it goes). Without:
    a new link at once, to print."""
    person = get_person_for_user(request, pk)
    pressed_at = timezone.now()
    try:
        if person.email:
            job = invitations_email_start(
                organisation=request.user.organisation,
                people=[person],
                actor=request.user,
                base_url=_base_url(request),
            )
        else:
            invitation_issue(user=person, actor=request.user, base_url=_base_url(request))
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("person_detail", pk=person.pk)
    if person.email:
        _say_how_the_letter_goes(request, job, person, pressed_at)
    else:
        messages.warning(
            request,
            "У человека нет e-mail: распечатайте приглашение на странице «Приглашения».",
        )
    return redirect("person_detail", pk=person.pk)


def _say_how_the_letter_goes(request: HttpRequest, job, person, pressed_at) -> None:
    """What this press did: a new letter on its way, or (pressed again within 30 s) what became
    of the letter an earlier press sent; or why it could not start."""
    job.refresh_from_db()
    email = person.email
    if job.status == job.Status.FAILED:
        messages.error(request, f"Приглашение на {email} не отправлено: {job.message}")
        return
    if job.created_at >= pressed_at:
        messages.info(request, f"Приглашение отправляется на {email}.")
        return
    letter = latest_person_delivery(person)
    delivery = letter.delivery if letter else None
    if delivery is None or not delivery.finished:
        messages.info(request, f"Приглашение на {email} уже отправляется.")
    elif delivery.status == delivery.Status.SENT:
        sent_at = timezone.localtime(delivery.updated_at)
        messages.info(request, f"Приглашение на {email} уже отправлено в {sent_at:%H:%M}.")
    else:
        messages.warning(
            request,
            f"Приглашение на {email}: {delivery.get_status_display()}"
            + (f" ({delivery.reason})" if delivery.reason else "")
            + ". Нажмите ещё раз через полминуты, чтобы отправить новое.",
        )


SELECT_WITHOUT_PASSWORD = "without_password"


@roles_required(MANAGERS)
def invitations_print(request: HttpRequest) -> HttpResponse:
    """People who have not chosen a password yet: slips to print, or letters by e-mail to
    everyone selected who has an e-mail; either is a job, whose page the press leads to."""
    waiting = people_waiting_for_invitation(request.user)
    if request.method == "POST":
        # Whoever is named, in reach or not: the services refuse (and record) the others.
        ids = [parse_id(value) for value in request.POST.getlist("people")]
        chosen = people_without_password(request.user.organisation_id).filter(
            pk__in=[pk for pk in ids if pk is not None]
        )
        try:
            if "email" in request.POST:
                job = invitations_email_start(
                    organisation=request.user.organisation,
                    people=[p for p in chosen if p.email],
                    actor=request.user,
                    base_url=_base_url(request),
                )
            else:
                job = invitation_slips_start(
                    actor=request.user, people=chosen, base_url=_base_url(request)
                )
        except PortalError as exc:
            messages.error(request, exc.message)
            return redirect("invitations_print")
        if "email" in request.POST:
            return redirect("invitation_mailing", pk=mailing_of_job(job).pk)
        return redirect("invitation_slips_pdf", pk=job.pk)
    # Nobody is ticked at first; «Выбрать всех без пароля» is a link to ?select=without_password
    # (static/js/invitations.js ticks the boxes in place when JavaScript runs).
    page = paginate(request, waiting, 200)
    return render(
        request,
        "accounts/invitations_print.html",
        {
            **page,
            "select_all": request.GET.get("select") == SELECT_WITHOUT_PASSWORD,
            "select_param": SELECT_WITHOUT_PASSWORD,
            "with_email": sum(1 for person in page["page_obj"] if person.email),
            "keep_minutes": int(SLIPS_KEEP.total_seconds() // 60),
        },
    )


@roles_required(MANAGERS)
def invitation_slips_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The sheet of slips a print job stored, at once, as the acknowledgement sheet is served.
    Otherwise a page: the job's progress (static/js/progress.js reloads this address when the
    job is done, which then serves the sheet), why it failed, or that the sheet was removed.
    The sheet holds live sign-in links: only whoever pressed «Напечатать» gets it, and only for
    an hour (SLIPS_KEEP); any other job, or anyone else's, is 404."""
    job = get_object_or_404(
        Job,
        pk=pk,
        kind=SLIPS_KIND,
        started_by=request.user,
        organisation_id=request.user.organisation_id,
    )
    stored = stored_invitation_slips(job)
    if stored is not None:
        # Sent by nginx in production (`cdt_portal.downloads`), as the order and the sheet are.
        return private_stored_response(
            stored, filename=SLIPS_FILENAME, content_type="application/pdf"
        )
    return render(
        request,
        "accounts/invitation_slips.html",
        {"job": job, "keep_minutes": int(SLIPS_KEEP.total_seconds() // 60)},
    )


@roles_required(MANAGERS)
def invitation_mailing(request: HttpRequest, pk: int) -> HttpResponse:
    """A mailing's progress, then each person's result."""
    mailing = mailing_for_user(request.user.organisation_id, pk)
    return render(
        request, "accounts/invitation_mailing.html", {"results": mailing_results(mailing)}
    )


@require_POST
@roles_required(MANAGERS)
def invitation_mailing_retry_view(request: HttpRequest, pk: int) -> HttpResponse:
    mailing = mailing_for_user(request.user.organisation_id, pk)
    try:
        job = invitation_mailing_retry(mailing=mailing, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("invitation_mailing", pk=mailing.pk)
    return redirect("invitation_mailing", pk=mailing_of_job(job).pk)


@public
def invitation_accept_view(request: HttpRequest, pk: int, token: str) -> HttpResponse:
    throttle.check(request, f"invite:{pk}")
    try:
        invitation = invitation_for_link(pk, token)
    except PortalError as exc:
        # A bad link counts as a failed guess when it is sent (a GET writes nothing; the
        # 160-bit token cannot be guessed by opening links anyway).
        if request.method == "POST":
            throttle.failed(request, f"invite:{pk}")
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"reason": exc.message, "invitation": invitation_by_pk(pk)},
            status=410,
        )
    needs_code = is_manager(invitation.user)
    code_key = f"invite-guess:{pk}"
    if needs_code and request.method == "POST":
        # The mailed code has six digits: besides each address's own limit, wrong codes from
        # all addresses together stop at the second factor's limit, as its codes do
        # (tests/trust/test_secrets_are_throttled_everywhere.py).
        throttle.check(request, code_key)
        throttle.check_everywhere(request, code_key, settings.OTP_USER_FAILURE_LIMIT)
    if request.method == "POST" and "send_code" in request.POST and needs_code:
        return _send_invitation_code(request, invitation)
    form = InvitationAcceptForm(invitation.user, request.POST or None, needs_code=needs_code)
    if request.method == "POST" and form.is_valid():
        try:
            user = invitation_accept(
                invitation=invitation,
                password=form.cleaned_data["new_password1"],
                code=form.cleaned_data.get("code", ""),
            )
        except PortalError as exc:
            throttle.failed(request, code_key if exc.field == "code" else f"invite:{pk}")
            form.add_error(exc.field, exc.message)
        else:
            login(request, user, backend="accounts.backends.UsernameOrEmailBackend")
            messages.success(request, "Пароль сохранён. Добро пожаловать!")
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(
        request,
        "accounts/invitation_accept.html",
        {
            "form": form,
            "person": invitation.user,
            "masked_email": mask_email(invitation.user.email) if invitation.user.email else "",
            # Where the code is: being sent (followed by its progress bar), refused, or sent.
            "code": invitation_code_state(invitation) if needs_code else None,
            "code_status_url": reverse("invitation_code_status", args=[pk, token]),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _send_invitation_code(request: HttpRequest, invitation) -> HttpResponse:
    """«Отправить код на e-mail»: a few codes per link and address, then the lockout page. The
    page it returns to follows the job sending the code, and says when it went or why not."""
    key = f"invite-code:{invitation.pk}"
    throttle.check(request, key)
    try:
        invitation_code_start(invitation=invitation)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        throttle.spent(request, key)
    return redirect(request.path)


@public
@require_safe
def invitation_code_status(request: HttpRequest, pk: int, token: str) -> JsonResponse:
    """How far the job sending the code is, for the progress bar of the invitation's page: to
    whoever holds the link, as the page itself (its token, its lockout)."""
    throttle.check(request, f"invite:{pk}")
    try:
        invitation = invitation_for_link(pk, token)
    except PortalError as exc:
        raise Http404(exc.message) from exc
    job = invitation_code_state(invitation).job
    if job is None:
        raise Http404("Код не запрашивали")
    return JsonResponse(job_state(job))


@roles_required(ADMINS)
def person_parents(request: HttpRequest, pk: int) -> HttpResponse:
    """Link a parent to a student (or unlink)."""
    student = get_student_for_user(request, pk)
    form = ParentLinkForm(request.POST or None, organisation=request.user.organisation)
    if request.method == "POST":
        if "unlink" in request.POST:
            # A malformed id names no parent: nothing is unlinked.
            parent_id = parse_id(request.POST["unlink"]) or 0
            guardianship_unlink(student=student, parent_id=parent_id, actor=request.user)
            messages.success(request, "Связь с родителем удалена.")
            return redirect("person_detail", pk=student.pk)
        if form.is_valid():
            try:
                guardianship_link(
                    parent=form.cleaned_data["parent"], student=student, actor=request.user
                )
            except PortalError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(request, "Родитель привязан.")
                return redirect("person_detail", pk=student.pk)
    return render(request, "accounts/person_parents.html", {"student": student, "form": form})


# Groups ------------------------------------------------------------------------------------


@roles_required(MANAGERS | TEACHERS)
def group_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    groups = visible_groups(user=request.user, query=query)
    return render(
        request, "accounts/group_list.html", {**paginate(request, groups), "query": query}
    )


@roles_required(ADMINS)
def group_new(request: HttpRequest) -> HttpResponse:
    form = GroupForm(request.POST or None, organisation=request.user.organisation)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_create(
                organisation=request.user.organisation, actor=request.user, **form.cleaned_data
            )
        except PortalError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"Объединение «{group.name}» создано.")
            return redirect("group_detail", pk=group.pk)
    return render(request, "accounts/group_form.html", {"form": form, "group": None})


@roles_required(ADMINS | TEACHERS)
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """The administrator edits everything; a teacher of the group only its chat link; anyone
    else who may see the group (the director) is refused."""
    group = get_group_for_user(request, pk)
    if not may_edit_group(request.user, group):
        raise PermissionDenied
    is_admin = request.user.has_role(Role.ADMIN)
    if is_admin:
        form = GroupForm(request.POST or None, instance=group, organisation=group.organisation)
    else:
        form = GroupLinkForm(request.POST or None, instance=group)
    if request.method == "POST":
        if form.is_valid():
            try:
                if is_admin:
                    group_update(group=group, actor=request.user, **form.cleaned_data)
                else:
                    group_set_link(group=group, actor=request.user, **form.cleaned_data)
            except PortalError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Объединение сохранено.")
                return redirect("group_detail", pk=group.pk)
        messages.error(request, "Не сохранено: проверьте поля формы.")
    return render(request, "accounts/group_form.html", {"form": form, "group": group})


# Staff import ------------------------------------------------------------------------------


@roles_required(ADMINS)
def staff_import(request: HttpRequest) -> HttpResponse:
    error = ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        role = request.POST.get("role", Role.TEACHER)
        if role not in dict(IMPORT_ROLES):
            role = Role.TEACHER
        if upload is None:
            error = "Выберите файл CSV или XLSX."
        else:
            try:
                batch = import_upload(
                    organisation=request.user.organisation,
                    actor=request.user,
                    filename=upload.name,
                    # One byte past the limit is enough to tell the file is too big.
                    content=upload.read(IMPORT_MAX_BYTES + 1),
                    role=role,
                )
            except PortalError as exc:
                error = exc.message
            else:
                return redirect("staff_import_preview", pk=batch.pk)
    return render(request, "accounts/import_upload.html", {"error": error, "roles": IMPORT_ROLES})


@roles_required(ADMINS)
def staff_import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_batch_for_user(request, pk)
    if request.method == "POST":
        if "cancel" in request.POST:
            try:
                import_cancel(batch=batch, actor=request.user)
            except PortalError as exc:
                messages.error(request, exc.message)
                return redirect("staff_import_preview", pk=batch.pk)
            messages.info(request, "Загрузка отменена: никто не добавлен.")
            return redirect("people")
        try:
            import_apply_start(batch=batch, actor=request.user)
        except PortalError as exc:
            messages.error(request, exc.message)
        # The batch's page shows the job adding the people, then how many were added.
        return redirect("staff_import_preview", pk=batch.pk)
    pending = batch.status == ImportBatch.Status.PENDING
    checked = import_batch_checked(batch) if pending else None
    preview = checked if checked and "error" not in checked else None
    error = checked.get("error", "") if checked else ""
    job = import_check_job(batch) if pending and checked is None else None
    return render(
        request,
        "accounts/import_preview.html",
        {
            "batch": batch,
            "preview": preview,
            "error": error,
            "job": job,
            "checking": pending and checked is None,
            # The job adding the people: its progress, its result, or why nobody was added.
            "apply_job": import_apply_job(batch) if checked or not pending else None,
            "role_label": dict(IMPORT_ROLES).get(batch.role, batch.role),
        },
    )


@require_POST
@roles_required(MANAGERS)
def login_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The director or an administrator lets a locked-out person of their organisation try
    again at once."""
    person = get_person_for_user(request, pk)
    try:
        login_unlock(person=person, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Вход для {person.full_name or person.username} разблокирован.")
    return redirect("person_detail", pk=person.pk)
