from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_POST

from accounts.models import Role, StudyGroup, User
from accounts.permissions import ADMINS, MANAGERS, TEACHERS, roles_required
from acknowledgements.models import REGULATION_CODE, Acknowledgement
from acknowledgements.selectors import current_version, readers, reading_status
from cdt_portal.paging import paginate, search_people
from cdt_portal.pdf import pdf_response

from .documents import letter_filename
from .forms import CancelForm, DetailsForm, ReasonForm, RegisteredForm, ScanForm, SentForm
from .models import (
    RegistrationRequest,
    RequestStatus,
    SferumStatus,
    TeacherSferumStatus,
    TeacherStatusEvent,
)
from .services import (
    RequestError,
    current_request,
    next_step,
    portal_can_send,
    request_cancel,
    request_confirm_sent,
    request_eml,
    request_mark_ready,
    request_prepare_letter,
    request_register,
    request_return,
    request_send,
    request_start,
    request_update_details,
    scan_filename,
    teacher_status,
    teacher_status_advance,
)
from .uploads import ScanError, check_scan

S = RequestStatus


def get_request_for_user(request: HttpRequest) -> RegistrationRequest:
    """The organisation's current registration request; 404 when there is none."""
    registration = current_request(request.user.organisation)
    if registration is None:
        raise Http404("Заявки ещё нет")
    return registration


def _family_counts(organisation) -> dict:
    from .models import ConsentRecord, NoticeAcknowledgement, ParentNotice

    parents = User.objects.active_in(organisation).with_role(Role.PARENT)
    students = User.objects.active_in(organisation).with_role(Role.STUDENT)
    notice = ParentNotice.objects.filter(organisation=organisation).first()
    latest = (
        ConsentRecord.objects.filter(student=OuterRef("pk"))
        .order_by("-at", "-pk")
        .values("action")[:1]
    )
    return {
        "parents": parents.count(),
        "informed": NoticeAcknowledgement.objects.filter(notice=notice, parent__in=parents).count()
        if notice
        else 0,
        "notice": notice,
        "students": students.count(),
        "consents": students.annotate(state=Subquery(latest)).filter(state="given").count(),
    }


def _teacher_counts(organisation) -> dict:
    teachers = User.objects.active_in(organisation).with_role(Role.TEACHER)
    total = teachers.count()
    by_status = dict(
        TeacherSferumStatus.objects.filter(person__in=teachers)
        .values_list("status")
        .annotate(n=Count("pk"))
    )
    verified = by_status.get(SferumStatus.VERIFIED, 0)
    return {
        "total": total,
        "verified": verified,
        "percent": round(100 * verified / total) if total else 0,
        "by_status": [
            (value, label, by_status.get(value, 0) if value != SferumStatus.NOT_STARTED else None)
            for value, label in SferumStatus.choices
        ],
    }


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
    registration = current_request(organisation)
    teachers = _teacher_counts(organisation)
    groups = StudyGroup.objects.filter(organisation=organisation).aggregate(
        total=Count("pk"), with_link=Count("pk", filter=~Q(chat_invite_link=""))
    )
    families = _family_counts(organisation)
    administrators = list(organisation.platform_administrators)
    checklist = [
        ("Назначен администратор ИКОП «Сферум»", bool(administrators), None),
        ("Положение утверждено приказом", version is not None, "regulation"),
        (
            "Сотрудники ознакомлены с Положением",
            staff_total > 0 and staff_confirmed == staff_total,
            "acknowledgement_list",
        ),
        (
            "Заявка на регистрацию отправлена на info@sferum.ru",
            registration is not None and registration.status in (S.SENT, S.REGISTERED),
            "registration_request",
        ),
        (
            "Организация зарегистрирована в «Сферуме»",
            registration is not None and registration.status == S.REGISTERED,
            "registration_request",
        ),
        (
            "Педагоги подтвердили статус «учитель»",
            teachers["total"] > 0 and teachers["verified"] == teachers["total"],
            "teacher_statuses",
        ),
        (
            "У каждого объединения есть чат и ссылка-приглашение",
            groups["total"] > 0 and groups["with_link"] == groups["total"],
            "group_list",
        ),
        (
            "Родители проинформированы об использовании «Сферума»",
            families["parents"] > 0 and families["informed"] == families["parents"],
            "notices",
        ),
    ]
    return render(
        request,
        "onboarding/dashboard.html",
        {
            "organisation": organisation,
            "counts": counts,
            "groups": groups,
            "families": families,
            "administrators": administrators,
            "version": version,
            "staff_total": staff_total,
            "staff_confirmed": staff_confirmed,
            "staff_percent": round(100 * staff_confirmed / staff_total) if staff_total else 0,
            "reading": reading_status(request.user),
            "registration": registration,
            "next_step": next_step(registration),
            "teachers": teachers,
            "checklist": checklist,
        },
    )


