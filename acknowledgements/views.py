from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import STAFF_ROLES, Role
from accounts.permissions import MANAGERS, roles_required
from cdt_portal.exports import csv_response
from cdt_portal.markup import render_markdown
from cdt_portal.paging import paginate, search_people
from cdt_portal.pdf import pdf_response

from .documents import order_filename, sheet_pdf
from .forms import ConfirmForm, PaperForm, VersionForm
from .models import REGULATION_CODE, Acknowledgement, Document, DocumentVersion, VersionStatus
from .selectors import current_version, is_reader, pending_readers, readers
from .services import (
    DocumentError,
    acknowledgement_confirm,
    acknowledgement_record_paper,
    reminders_send,
    version_approve,
    version_create,
    version_edit,
)

STAFF = frozenset(STAFF_ROLES)
DIRECTORS = frozenset({Role.DIRECTOR})


def get_version_for_user(request: HttpRequest, pk: int) -> DocumentVersion:
    """A version of the person's own organisation; anything else is 404."""
    return get_object_or_404(
        DocumentVersion.objects.select_related("document__organisation"),
        pk=pk,
        document__organisation_id=request.user.organisation_id,
    )


def get_current_version_or_404(request: HttpRequest) -> DocumentVersion:
    version = current_version(request.user.organisation, REGULATION_CODE)
    if version is None:
        raise Http404("Положение ещё не утверждено")
    return version


def _client_ip(request: HttpRequest) -> str | None:
    # Behind a proxy REMOTE_ADDR is the proxy; the deployment sets the real address there.
    return request.META.get("REMOTE_ADDR")


@roles_required(STAFF)
def regulation(request: HttpRequest) -> HttpResponse:
    version = current_version(request.user.organisation, REGULATION_CODE)
    ack = None
    if version is not None:
        ack = Acknowledgement.objects.filter(version=version, person=request.user).first()
    return render(
        request,
        "acknowledgements/regulation.html",
        {
            "version": version,
            "text_html": render_markdown(version.text) if version else "",
            "ack": ack,
            "must_read": version is not None and ack is None and is_reader(request.user),
            "form": ConfirmForm(),
        },
    )


