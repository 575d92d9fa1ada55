"""The rollout's pages for staff: the dashboard, the registration request, teachers' Sferum
status. Each parses its input, calls one service or selector, and renders."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from accounts.models import Role, StudyGroup, User
from accounts.permissions import ADMINS, MANAGERS, SFERUM_STATUS_HOLDERS, roles_required
from acknowledgements.selectors import messenger_draft, reading_status
from acknowledgements.weekly import weekly_confirmations
from cdt_portal.downloads import private_file_response
from cdt_portal.errors import Gone, PortalError
from cdt_portal.jobs import job_alerts
from cdt_portal.paging import paginate
from cdt_portal.uploads import check_upload
from families.selectors import notice_predates_messenger

from .documents import letter_filename, portal_can_send, scan_filename
from .forms import (
    SCAN_MISSING,
    AmendmentActForm,
    AmendmentForm,
    CancelForm,
    DetailsForm,
    ReasonForm,
    RegisteredForm,
    ScanForm,
    SentForm,
)
from .models import AmendmentItem, AmendmentState, RegistrationRequest, SferumStatus
from .selectors import (
    amendment_checklist,
    amendment_summary,
    current_request,
    dashboard_numbers,
    missing_letterhead_fields,
    organisation_mail_domain,
    registration_eml,
    request_overview,
    send_job,
    sferum_history,
    teacher_counts,
    teacher_list,
    teacher_status,
)
from .services import (
    amendment_act_add,
    amendment_act_remove,
    amendment_act_update,
    amendment_programme_update,
    request_cancel,
    request_confirm_delivered,
    request_confirm_sent,
    request_mark_ready,
    request_prepare_letter,
    request_register,
    request_return,
    request_scan_refused,
    request_send_start,
    request_start,
    request_update_details,
    teacher_status_advance,
)


def get_request_for_user(request: HttpRequest) -> RegistrationRequest:
    """The organisation's current registration request; 404 when there is none."""
    registration = current_request(request.user.organisation)
    if registration is None:
        raise Http404("Заявки ещё нет")
    return registration


