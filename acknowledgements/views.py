from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import STAFF_ROLES, Role
from accounts.permissions import ADMINS, MANAGERS, roles_required
from cdt_portal import throttle
from cdt_portal.downloads import private_file_response, private_stored_response
from cdt_portal.errors import PortalError
from cdt_portal.exports import csv_response
from cdt_portal.inputs import parse_id
from cdt_portal.markup import render_markdown
from cdt_portal.net import client_ip
from cdt_portal.numbers import counted_once
from cdt_portal.paging import paginate

from .documents import order_filename
from .forms import ApproveForm, ConfirmForm, DeadlineForm, PaperForm, VersionForm
from .links import document_url
from .models import (
    REGULATION_CODE,
    Document,
    DocumentVersion,
    VersionStatus,
)
from .selectors import (
    AckFilter,
    ReadingStatus,
    acknowledgement_progress,
    acknowledgement_rows,
    agreement_state,
    approval_failure,
    approval_job,
    changes_since_read,
    current_version,
    document_versions,
    is_overdue,
    job_by_key,
    last_reminder_run,
    organisation_versions,
    pending_email_counts,
    pending_readers,
    previous_version,
    readers,
    reading_status,
    reminder_counts,
    reminder_deliveries,
    reminder_job,
    reminder_run_for_user,
    sibling_version,
    version_changes,
    version_history,
    with_acknowledgements,
)
from .services import (
    acknowledgement_confirm,
    acknowledgement_record_paper,
    messenger_draft_create,
    reminders_retry_failed,
    reminders_start,
    version_approve,
    version_create,
    version_edit,
    version_set_deadline,
)
from .sheet import sheet_lookup, sheet_prepare, stored_sheet_name

STAFF = frozenset(STAFF_ROLES)
DIRECTORS = frozenset({Role.DIRECTOR})


def get_version_for_user(request: HttpRequest, pk: int) -> DocumentVersion:
    """A version of the person's own organisation; anything else is 404."""
    return get_object_or_404(
        DocumentVersion.objects.select_related("document__organisation"),
        pk=pk,
        document__organisation_id=request.user.organisation_id,
    )


def _require_or_refuse(version: DocumentVersion, action: str, refuse=PermissionDenied) -> None:
    """The services' own rule for `action` (the versions' transition table), answered as a page
    answers it: 403, or `refuse` (Http404 where the thing asked for does not exist yet)."""
    try:
        version.require(action)
    except PortalError as exc:
        raise refuse(exc.message) from exc


def get_document_or_404(request: HttpRequest, code: str) -> Document:
    """A document of the person's own organisation by its code; anything else is 404. The
    regulation's pages answer before its first version exists (its document is made with it),
    so it is looked for by its code alone."""
    document = Document.objects.filter(
        organisation_id=request.user.organisation_id, code=code
    ).first()
    if document is None and code != REGULATION_CODE:
        raise Http404("Нет такого документа")
    return document


def get_current_version_or_404(
    request: HttpRequest, code: str = REGULATION_CODE
) -> DocumentVersion:
    # Of the person's organisation and this code: another's, or none, is 404 (one query).
    version = current_version(request.user.organisation, code)
    if version is None:
        raise Http404("Документ ещё не утверждён")
    return version


def _regulation_page(
    request: HttpRequest, status: ReadingStatus, form: ConfirmForm, *, document, status_code=200
):
    version = status.version
    # Asked to read a new version after confirming an earlier one: what changed comes first.
    changes = changes_since_read(request.user, version) if status.must_read else None
    return render(
        request,
        "acknowledgements/regulation.html",
        {
            "document": document,
            "version": version,
            "text_html": render_markdown(version.text) if version else "",
            "ack": status.acknowledgement,
            "must_read": status.must_read,
            "form": form,
            "changes": changes,
            # Before an online confirmation: the agreement on the простая электронная подпись
            # accepted, or refused («только на бумаге»).
            "agreement": agreement_state(request.user),
            "back": _back(request, request.GET.get("next") or request.POST.get("next")),
        },
        status=status_code,
    )