@require_POST
@roles_required(STAFF)
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    if version.status != VersionStatus.APPROVED:
        raise PermissionDenied("Эта редакция не утверждена или заменена новой.")
    form = ConfirmForm(request.POST)
    if form.is_valid():
        try:
            _, created = acknowledgement_confirm(
                version=version,
                person=request.user,
                password=form.cleaned_data["password"],
                ip_address=_client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except DocumentError as exc:
            form.add_error("password" if "пароль" in exc.message else None, exc.message)
        else:
            if created:
                messages.success(request, "Спасибо! Ознакомление с Положением записано.")
            return redirect("regulation")
    messages.error(request, "Ознакомление не записано: проверьте поля формы.")
    return render(
        request,
        "acknowledgements/regulation.html",
        {
            "version": version,
            "text_html": render_markdown(version.text),
            "ack": None,
            "must_read": True,
            "form": form,
        },
    )


@roles_required(MANAGERS)
def order_pdf(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    version = get_version_for_user(request, pk) if pk else get_current_version_or_404(request)
    if not version.order_pdf:
        raise Http404("У черновика нет утверждённого приказа")
    with version.order_pdf.open("rb") as stored:
        return pdf_response(order_filename(version), stored.read())


@roles_required(MANAGERS)
def sheet(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    version = get_version_for_user(request, pk) if pk else get_current_version_or_404(request)
    if version.status == VersionStatus.DRAFT:
        raise Http404("У черновика нет листа ознакомления")
    filename, pdf = sheet_pdf(version, blank=request.GET.get("blank") == "1")
    return pdf_response(filename, pdf)


def _acknowledgement_rows(request: HttpRequest, version: DocumentVersion):
    acks = Prefetch(
        "acknowledgements",
        queryset=Acknowledgement.objects.filter(version=version).select_related("recorded_by"),
        to_attr="version_acks",
    )
    people = readers(version.document.organisation).prefetch_related(acks)
    status = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    if status == "confirmed":
        people = people.filter(acknowledgements__version=version)
    elif status == "pending":
        people = people.exclude(acknowledgements__version=version)
    return search_people(people, query), status, query


def _with_acks(people) -> list:
    return [(person, person.version_acks[0] if person.version_acks else None) for person in people]


@roles_required(MANAGERS)
def acknowledgement_list(request: HttpRequest) -> HttpResponse:
    version = get_current_version_or_404(request)
    people, status, query = _acknowledgement_rows(request, version)
    paging = paginate(request, people)
    paging["page_obj"].object_list = _with_acks(paging["page_obj"].object_list)
    total = readers(version.document.organisation).count()
    confirmed = (
        Acknowledgement.objects.filter(version=version, person__in=readers(version.organisation))
        .values("person")
        .distinct()
        .count()
    )
    return render(
        request,
        "acknowledgements/acknowledgement_list.html",
        {
            "version": version,
            **paging,
            "status": status,
            "query": query,
            "total": total,
            "confirmed": confirmed,
            "percent": round(100 * confirmed / total) if total else 0,
        },
    )


@roles_required(MANAGERS)
def acknowledgement_csv(request: HttpRequest) -> HttpResponse:
    """The list for Excel: UTF-8 with BOM and «;» between columns."""
    version = get_current_version_or_404(request)
    people, _, _ = _acknowledgement_rows(request, version)
    return csv_response(
        f"Ознакомление — приказ № {version.order_number}.csv",
        ["№", "Ф.И.О.", "Должность", "Дата ознакомления", "Способ", "Кто записал"],
        (
            [
                number,
                person.full_name,
                person.position,
                f"{ack.acknowledged_on:%d.%m.%Y}" if ack else "",
                ack.get_method_display() if ack else "не ознакомлен(а)",
                ack.recorded_by.full_name if ack else "",
            ]
            for number, (person, ack) in enumerate(_with_acks(people), start=1)
        ),
    )


@roles_required(MANAGERS)
def remind(request: HttpRequest) -> HttpResponse:
    version = get_current_version_or_404(request)
    pending = list(pending_readers(version))
    if request.method == "POST":
        result = reminders_send(
            version=version, actor=request.user, base_url=request.build_absolute_uri("/")
        )
        if result.sent:
            messages.success(request, f"Напоминания отправлены: {len(result.sent)}.")
        if result.without_email:
            names = ", ".join(p.full_name for p in result.without_email)
            messages.warning(request, f"Нет e-mail, напомните лично: {names}.")
        for person, error in result.failed:
            messages.error(request, f"Не удалось отправить {person.full_name}: {error}")
        if not pending:
            messages.info(request, "Все сотрудники уже ознакомились с Положением.")
        return redirect("acknowledgement_list")
    return render(
        request,
        "acknowledgements/remind_confirm.html",
        {
            "version": version,
            "with_email": [p for p in pending if p.email],
            "without_email": [p for p in pending if not p.email],
        },
    )


@roles_required(MANAGERS)
def record_paper(request: HttpRequest) -> HttpResponse:
    version = get_current_version_or_404(request)
    people = pending_readers(version)
    form = PaperForm(request.POST or None, people=people)
    if request.method == "POST" and form.is_valid():
        person = form.cleaned_data["person"]
        try:
            acknowledgement_record_paper(
                version=version,
                person=person,
                paper_date=form.cleaned_data["paper_date"],
                recorded_by=request.user,
            )
        except DocumentError as exc:
            form.add_error("paper_date", exc.message)
        else:
            messages.success(
                request,
                f"Записано: {person.full_name} ознакомлен(а) "
                f"{form.cleaned_data['paper_date']:%d.%m.%Y} (по бумажному листу).",
            )
            return redirect("acknowledgement_list")
    return render(request, "acknowledgements/paper_form.html", {"version": version, "form": form})


@roles_required(MANAGERS)
def version_list(request: HttpRequest) -> HttpResponse:
    versions = DocumentVersion.objects.filter(
        document__organisation_id=request.user.organisation_id
    ).select_related("document")
    return render(request, "acknowledgements/version_list.html", {"versions": versions})


@roles_required(MANAGERS)
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    return render(
        request,
        "acknowledgements/version_detail.html",
        {
            "version": version,
            "text_html": render_markdown(version.text),
            "events": version.events.select_related("actor"),
        },
    )


def _regulation_document(request: HttpRequest) -> Document:
    organisation = request.user.organisation
    document, _ = Document.objects.get_or_create(
        organisation=organisation,
        code=REGULATION_CODE,
        defaults={"title": "Положение об использовании ИКОП «Сферум»"},
    )
    return document


@roles_required(MANAGERS)
def version_new(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    base = current_version(organisation, REGULATION_CODE)
    initial = {
        "approver_position": organisation.head_position,
        "approver_name": organisation.head_name,
        "order_date": timezone.localdate(),
    }
    if base is not None:
        initial.update(title=base.title, text=base.text)
    form = VersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        version = version_create(
            document=_regulation_document(request), actor=request.user, **form.cleaned_data
        )
        messages.success(request, f"Создан черновик редакции {version.number}.")
        return redirect("version_detail", pk=version.pk)
    return render(request, "acknowledgements/version_form.html", {"form": form, "version": None})


@roles_required(MANAGERS)
def version_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    if not version.is_draft:
        messages.error(
            request, "Утверждённую редакцию изменить нельзя: создайте новую редакцию документа."
        )
        return redirect("version_detail", pk=version.pk)
    form = VersionForm(request.POST or None, instance=version)
    if request.method == "POST" and form.is_valid():
        try:
            version_edit(version=version, actor=request.user, **form.cleaned_data)
        except DocumentError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Черновик сохранён.")
        return redirect("version_detail", pk=version.pk)
    return render(request, "acknowledgements/version_form.html", {"form": form, "version": version})


@roles_required(DIRECTORS)
def version_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    if request.method == "POST":
        try:
            version_approve(version=version, actor=request.user)
        except DocumentError as exc:
            messages.error(request, exc.message)
            return redirect("version_detail", pk=version.pk)
        messages.success(
            request,
            f"Редакция {version.number} утверждена ({version.order_label}). "
            "Всех сотрудников попросят ознакомиться с ней.",
        )
        return redirect("version_detail", pk=version.pk)
    previous = current_version(request.user.organisation, REGULATION_CODE)
    return render(
        request,
        "acknowledgements/version_approve_confirm.html",
        {
            "version": version,
            "previous": previous,
            "readers_count": readers(version.organisation).count(),
        },
    )