@roles_required(MANAGERS)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The rollout at a glance for the administrator and the director."""
    organisation = request.user.organisation
    numbers = dashboard_numbers(organisation)
    return render(
        request,
        "onboarding/dashboard.html",
        {
            "organisation": organisation,
            "summary": numbers.summary,
            "letterhead_missing": missing_letterhead_fields(organisation),
            "reading": reading_status(request.user),
            "job_alerts": job_alerts(request.user.organisation_id),
            # What a change of the messenger asks for (onboarding/_messenger_paperwork.html).
            "messenger_notice_needed": notice_predates_messenger(organisation),
            "messenger_draft": messenger_draft(organisation),
            "staff_statuses": numbers.staff_statuses,
            "amendments_summary": numbers.amendments,
            "notice_counts": numbers.notices,
            "weekly_charts": weekly_confirmations([organisation.pk]),
            # The frame shows the department's unread messages above this page (base.html).
            "show_department_messages": True,
        },
    )


def _request_page(request: HttpRequest, **forms) -> HttpResponse:
    overview = request_overview(request.user.organisation)
    registration = overview.registration
    today_forms = {
        "details_form": DetailsForm(
            initial={
                "full_name": registration.admin_full_name,
                "position": registration.admin_position,
                "phone": registration.admin_phone,
            }
        )
        if registration
        else None,
        "scan_form": ScanForm(
            initial={"letter": registration.letter_pdf.name if registration else ""}
        ),
        "sent_form": SentForm(),
        "register_form": RegisteredForm(),
        "return_form": ReasonForm(),
    }
    scan_form = forms.get("scan_form")
    if scan_form is not None and scan_form.is_bound and registration is not None:
        # Offered again for the letter the page shows now, not the one that was posted: a
        # scan refused because the letter was made anew is then sent for the new one.
        scan_form.data = scan_form.data.copy()
        scan_form.data["letter"] = registration.letter_pdf.name
    today_forms.update(forms)
    refused = any(form is not None and form.is_bound and form.errors for form in forms.values())
    job = send_job(registration) if registration else None
    return render(
        request,
        "onboarding/request.html",
        {
            "registration": registration,
            "next_step": overview.next_step,
            "allowed": overview.allowed,
            "events": overview.timeline,
            "previous": overview.previous,
            "can_send": portal_can_send(),
            "send_job": job,
            # While the portal sends the letter, the page offers no other way to send it.
            "sending": job is not None and not job.finished,
            "is_admin": request.user.has_role(Role.ADMIN),
            "sferum_email": settings.SFERUM_REGISTRATION_EMAIL,
            "questionnaire_url": settings.SFERUM_QUESTIONNAIRE_URL,
            "letterhead_missing": overview.letterhead_missing,
            "email_missing": overview.email_missing,
            **today_forms,
        },
        status=400 if refused else 200,
    )


@roles_required(MANAGERS)
def request_detail(request: HttpRequest) -> HttpResponse:
    return _request_page(request)


def _outcome(
    request: HttpRequest, call: Callable[[], object], success: str, *, url_name: str
) -> HttpResponse:
    """Call the service, say what happened (`success`, or the refusal as it is: nothing was
    changed) and go to the page `url_name` (a keyword, so tests/test_url_layers.py reads it)."""
    try:
        call()
    except Gone:
        raise  # 404 with its message (`cdt_portal.middleware.GoneMiddleware`)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect(url_name)


def _refused(request: HttpRequest, error: PortalError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("registration_request")


def _act(
    request: HttpRequest,
    action: Callable[[dict], object],
    success: str,
    *,
    form_class: type[forms.Form] | None = None,
    form_key: str = "",
    invalid: str = "Проверьте поля формы.",
) -> HttpResponse:
    """One step of the request: check the form, call the service, say what happened.
    A refusal leaves the request as it was and tells why."""
    data: dict = {}
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            messages.error(request, invalid)
            return _request_page(request, **{form_key: form})
        data = form.cleaned_data
    return _outcome(request, lambda: action(data), success, url_name="registration_request")


@require_POST
@roles_required(ADMINS)
def request_start_view(request: HttpRequest) -> HttpResponse:
    return _act(
        request,
        lambda _: request_start(organisation=request.user.organisation, actor=request.user),
        "Заявка начата. Проверьте данные администратора.",
    )


@require_POST
@roles_required(ADMINS)
def request_details_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda data: request_update_details(
            request=registration,
            actor=request.user,
            full_name=data["full_name"],
            position=data["position"],
            phone=data["phone"],
        ),
        "Данные администратора сохранены.",
        form_class=DetailsForm,
        form_key="details_form",
        invalid="Данные не сохранены: проверьте поля формы.",
    )


# Why a letter or an .eml cannot be had yet: the organisation's profile lacks what it needs.
# A GET of the file's own address answers 409 Conflict with a small page that says what is
# missing and links to the organisation's settings, rather than a redirect: the address names
# a file (opened from a bookmark, a new tab or a download manager), a 4xx tells any client it
# did not get one, and the page needs no flash message stored in the session (a GET writes
# nothing). The request page shows the same text in place of the link.
DETAILS_NEEDED_STATUS = 409


def _details_needed(request: HttpRequest, purpose: str, missing: list[str]) -> HttpResponse:
    return render(
        request,
        "onboarding/organisation_details_needed.html",
        {"purpose": purpose, "missing": missing},
        status=DETAILS_NEEDED_STATUS,
    )


@require_POST
@roles_required(ADMINS)
def request_letter_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda _: request_prepare_letter(request=registration, actor=request.user),
        "Письмо о назначении сформировано: передайте его руководителю на подпись.",
    )


@roles_required(MANAGERS)
def request_letter_pdf(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    if not registration.letter_pdf:
        raise Http404("Письмо ещё не сформировано")
    missing = missing_letterhead_fields(request.user.organisation)
    if missing:
        return _details_needed(request, "letter", missing)
    return private_file_response(
        registration.letter_pdf,
        filename=letter_filename(registration),
        content_type="application/pdf",
    )


@require_POST
@roles_required(ADMINS)
def request_scan_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    form = ScanForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Скан не принят: проверьте поля формы.")
        return _request_page(request, scan_form=form)
    upload = form.cleaned_data["scan"]
    try:
        scan = check_upload(upload, field="scan", missing=SCAN_MISSING)
    except PortalError as exc:
        request_scan_refused(
            request=registration,
            actor=request.user,
            filename=getattr(upload, "name", ""),
            size=getattr(upload, "size", None),
            reason=exc.message,
        )
        form.add_error(exc.field, exc.message)
        messages.error(request, "Скан не принят: проверьте поля формы.")
        return _request_page(request, scan_form=form)
    try:
        request_mark_ready(
            request=registration,
            actor=request.user,
            scan=scan,
            questionnaire_filled_on=form.cleaned_data["questionnaire_filled_on"],
            letter=form.cleaned_data["letter"],
        )
    except PortalError as exc:
        form.add_error(exc.field, exc.message)
        messages.error(request, "Скан не принят: проверьте поля формы.")
        return _request_page(request, scan_form=form)
    messages.success(request, "Скан приложен, заявка готова к отправке.")
    return redirect("registration_request")


@roles_required(MANAGERS)
def request_scan_download(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    if not registration.scan:
        raise Http404("Скан ещё не приложен")
    return private_file_response(
        registration.scan,
        filename=scan_filename(registration),
        content_type=registration.scan_content_type,
        inline=False,
    )


# After a send whose outcome is unknown, the same address takes the administrator's explicit
# choice (`?choice=delivered` or `?choice=resend`, each its own button): the access rule stays
# that of «Отправить», and without a choice the plain send is refused by the transition
# table, so a second press of «Отправить» sends nothing.
SEND_CHOICES = ("", "delivered", "resend")


@require_POST
@roles_required(ADMINS)
def request_send_view(request: HttpRequest) -> HttpResponse:
    """«Отправить» and «Отправить ещё раз» start the sending job (the page shows how it goes,
    then the request's new state); «Письмо дошло» is recorded at once."""
    registration = get_request_for_user(request)
    choice = request.GET.get("choice", "")
    if choice not in SEND_CHOICES:
        return _refused(request, PortalError("Неизвестное действие."))
    if choice == "delivered":
        return _outcome(
            request,
            lambda: request_confirm_delivered(request=registration, actor=request.user),
            "Отмечено: письмо дошло, заявка отправлена.",
            url_name="registration_request",
        )
    action = "resend" if choice == "resend" else "send"
    try:
        request_send_start(request=registration, actor=request.user, action=action)
    except PortalError as exc:
        return _refused(request, exc)
    again = " ещё раз" if choice == "resend" else ""
    messages.info(request, f"Заявка отправляется{again} на {settings.SFERUM_REGISTRATION_EMAIL}.")
    return redirect("registration_request")


@roles_required(ADMINS)
def request_eml_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    try:
        registration.require("download_eml")
        if not organisation_mail_domain(request.user.organisation):
            return _details_needed(request, "eml", ["e-mail"])
        eml = registration_eml(registration)
    except PortalError as exc:
        return _refused(request, exc)
    response = HttpResponse(eml, content_type="message/rfc822")
    response["Content-Disposition"] = content_disposition_header(
        True, "Заявка на регистрацию в Сферуме.eml"
    )
    return response


@require_POST
@roles_required(ADMINS)
def request_sent_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda data: request_confirm_sent(
            request=registration, actor=request.user, sent_on=data["date"]
        ),
        "Отмечено: заявка отправлена из почты организации.",
        form_class=SentForm,
        form_key="sent_form",
        invalid="Укажите дату отправки.",
    )