def _back(request: HttpRequest, target: str | None) -> str:
    """A page of this site to return to (a path, never another host), or ""."""
    if (
        target
        and target.startswith("/")
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return ""


@roles_required(STAFF)
def regulation(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    """A document's page for staff: its text, and the confirmation for those asked to read it
    (the regulation's page is `/regulation/`, every other's `/documents/<code>/`)."""
    document = get_document_or_404(request, code)
    status = reading_status(request.user, code=code)
    form = ConfirmForm(document=document, person=request.user)
    return _regulation_page(request, status, form, document=document)


@require_POST
@roles_required(STAFF)
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    _require_or_refuse(version, "confirm")
    form = ConfirmForm(request.POST, document=version.document, person=request.user)
    # The password again is a guess like the sign-in's: counted on the same throttle.
    throttle.check(request, request.user.get_username())
    if form.is_valid():
        try:
            _, created = acknowledgement_confirm(
                version=version,
                person=request.user,
                password=form.cleaned_data["password"],
                ip_address=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
            )
        except PortalError as exc:
            if exc.field == "password":
                throttle.failed(request, request.user.get_username())
            form.add_error(exc.field, exc.message)
            # A refusal about a field is shown at the field; any other (no agreement accepted
            # yet, only on paper) is the page's message.
            refusal = exc.message if exc.field is None else _check_the_form(version.document)
        else:
            if created:
                messages.success(request, _confirmed_message(version.document))
            back = _back(request, request.POST.get("next"))
            if version.document.is_agreement and back:
                return redirect(back)
            return redirect(document_url("read", version.document.code))
    else:
        refusal = _check_the_form(version.document)
    messages.error(request, refusal)
    # The form comes back with its errors, whatever the refusal was, so it can be sent again.
    unconfirmed = ReadingStatus(version=version, acknowledgement=None, must_read=True)
    return _regulation_page(request, unconfirmed, form, document=version.document, status_code=400)


def _check_the_form(document: Document) -> str:
    """The page's message for a form sent incomplete: the agreement on the простая электронная
    подпись is accepted, not «read», so its refusal says what was not recorded."""
    if document.is_agreement:
        return "Соглашение не принято: проверьте поля формы."
    return "Ознакомление не записано: проверьте поля формы."


@roles_required(STAFF)
def version_source_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """An act given as its own PDF: the file staff read (a draft's only for its managers)."""
    version = get_version_for_user(request, pk)
    if not version.source_pdf:
        raise Http404("Документ задан текстом, а не файлом")
    is_manager = request.user.has_role(Role.ADMIN, Role.DIRECTOR)
    if not is_manager and not version.allows("print_sheet"):
        raise Http404("Редакция не утверждена")
    return private_file_response(
        version.source_pdf,
        filename=version.source_name or "документ.pdf",
        content_type="application/pdf",
    )


def _reading_heading(document: Document) -> str:
    """«Ознакомление с …»: the regulation by its usual short name, any other act by its own."""
    if document.code == REGULATION_CODE:
        return "Ознакомление с Положением"
    return f"Ознакомление с документом «{document.title}»"


def _confirmed_message(document: Document) -> str:
    if document.is_agreement:
        return "Спасибо! Соглашение принято: теперь вы можете подтверждать ознакомление в портале."
    if document.code == REGULATION_CODE:
        return "Спасибо! Ознакомление с Положением записано."
    return f"Спасибо! Ознакомление с документом «{document.title}» записано."


@roles_required(MANAGERS)
def order_pdf(
    request: HttpRequest, pk: int | None = None, code: str = REGULATION_CODE
) -> HttpResponse:
    version = get_version_for_user(request, pk) if pk else get_current_version_or_404(request, code)
    if not version.order_pdf:
        raise Http404("У черновика нет утверждённого приказа")
    return private_file_response(
        version.order_pdf, filename=order_filename(version), content_type="application/pdf"
    )


@roles_required(MANAGERS)
def sheet(request: HttpRequest, pk: int | None = None, code: str = REGULATION_CODE) -> HttpResponse:
    """The stored sheet, at once. Otherwise a page: the job building it (its progress bar),
    or a button that starts it. Starting is a POST to the same address, which comes back here:
    nothing is written on GET."""
    version = get_version_for_user(request, pk) if pk else get_current_version_or_404(request, code)
    _require_or_refuse(version, "print_sheet", refuse=Http404)
    blank = request.GET.get("blank") == "1"
    if request.method == "POST":
        try:
            sheet_prepare(version=version, blank=blank, actor=request.user)
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect(request.get_full_path())
    # Found by the version's and the organisation's revision counters, loaded with the version:
    # an unchanged sheet is served without building its rows.
    lookup = sheet_lookup(version, blank=blank)
    stored = stored_sheet_name(lookup)
    if stored is not None:
        # Sent by nginx in production (`cdt_portal.downloads`), as the order is.
        return private_stored_response(
            stored, filename=lookup.filename, content_type="application/pdf"
        )
    return render(
        request,
        "acknowledgements/sheet_preparing.html",
        {"version": version, "blank": blank, "job": job_by_key(lookup.job_key)},
    )


def _list_filters(request: HttpRequest) -> tuple[str, str]:
    return request.GET.get("status", ""), request.GET.get("q", "").strip()


def _pending_page(request: HttpRequest, version: DocumentVersion) -> dict:
    """A page of the people still to read `version`, narrowed by `?q=` as the list is: the
    paper and reminder pages stay the same size whatever the staff."""
    _, query = _list_filters(request)
    rows = acknowledgement_rows(version, status=AckFilter.PENDING, query=query)
    organisation_id = version.document.organisation_id
    return {**paginate(request, rows, organisation_id=organisation_id), "query": query}


# The reminder results have their own page number in the address, beside the pending list's.
RESULTS_PAGE = "rpage"


def _results_page(request: HttpRequest, deliveries) -> dict:
    paging = paginate(request, deliveries, page_param=RESULTS_PAGE)
    return {"results_page": paging["page_obj"], "results_query_string": paging["query_string"]}


@roles_required(MANAGERS)
def acknowledgement_list(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    version = get_current_version_or_404(request, code)
    status, query = _list_filters(request)
    organisation = version.document.organisation
    paging = paginate(
        request,
        acknowledgement_rows(version, status=status, query=query),
        organisation_id=organisation.pk,
    )
    paging["page_obj"].object_list = list(with_acknowledgements(paging["page_obj"].object_list))
    return render(
        request,
        "acknowledgements/acknowledgement_list.html",
        {
            "version": version,
            "heading": _reading_heading(version.document),
            **paging,
            "status": status,
            "query": query,
            "overdue": is_overdue(version),
            # Counted once per change of the organisation (`cdt_portal.numbers`).
            "progress": counted_once(
                organisation.pk,
                f"progress:{version.pk}",
                lambda: acknowledgement_progress(version, organisation),
            ),
        },
    )


@roles_required(MANAGERS)
def acknowledgement_csv(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    """The list for Excel: UTF-8 with BOM and «;» between columns."""
    version = get_current_version_or_404(request, code)
    status, query = _list_filters(request)
    people = acknowledgement_rows(version, status=status, query=query)
    return csv_response(
        f"Ознакомление — приказ № {version.order_number}.csv",
        ["№", "Ф.И.О.", "Должность", "Дата ознакомления", "Способ", "Кто записал"],
        (
            [
                number,
                person.full_name,
                person.position,
                f"{ack.acknowledged_on:%d.%m.%Y}" if ack else "",
                ack.get_method_display() if ack else f"не ознакомлен{person.gender_suffix}",
                ack.recorded_by.full_name if ack else "",
            ]
            for number, (person, ack) in enumerate(
                with_acknowledgements(people.iterator(chunk_size=1000)), start=1
            )
        ),
    )


@roles_required(MANAGERS)
def remind(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    """«Напомнить»: a POST starts a reminder run (a job), or a retry of the failed ones of a
    finished run; the page shows the last run's progress and then each person's result."""
    version = get_current_version_or_404(request, code)
    if request.method == "POST":
        base_url = request.build_absolute_uri("/")
        try:
            if request.POST.get("retry"):
                run = reminder_run_for_user(version, parse_id(request.POST["retry"]) or 0)
                if run is None:
                    raise Http404("Нет такой рассылки")
                reminders_retry_failed(run=run, actor=request.user, base_url=base_url)
            else:
                reminders_start(version=version, actor=request.user, base_url=base_url)
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect(document_url("remind", code))
    pending = _pending_page(request, version)
    with_email, without_email = pending_email_counts(version)
    run = last_reminder_run(version)
    job = reminder_job(run) if run else None
    # Each person's result once the run is over, a page at a time, searched as the list is.
    results = (
        _results_page(request, reminder_deliveries(run, query=pending["query"]))
        if run is not None and run.finished_at is not None
        else {"results_page": None}
    )
    return render(
        request,
        "acknowledgements/remind_confirm.html",
        {
            "version": version,
            **pending,
            "with_email": with_email,
            "without_email": without_email,
            "run": run,
            "job": job,
            "show_progress": job is not None and job.started_by_id == request.user.pk,
            **results,
            "counts": reminder_counts(run) if run else {},
        },
    )


PAPER_VERSION_CHANGED = (
    "Пока вы заполняли форму, в силу вступила другая редакция ({order}). Подпись на бумажном "
    "листе относится к той редакции, которую человек подписал: проверьте лист и запишите "
    "подпись заново."
)


@roles_required(MANAGERS)
def record_paper(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    version = get_current_version_or_404(request, code)
    people = pending_readers(version)
    form = PaperForm(request.POST or None, people=people, initial={"version": version.pk})
    if request.method == "POST" and form.is_valid() and form.cleaned_data["version"] != version.pk:
        order = version.order_label  # «Приказ от … № …», in the sentence's lower case
        form.add_error(None, PAPER_VERSION_CHANGED.format(order=order[:1].lower() + order[1:]))
    if request.method == "POST" and form.is_valid():
        person = form.cleaned_data["person"]
        try:
            acknowledgement_record_paper(
                version=version,
                person=person,
                paper_date=form.cleaned_data["paper_date"],
                recorded_by=request.user,
            )
        except PortalError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(
                request,
                f"Записано: {person.full_name} ознакомлен{person.gender_suffix} "
                f"{form.cleaned_data['paper_date']:%d.%m.%Y} (по бумажному листу).",
            )
            return redirect(document_url("list", code))
    # The form accepts anyone still pending (named by the POST); the page lists a page of them.
    return render(
        request,
        "acknowledgements/paper_form.html",
        {"version": version, "form": form, **_pending_page(request, version)},
        status=400 if form.errors else 200,
    )


@roles_required(MANAGERS)
def version_list(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    document = get_document_or_404(request, code)
    versions = organisation_versions(request.user.organisation).filter(document__code=code)
    return render(
        request,
        "acknowledgements/version_list.html",
        {"versions": versions, "document": document, "code": code},
    )


@roles_required(MANAGERS)
def version_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    job = approval_job(version)
    return render(
        request,
        "acknowledgements/version_detail.html",
        {
            "version": version,
            # Every manager follows the approval (`register_job_viewer`); the page reloads when
            # it ends and shows the approved version or the reason it failed.
            "approval_job": job,
            "approval_failed": approval_failure(version, job),
            # The buttons the version's state allows (`models.TRANSITIONS`).
            "actions": version.allowed_actions(),
            "text_html": render_markdown(version.text),
            "history": version_history(version),
            "deadline_form": DeadlineForm(initial={"read_by": version.read_by}),
            "overdue": is_overdue(version),
            "previous": previous_version(version),
        },
    )


@require_POST
@roles_required(ADMINS)
def version_deadline(request: HttpRequest, pk: int) -> HttpResponse:
    """The administrator sets or clears the due date for reading the version."""
    version = get_version_for_user(request, pk)
    form = DeadlineForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Срок не изменён: " + " ".join(form.errors.get("read_by", [])))
        return redirect("version_detail", pk=version.pk)
    try:
        version = version_set_deadline(
            version=version, actor=request.user, read_by=form.cleaned_data["read_by"]
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        if version.read_by:
            messages.success(request, f"Срок ознакомления: до {version.read_by:%d.%m.%Y}.")
        else:
            messages.success(request, "Срок ознакомления снят.")
    return redirect("version_detail", pk=version.pk)


@roles_required(MANAGERS)
def version_changes_view(request: HttpRequest, pk: int) -> HttpResponse:
    """What changed between the version and the previous one, or the one named by `?from=`
    (a version of the same document; anything else is 404)."""
    version = get_version_for_user(request, pk)
    if "from" in request.GET:
        base_pk = parse_id(request.GET["from"])
        base = sibling_version(version, base_pk) if base_pk else None
        if base is None:
            raise Http404("Нет такой редакции")
    else:
        base = previous_version(version)
    return render(
        request,
        "acknowledgements/version_changes.html",
        {
            "version": version,
            "base": base,
            "diff": version_changes(base, version) if base else None,
            "versions": document_versions(version).exclude(pk=version.pk),
            # The page shows only the changed paragraphs; the whole text is the version's page.
            "whole_url": reverse("version_detail", kwargs={"pk": version.pk}) + "#version-text",
            "whole_label": f"Весь текст редакции {version.number}",
        },
    )


@roles_required(MANAGERS)
def version_new(request: HttpRequest, code: str = REGULATION_CODE) -> HttpResponse:
    organisation = request.user.organisation
    document = get_document_or_404(request, code)
    base = current_version(organisation, code)
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
            organisation=organisation, actor=request.user, code=code, **form.cleaned_data
        )
        messages.success(request, f"Создан черновик редакции {version.number}.")
        return redirect("version_detail", pk=version.pk)
    return render(
        request,
        "acknowledgements/version_form.html",
        {"form": form, "version": None, "document": document, "code": code},
    )


@require_POST
@roles_required(MANAGERS)
def messenger_draft_view(request: HttpRequest, back: str) -> HttpResponse:
    """«Подготовить проект новой редакции»: the regulation's draft with the messenger's name
    replaced (or the draft that already exists). A refusal goes back to `back`, the page the
    button is on: the dashboard, a page of a higher layer, so its URLconf gives the address
    (`onboarding/urls.py`) and this app names none above it."""
    try:
        draft = messenger_draft_create(organisation=request.user.organisation, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(
        request,
        f"Проект редакции {draft.number} готов: проверьте текст, укажите номер и дату приказа "
        "и передайте руководителю на утверждение.",
    )
    return redirect("version_detail", pk=draft.pk)


@roles_required(MANAGERS)
def version_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    try:
        version.require("edit")
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("version_detail", pk=version.pk)
    form = VersionForm(request.POST or None, instance=version)
    if request.method == "POST" and form.is_valid():
        try:
            version_edit(version=version, actor=request.user, **form.cleaned_data)
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Черновик сохранён.")
        return redirect("version_detail", pk=version.pk)
    return render(request, "acknowledgements/version_form.html", {"form": form, "version": version})


@roles_required(DIRECTORS)
def version_approve_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_version_for_user(request, pk)
    previous = current_version(request.user.organisation, version.document.code)
    # An empty POST (nothing ticked) is a substantive approval: the form is bound to it.
    form = ApproveForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            version = version_approve(
                version=version,
                actor=request.user,
                editorial=form.cleaned_data["editorial"],
                editorial_reason=form.cleaned_data["editorial_reason"],
            )
        except PortalError as exc:
            messages.error(request, exc.message)
            return redirect("version_detail", pk=version.pk)
        if version.status == VersionStatus.APPROVED:  # the worker was quick
            messages.success(
                request,
                f"Редакция {version.number} утверждена ({version.order_label}). "
                + (
                    "Правка редакционная: ознакомление с прежней редакцией засчитано."
                    if version.editorial
                    else "Всех сотрудников попросят ознакомиться с ней."
                ),
            )
        elif version.status == VersionStatus.APPROVING:
            messages.info(
                request,
                f"Редакция {version.number} утверждается: приказ формируется. "
                "Страница обновится, когда он будет готов.",
            )
        return redirect("version_detail", pk=version.pk)
    return render(
        request,
        "acknowledgements/version_approve_confirm.html",
        {
            "version": version,
            "form": form,
            "previous": previous,
            "readers_count": readers(version.document).count(),
        },
    )
