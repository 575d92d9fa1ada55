"""The pages of documents, plural: the managers' list of every local act and the form that
adds one, a member of staff's «Мои документы» and their refusal of the agreement on the
простая электронная подпись, and the verification page the QR code on the order and the sheet
leads to. A document's own pages (reading, the list of who read it, versions) are `views`."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.permissions import MANAGERS, roles_required
from cdt_portal.errors import PortalError
from cdt_portal.uploads import check_upload

from .documents import read_confirmation_log
from .forms import DocumentForm, VerifyForm
from .models import AGREEMENT_TITLE, DocumentKind
from .selectors import agreement_state, organisation_documents
from .selectors import my_documents as my_documents_of
from .services import agreement_refuse, default_agreement_text, document_create
from .verification import log_check, version_check
from .views import STAFF, _require_or_refuse, get_version_for_user


@roles_required(MANAGERS)
def document_list(request: HttpRequest) -> HttpResponse:
    """Every local act of the organisation: its kind, who reads it, its progress, the order's
    storage term."""
    rows = organisation_documents(request.user.organisation)
    return render(
        request,
        "acknowledgements/document_list.html",
        {"rows": rows, "agreement_missing": not any(r.document.is_agreement for r in rows)},
    )


@roles_required(MANAGERS)
def document_new(request: HttpRequest) -> HttpResponse:
    """A new local act with its first draft; the director approves it like any version. With
    `?kind=agreement` the form starts from the default agreement on the простая электронная
    подпись."""
    organisation = request.user.organisation
    initial = {
        "approver_position": organisation.head_position,
        "approver_name": organisation.head_name,
        "order_date": timezone.localdate(),
    }
    if request.GET.get("kind") == DocumentKind.AGREEMENT:
        initial.update(
            kind=DocumentKind.AGREEMENT,
            title=AGREEMENT_TITLE,
            text=default_agreement_text(organisation),
        )
    form = DocumentForm(
        request.POST or None, request.FILES or None, initial=initial, organisation=organisation
    )
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        upload = fields.pop("source_pdf")
        try:
            # The act's own PDF, opened for real (a renamed image or a locked PDF is refused).
            source = (
                check_upload(upload, field="source_pdf", missing="", pdf_only=True)
                if upload
                else None
            )
            version = document_create(
                organisation=organisation,
                actor=request.user,
                source=source,
                source_name=upload.name if upload else "",
                **fields,
            )
        except PortalError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                f"Документ «{version.document.title}» добавлен: черновик редакции 1 ждёт "
                "утверждения руководителем.",
            )
            return redirect("version_detail", pk=version.pk)
    return render(
        request,
        "acknowledgements/document_form.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


@roles_required(STAFF)
def my_documents(request: HttpRequest) -> HttpResponse:
    """«Мои документы»: what to read, by when, what was read and when."""
    return render(
        request,
        "acknowledgements/my_documents.html",
        {"documents": my_documents_of(request.user), "agreement": agreement_state(request.user)},
    )


@require_POST
@roles_required(STAFF)
def agreement_refuse_view(request: HttpRequest) -> HttpResponse:
    """«Отказываюсь от электронной подписи»: the person is marked «только на бумаге»."""
    try:
        agreement_refuse(person=request.user, actor=request.user)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Записано: вы знакомитесь с документами на бумаге, под роспись у администратора.",
        )
    return redirect("my_documents")


@roles_required(MANAGERS)
def version_verify(request: HttpRequest, pk: int) -> HttpResponse:
    """Where the QR code of an order or a sheet leads: the version's text against the SHA-256
    recorded at approval and each confirmation against its text; a sheet's file, uploaded,
    has its embedded log compared with the records. Reads only: a POST only sends the file."""
    version = get_version_for_user(request, pk)
    _require_or_refuse(version, "print_sheet", refuse=Http404)
    form = VerifyForm(request.POST or None, request.FILES or None)
    lines = None
    if request.method == "POST" and form.is_valid():
        try:
            lines = log_check(version, read_confirmation_log(form.cleaned_data["file"].read()))
        except PortalError as exc:
            form.add_error("file", exc.message)
    return render(
        request,
        "acknowledgements/version_verify.html",
        {"check": version_check(version), "form": form, "lines": lines},
        status=400 if form.errors else 200,
    )
