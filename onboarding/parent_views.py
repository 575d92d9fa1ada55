"""Parents confirm the notice and give or withdraw consent; the administrator follows both."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.models import Role
from accounts.permissions import ADMINS, MANAGERS, get_child_for_parent, roles_required
from cdt_portal.errors import PortalError
from cdt_portal.inputs import parse_id
from cdt_portal.markup import render_markdown
from cdt_portal.net import client_ip
from cdt_portal.paging import paginate
from cdt_portal.pdf import pdf_response, render_pdf

from .selectors import consent_listing, current_consent_text, current_notice, notice_overview
from .services import consent_record, notice_confirm, notice_publish

PARENTS = frozenset({Role.PARENT})


@require_POST
@roles_required(PARENTS)
def notice_confirm_view(request: HttpRequest) -> HttpResponse:
    notice = current_notice(request.user.organisation)
    if notice is None:
        raise Http404("Уведомления нет")
    notice_confirm(notice=notice, parent=request.user)
    messages.success(request, "Спасибо! Отмечено, что вы ознакомлены с уведомлением.")
    return redirect("family_home")


@require_POST
@roles_required(PARENTS)
def consent_view(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_child_for_parent(request, pk)
    try:
        record = consent_record(
            parent=request.user,
            student=child,
            action=request.POST.get("action", ""),
            ip_address=client_ip(request),
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            # The organisation's time zone is active for the request (accounts.middleware).
            f"{child.full_name}: согласие {record.get_action_display()} "
            f"{timezone.localtime(record.at):%d.%m.%Y}.",
        )
    return redirect("family_home")


@roles_required(MANAGERS | PARENTS)
def consent_text(request: HttpRequest) -> HttpResponse:
    text = current_consent_text(request.user.organisation)
    if request.GET.get("format") == "pdf":
        filename, pdf = render_pdf(
            "pdf/consent.html",
            {
                "text_html": str(render_markdown(text.text)),
                "organisation": request.user.organisation,
                "today": f"{timezone.localdate():%d.%m.%Y}",
            },
            filename="Согласие на обработку персональных данных.pdf",
        )
        return pdf_response(filename, pdf)
    return render(
        request,
        "onboarding/consent_text.html",
        {"text": text, "text_html": render_markdown(text.text)},
    )


@require_safe
@roles_required(MANAGERS)
def notices(request: HttpRequest) -> HttpResponse:
    """The notice in force and who confirmed it; publishing is `notice_publish_view`."""
    overview = notice_overview(request.user.organisation)
    return render(
        request,
        "onboarding/notices.html",
        {
            "notice": overview.notice,
            "notice_html": render_markdown(overview.notice.text) if overview.notice else "",
            "draft": overview.draft,
            "groups": overview.groups,
            "is_admin": request.user.has_role(Role.ADMIN),
        },
    )


@require_POST
@roles_required(ADMINS)
def notice_publish_view(request: HttpRequest) -> HttpResponse:
    try:
        notice_publish(
            organisation=request.user.organisation,
            actor=request.user,
            text=request.POST.get("text", ""),
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, "Уведомление опубликовано: родители увидят его на своей странице."
        )
    return redirect("notices")


@roles_required(MANAGERS)
def consents(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    group_id = request.GET.get("group", "")
    listing = consent_listing(
        request.user.organisation,
        query=query,
        group_id=parse_id(group_id),
    )
    return render(
        request,
        "onboarding/consents.html",
        {
            **paginate(request, listing.students),
            "groups": listing.groups,
            "group_id": group_id,
            "query": query,
        },
    )