def _request_page(request: HttpRequest, **forms) -> HttpResponse:
    registration = current_request(request.user.organisation)
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
        "scan_form": ScanForm(),
        "sent_form": SentForm(),
        "register_form": RegisteredForm(),
        "return_form": ReasonForm(),
    }
    today_forms.update(forms)
    return render(
        request,
        "onboarding/request.html",
        {
            "registration": registration,
            "next_step": next_step(registration),
            "events": registration.events.select_related("actor") if registration else [],
            "can_send": portal_can_send(),
            "is_admin": request.user.has_role(Role.ADMIN),
            "sferum_email": settings.SFERUM_REGISTRATION_EMAIL,
            "previous": (
                request.user.organisation.registration_requests.exclude(pk=registration.pk)
                if registration
                else []
            ),
            **today_forms,
        },
    )


@roles_required(MANAGERS)
def request_detail(request: HttpRequest) -> HttpResponse:
    return _request_page(request)


def _done(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("registration_request")


def _refused(request: HttpRequest, error: RequestError | ScanError) -> HttpResponse:
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
    try:
        action(data)
    except RequestError as exc:
        return _refused(request, exc)
    return _done(request, success)


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
    with registration.letter_pdf.open("rb") as stored:
        return pdf_response(letter_filename(registration), stored.read())


@require_POST
@roles_required(ADMINS)
def request_scan_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    form = ScanForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Скан не принят: проверьте поля формы.")
        return _request_page(request, scan_form=form)
    try:
        scan = check_scan(form.cleaned_data["scan"])
        request_mark_ready(
            request=registration,
            actor=request.user,
            scan=scan,
            questionnaire_filled_on=form.cleaned_data["questionnaire_filled_on"],
        )
    except (RequestError, ScanError) as exc:
        form.add_error("scan" if isinstance(exc, ScanError) else None, exc.message)
        messages.error(request, "Скан не принят: проверьте поля формы.")
        return _request_page(request, scan_form=form)
    return _done(request, "Скан приложен, заявка готова к отправке.")


@roles_required(MANAGERS)
def request_scan_download(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    if not registration.scan:
        raise Http404("Скан ещё не приложен")
    with registration.scan.open("rb") as stored:
        response = HttpResponse(stored.read(), content_type=registration.scan_content_type)
    response["Content-Disposition"] = content_disposition_header(False, scan_filename(registration))
    return response


@require_POST
@roles_required(ADMINS)
def request_send_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    return _act(
        request,
        lambda _: request_send(request=registration, actor=request.user),
        f"Заявка отправлена на {settings.SFERUM_REGISTRATION_EMAIL}.",
    )


@roles_required(ADMINS)
def request_eml_view(request: HttpRequest) -> HttpResponse:
    try:
        eml = request_eml(request=get_request_for_user(request))
    except RequestError as exc:
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
            request=registration, actor=request.user, registered_on=data["date"]
        ),
        "Организация зарегистрирована в «Сферуме».",
        form_class=RegisteredForm,
        form_key="register_form",
        invalid="Укажите дату регистрации.",
    )


@roles_required(ADMINS)
def request_cancel_view(request: HttpRequest) -> HttpResponse:
    registration = get_request_for_user(request)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            request_cancel(
                request=registration, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except RequestError as exc:
            return _refused(request, exc)
        return _done(request, "Заявка отменена.")
    return render(
        request, "onboarding/request_cancel.html", {"registration": registration, "form": form}
    )


# Teachers' Sferum status --------------------------------------------------------------------


@roles_required(TEACHERS)
def my_sferum_status(request: HttpRequest) -> HttpResponse:
    status = teacher_status(request.user)
    if request.method == "POST":
        try:
            teacher_status_advance(
                person=request.user, to=request.POST.get("to", ""), actor=request.user
            )
        except (RequestError, ValueError, KeyError) as exc:
            messages.error(request, getattr(exc, "message", "Такого шага нет."))
        else:
            messages.success(request, "Отмечено.")
        return redirect("my_sferum_status")
    return render(
        request,
        "onboarding/my_status.html",
        {
            "status": status,
            "events": TeacherStatusEvent.objects.filter(person=request.user).select_related(
                "actor"
            ),
            "organisation": request.user.organisation,
        },
    )


@roles_required(MANAGERS)
def teacher_statuses(request: HttpRequest) -> HttpResponse:
    teachers = (
        User.objects.active_in(request.user.organisation)
        .with_role(Role.TEACHER)
        .select_related("sferum_status")
        .order_by("last_name", "first_name")
    )
    query = request.GET.get("q", "").strip()
    teachers = search_people(teachers, query)
    wanted = request.GET.get("status", "")
    if wanted == SferumStatus.NOT_STARTED:
        teachers = teachers.filter(Q(sferum_status__isnull=True) | Q(sferum_status__status=wanted))
    elif wanted in SferumStatus.values:
        teachers = teachers.filter(sferum_status__status=wanted)
    return render(
        request,
        "onboarding/teacher_statuses.html",
        {
            **paginate(request, teachers),
            "statuses": SferumStatus.choices,
            "wanted": wanted,
            "query": query,
            "counts": _teacher_counts(request.user.organisation),
        },
    )


@require_POST
@roles_required(ADMINS)
def teacher_verify(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_object_or_404(
        User, pk=pk, organisation_id=request.user.organisation_id, user_roles__role=Role.TEACHER
    )
    try:
        teacher_status_advance(person=person, to=SferumStatus.VERIFIED, actor=request.user)
    except RequestError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{person.full_name}: статус «учитель» подтверждён.")
    return redirect("teacher_statuses")
