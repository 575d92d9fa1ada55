"""Parents confirm the notice and give or withdraw consent; the administrator follows both."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Guardianship, Role, StudyGroup, User
from accounts.permissions import MANAGERS, get_child_for_parent, roles_required
from cdt_portal.markup import render_markdown
from cdt_portal.paging import paginate, search_people
from cdt_portal.pdf import pdf_response, render_pdf

from .models import ConsentRecord, NoticeAcknowledgement
from .parents import (
    ParentError,
    consent_record,
    current_consent_text,
    default_notice_text,
    notice_confirm,
    notice_publish,
)
from .selectors import current_notice

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
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except ParentError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"{child.full_name}: согласие {record.get_action_display()} {record.at:%d.%m.%Y}.",
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


def _parents_by_group(organisation, notice):
    confirmed = (
        set(NoticeAcknowledgement.objects.filter(notice=notice).values_list("parent_id", flat=True))
        if notice
        else set()
    )
    links = Prefetch(
        "students__parent_links", queryset=Guardianship.objects.select_related("parent")
    )
    groups = StudyGroup.objects.filter(organisation=organisation).prefetch_related(links)
    rows = []
    for group in groups:
        parents = {
            link.parent.pk: link.parent
            for student in group.students.all()
            for link in student.parent_links.all()
            if link.parent.is_active
        }
        people = sorted(parents.values(), key=lambda p: p.full_name)
        rows.append(
            {
                "group": group,
                "parents": [(p, p.pk in confirmed) for p in people],
                "confirmed": sum(p.pk in confirmed for p in people),
            }
        )
    return rows


@roles_required(MANAGERS)
def notices(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    notice = current_notice(organisation)
    if request.method == "POST":
        if not request.user.has_role(Role.ADMIN):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        try:
            notice_publish(
                organisation=organisation, actor=request.user, text=request.POST.get("text", "")
            )
        except ParentError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, "Уведомление опубликовано: родители увидят его на своей странице."
            )
        return redirect("notices")
    return render(
        request,
        "onboarding/notices.html",
        {
            "notice": notice,
            "notice_html": render_markdown(notice.text) if notice else "",
            "draft": notice.text if notice else default_notice_text(organisation),
            "groups": _parents_by_group(organisation, notice),
            "is_admin": request.user.has_role(Role.ADMIN),
        },
    )


@roles_required(MANAGERS)
def consents(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    records = Prefetch(
        "consents",
        queryset=ConsentRecord.objects.select_related("parent").order_by("at", "pk"),
        to_attr="consent_history",
    )
    students = (
        User.objects.filter(organisation=organisation)
        .with_role(Role.STUDENT)
        .prefetch_related(records, "study_groups")
        .order_by("last_name", "first_name")
    )
    query = request.GET.get("q", "").strip()
    students = search_people(students, query)
    group_id = request.GET.get("group", "")
    if group_id.isdigit():
        students = students.filter(study_groups__pk=int(group_id))

    return render(
        request,
        "onboarding/consents.html",
        {
            **paginate(request, students),
            "groups": StudyGroup.objects.filter(organisation=organisation),
            "group_id": group_id,
            "query": query,
        },
    )
