"""The department's pages, and the administrator's «прочитано» for its messages."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.http import require_POST

from accounts.permissions import ADMINS, DEPARTMENT, roles_required
from acknowledgements.weekly import weekly_confirmations
from cdt_portal.errors import PortalError
from cdt_portal.models import Job

from . import selectors, services
from .exports import institutions_xlsx
from .forms import MessageForm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _list_params(request: HttpRequest) -> tuple[str, str, str]:
    """The search, the sort and the messenger filter; an unknown sort or messenger state is
    ignored (the table by name, every state), as a search that finds nothing is not an error."""
    query = request.GET.get("q", "").strip()[:100]
    sort = request.GET.get("sort", "name")
    if sort.lstrip("-") not in selectors.SORT_KEYS:
        sort = "name"
    messenger = request.GET.get("messenger", "")
    if messenger not in selectors.MESSENGER_FILTERS:
        messenger = ""
    return query, sort, messenger


def _kept(query: str, messenger: str) -> str:
    """The search and the filter as a query string, kept by the sort links and the export."""
    return urlencode({k: v for k, v in (("q", query), ("messenger", messenger)) if v})


@roles_required(DEPARTMENT)
def overview(request: HttpRequest) -> HttpResponse:
    department = selectors.department_of(request.user)
    query, sort, messenger = _list_params(request)
    rows = selectors.institution_rows(department, query=query, sort=sort, messenger=messenger)
    return render(
        request,
        "departments/overview.html",
        {
            "department": department,
            "rows": rows,
            "totals": selectors.department_totals(rows),
            # Every institution of the department (`Organisation.department`, as
            # `institution_rows` scopes them), not only those the search shows: the
            # department's progress. A subquery: no list of ids that grows with the department.
            "weekly_charts": weekly_confirmations(department.organisations.values("pk")),
            "query": query,
            "sort": sort,
            "messenger": messenger,
            "messenger_label": selectors.MESSENGER_FILTERS.get(messenger, ""),
            "messenger_filters": list(selectors.MESSENGER_FILTERS.items()),
            "kept": _kept(query, messenger),
            "columns": [
                ("name", "Организация"),
                ("messenger", "Мессенджер"),
                ("registration", "Заявка"),
                ("staff", "Положение"),
                ("teachers", "«Учитель»"),
                ("groups", "Чаты"),
                ("parents", "Родители"),
                ("consents", "Согласия"),
                ("overdue", "Просрочено"),
            ],
        },
    )


@roles_required(DEPARTMENT)
def export_xlsx(request: HttpRequest) -> HttpResponse:
    department = selectors.department_of(request.user)
    query, sort, messenger = _list_params(request)
    rows = selectors.institution_rows(department, query=query, sort=sort, messenger=messenger)
    response = HttpResponse(institutions_xlsx(rows), content_type=XLSX)
    filename = f"sferum-{department.slug}-{timezone.localdate():%Y-%m-%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@roles_required(DEPARTMENT)
def institution(request: HttpRequest, slug: str) -> HttpResponse:
    department = selectors.department_of(request.user)
    page = selectors.institution_page(department, slug)
    return render(
        request,
        "departments/institution.html",
        {
            "department": department,
            "organisation": page.organisation,
            "summary": page.summary,
            "notices": page.notices,
            "administrators": page.administrators,
        },
    )


@roles_required(DEPARTMENT)
def message_list(request: HttpRequest) -> HttpResponse:
    department = selectors.department_of(request.user)
    form = MessageForm()
    if request.method == "POST":
        form = MessageForm(request.POST)
        if form.is_valid():
            try:
                message = services.message_send(actor=request.user, **form.cleaned_data)
            except PortalError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(
                    request,
                    f"Сообщение отправлено администраторам {message.institutions.count()} "
                    "организаций.",
                )
                return redirect("department_message", pk=message.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "departments/messages.html",
        {
            "department": department,
            "form": form,
            "sent": selectors.department_messages(department),
        },
        status=status,
    )


@roles_required(DEPARTMENT)
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:
    department = selectors.department_of(request.user)
    message = selectors.message_for_department(department, pk)
    return _message_page(request, department, message)


@require_POST
@roles_required(DEPARTMENT)
def message_go_on(request: HttpRequest, pk: int) -> HttpResponse:
    department = selectors.department_of(request.user)
    message = selectors.message_for_department(department, pk)
    try:
        job = services.message_letters_go_on(actor=request.user, message=message)
    except PortalError as exc:
        messages.error(request, exc.message)
        return _message_page(request, department, message, status=400)
    if job.status == Job.Status.FAILED:  # the queue refused it again (`_enqueue`)
        messages.error(request, f"Рассылку продолжить не удалось: {job.message}")
    else:
        messages.info(request, "Рассылка копий продолжается: письма получат те, кому они не ушли.")
    return redirect("department_message", pk=message.pk)


def _message_page(request, department, message, status: int = 200) -> HttpResponse:
    lines = selectors.message_readers(message)
    return render(
        request,
        "departments/message.html",
        {
            "department": department,
            "message": message,
            "lines": lines,
            "read": sum(1 for line in lines if line.readers),
            "job": selectors.message_letters_job(message),
            "left": selectors.letters_left(message),
        },
        status=status,
    )


@require_POST
@roles_required(ADMINS)
def message_read(request: HttpRequest, pk: int) -> HttpResponse:
    message = selectors.message_for_reader(request.user, pk)
    services.message_read(reader=request.user, message=message)
    messages.success(request, "Отмечено: сообщение управления образования прочитано.")
    return redirect("dashboard")