@require_POST
@roles_required(ADMINS)
def request_return_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda data: request_return(
            request=registration, actor=request.user, reason=data["reason"]
        ),
        "Заявка возвращена на доработку.",
        form_class=ReasonForm,
        form_key="return_form",
        invalid="Укажите, что «Сферум» просит исправить.",
    )


@require_POST
@roles_required(ADMINS)
def request_register_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda data: request_register(
            request=registration,
            actor=request.user,
            registered_on=data["date"],
            signed_in_confirmed=data["signed_in_confirmed"],
        ),
        "Организация зарегистрирована в «Сферуме».",
        form_class=RegisteredForm,
        form_key="register_form",
        invalid="Укажите дату регистрации и подтвердите вход в «Сферум» по номеру из письма.",
    )


@roles_required(ADMINS)
def request_cancel_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        reason = form.cleaned_data["reason"]
        return _outcome(
            request,
            lambda: request_cancel(request=registration, actor=request.user, reason=reason),
            "Заявка отменена.",
            url_name="registration_request",
        )
    return render(
        request, "onboarding/request_cancel.html", {"registration": registration, "form": form}
    )


# Teachers' Sferum status --------------------------------------------------------------------


@roles_required(SFERUM_STATUS_HOLDERS)
def my_sferum_status(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _outcome(
            request,
            lambda: teacher_status_advance(
                person=request.user, to=request.POST.get("to", ""), actor=request.user
            ),
            "Отмечено.",
            url_name="my_sferum_status",
        )
    return render(
        request,
        "onboarding/my_status.html",
        {
            "status": teacher_status(request.user),
            "events": sferum_history(request.user),
            "organisation": request.user.organisation,
            # §4.7: the director and administrators keep this page too; the template may
            # say «руководитель» / «администратор» instead of «педагог» by this flag.
            "is_manager": request.user.has_role(*MANAGERS),
        },
    )


@roles_required(MANAGERS)
def teacher_statuses(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    query = request.GET.get("q", "").strip()
    wanted = request.GET.get("status", "")
    return render(
        request,
        "onboarding/teacher_statuses.html",
        {
            **paginate(
                request,
                teacher_list(organisation, query=query, status=wanted),
                organisation_id=organisation.pk,
            ),
            "statuses": SferumStatus.choices,
            "wanted": wanted,
            "query": query,
            "counts": teacher_counts(organisation),
        },
    )


@require_POST
@roles_required(ADMINS)
def teacher_verify(request: HttpRequest, pk: int) -> HttpResponse:
    # Teachers, and (§4.7) the director and the administrators, who verify the status too.
    person = get_object_or_404(
        User.objects.with_role(*SFERUM_STATUS_HOLDERS),
        pk=pk,
        organisation_id=request.user.organisation_id,
    )
    return _outcome(
        request,
        lambda: teacher_status_advance(person=person, to=SferumStatus.VERIFIED, actor=request.user),
        f"{person.full_name}: статус «учитель» подтверждён.",
        url_name="teacher_statuses",
    )


# Issue 12, §5.1: the checklist of local acts and programmes to amend ---------------------


@roles_required(MANAGERS)
def amendments(request: HttpRequest) -> HttpResponse:
    """The administrator keeps the checklist; the director reads it."""
    organisation = request.user.organisation
    return render(
        request,
        "onboarding/amendments.html",
        {
            "rows": amendment_checklist(organisation),
            "summary": amendment_summary(organisation),
            "can_edit": request.user.has_role(Role.ADMIN),
            "states": AmendmentState.choices,
            "act_form": AmendmentActForm(),
        },
    )


def _amendment_form_call(request: HttpRequest, call: Callable[[dict], object], success: str):
    form = AmendmentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Не сохранено: проверьте состояние и дату.")
        return redirect("amendments")
    return _outcome(request, lambda: call(form.cleaned_data), success, url_name="amendments")


@require_POST
@roles_required(ADMINS)
def amendment_programme_view(request: HttpRequest, pk: int) -> HttpResponse:
    group = get_object_or_404(StudyGroup, pk=pk, organisation_id=request.user.organisation_id)
    return _amendment_form_call(
        request,
        lambda data: amendment_programme_update(group=group, actor=request.user, **data),
        f"Дополнительная программа «{group.name}»: сохранено.",
    )


@require_POST
@roles_required(ADMINS)
def amendment_act_add_view(request: HttpRequest) -> HttpResponse:
    form = AmendmentActForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Укажите название локального акта.")
        return redirect("amendments")
    return _outcome(
        request,
        lambda: amendment_act_add(
            organisation=request.user.organisation,
            actor=request.user,
            title=form.cleaned_data["title"],
        ),
        "Локальный акт добавлен в список.",
        url_name="amendments",
    )


def _act_item(request: HttpRequest, pk: int) -> AmendmentItem:
    return get_object_or_404(
        AmendmentItem, pk=pk, organisation_id=request.user.organisation_id, group__isnull=True
    )


@require_POST
@roles_required(ADMINS)
def amendment_act_update_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = _act_item(request, pk)
    return _amendment_form_call(
        request,
        lambda data: amendment_act_update(item=item, actor=request.user, **data),
        f"«{item.title}»: сохранено.",
    )


@require_POST
@roles_required(ADMINS)
def amendment_act_remove_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = _act_item(request, pk)
    return _outcome(
        request,
        lambda: amendment_act_remove(item=item, actor=request.user),
        f"«{item.title}» убран из списка.",
        url_name="amendments",
    )
