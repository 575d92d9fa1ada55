"""The families' pages: parents confirm the notice, give or withdraw consent and may choose
another channel; students confirm their notice; the administrator publishes the notices, sets
the parents' deadlines, records paper consents and follows all of it; a teacher sees their
group's families; anyone reads the privacy policy.

A family's page itself (`family_home`) belongs to `portal`, a layer above: the parents' and
the students' actions still return there by its URL name, an upward link kept as it was when
these views lived in `onboarding`."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from accounts.models import Role
from accounts.permissions import (
    ADMINS,
    FAMILIES,
    MANAGERS,
    TEACHERS,
    get_child_for_parent,
    get_group_for_user,
    get_person_for_user,
    roles_required,
)
from cdt_portal import throttle
from cdt_portal.errors import PortalError
from cdt_portal.inputs import parse_id
from cdt_portal.markup import render_markdown
from cdt_portal.net import client_ip
from cdt_portal.paging import paginate
from cdt_portal.pdf import pdf_response, render_pdf

from .forms import ConsentForm, FamilyChoiceForm, PaperConsentForm, StudentConsentForm
from .models import CONSENT_DETAIL_FIELDS, ConsentDetails, ConsentRecord, ParentTask
from .selectors import (
    OWN_CONSENT_AGE,
    age_on,
    consent_document_context,
    consent_listing,
    consent_record_for_manager,
    consent_state,
    current_notice,
    current_signature_terms,
    current_student_notice,
    default_student_notice_text,
    family_choices,
    family_overview,
    last_given_consent,
    notice_overview,
    overdue_consent_student_ids,
    overdue_parents,
    parent_deadline,
    parents_to_remind_in_person,
    recent_parent_reminders,
    student_consent_document_context,
    student_consent_state,
    student_notice_state,
)
from .selectors import group_families as group_families_of
from .services import (
    consent_give,
    consent_record_paper,
    consent_withdraw,
    family_choice_set,
    notice_confirm,
    notice_publish,
    parent_deadline_set,
    student_consent_give,
    student_consent_withdraw,
    student_notice_confirm,
    student_notice_publish,
)

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
    """The old one-click address: giving needs the filled form (152-ФЗ ст. 9 ч. 4) and
    withdrawing its confirmation page, so both are sent there and nothing is written here."""
    child = get_child_for_parent(request, pk)
    action = request.POST.get("action", "")
    if action == "given":
        return redirect("consent_give", pk=child.pk)
    if action == "withdrawn":
        return redirect("consent_withdraw", pk=child.pk)
    messages.error(request, "Неизвестное действие.")
    return redirect("family_home")


@roles_required(FAMILIES)
def family_home(request: HttpRequest) -> HttpResponse:
    """A parent's or a student's home: the organisation's notice, each child's consent and
    channel, and the groups' chats."""
    user = request.user
    family = family_overview(user)
    student_notice = student_notice_state(user)
    return render(
        request,
        "families/home.html",
        {
            "notice": family.notice,
            "notice_html": render_markdown(family.notice.text) if family.notice else "",
            "notice_ack": family.notice_ack,
            "student_notice": student_notice.notice,
            "student_notice_html": (
                render_markdown(student_notice.notice.text) if student_notice.notice else ""
            ),
            "student_notice_ack": student_notice.ack,
            "organisation": user.organisation,
            "children": family.children,
            "own_groups": family.own_groups,
            "administrators": user.organisation.platform_administrators,
        },
    )


@roles_required(MANAGERS | PARENTS)
def consent_text(request: HttpRequest) -> HttpResponse:
    context = consent_document_context(request.user.organisation)
    if request.GET.get("format") == "pdf":
        filename, pdf = render_pdf(
            "families/pdf/consent.html",
            context,
            filename="Согласие на обработку персональных данных.pdf",
            css=CONSENT_CSS,
        )
        return pdf_response(filename, pdf)
    return render(request, "families/consent_text.html", context)


@require_safe
@roles_required(MANAGERS)
def notices(request: HttpRequest) -> HttpResponse:
    """The notice in force and who confirmed it; publishing is `notice_publish_view`."""
    overview = notice_overview(request.user.organisation)
    student_notice = current_student_notice(request.user.organisation)
    return render(
        request,
        "families/notices.html",
        {
            "notice": overview.notice,
            "notice_html": render_markdown(overview.notice.text) if overview.notice else "",
            "draft": overview.draft,
            "groups": overview.groups,
            "student_notice": student_notice,
            "student_notice_html": render_markdown(student_notice.text) if student_notice else "",
            "student_draft": (
                student_notice.text
                if student_notice
                else default_student_notice_text(request.user.organisation)
            ),
            **_deadline_context(request.user.organisation, ParentTask.NOTICE, request.user),
        },
    )


@require_POST
@roles_required(ADMINS)
def notice_publish_view(request: HttpRequest) -> HttpResponse:
    return _publish(
        request, notice_publish, "Уведомление опубликовано: родители увидят его на своей странице."
    )


def _publish(request: HttpRequest, publish, success: str) -> HttpResponse:
    """Publish the posted text with `publish` (a notice service) and say what happened."""
    try:
        publish(
            organisation=request.user.organisation,
            actor=request.user,
            text=request.POST.get("text", ""),
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, success)
    return redirect("notices")


@roles_required(MANAGERS)
def consents(request: HttpRequest) -> HttpResponse:
    organisation = request.user.organisation
    query = request.GET.get("q", "").strip()
    group_id = request.GET.get("group", "")
    only_overdue = request.GET.get("overdue") == "1"
    listing = consent_listing(organisation, query=query, group_id=parse_id(group_id))
    overdue_ids = overdue_consent_student_ids(organisation)
    students = listing.students.filter(pk__in=overdue_ids) if only_overdue else listing.students
    return render(
        request,
        "families/consents.html",
        {
            **paginate(request, students, organisation_id=request.user.organisation_id),
            "groups": listing.groups,
            "group_id": group_id,
            "query": query,
            "only_overdue": only_overdue,
            "overdue_ids": overdue_ids,
            "sferum_operator_missing": not settings.SFERUM_OPERATOR,
            **_deadline_context(organisation, ParentTask.CONSENT, request.user),
        },
    )


def _deadline_context(organisation, kind: str, user) -> dict:
    return {
        "deadline": parent_deadline(organisation, kind),
        "deadline_kind": kind,
        "overdue_parents": overdue_parents(organisation, kind),
        "remind_in_person": parents_to_remind_in_person(organisation, kind),
        "recent_reminders": recent_parent_reminders(organisation, kind),
        "today": timezone.localdate(),
        "is_admin": user.has_role(Role.ADMIN),
    }


def _deadline_post(request: HttpRequest, kind: str, back: str) -> HttpResponse:
    raw = request.POST.get("due_date", "").strip()
    try:
        due_date = dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        messages.error(request, "Укажите дату срока.")
        return redirect(back)
    try:
        parent_deadline_set(
            organisation=request.user.organisation, actor=request.user, kind=kind, due_date=due_date
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Срок установлен: {due_date:%d.%m.%Y}." if due_date else "Срок снят.",
        )
    return redirect(back)


@require_POST
@roles_required(ADMINS)
def notice_deadline_view(request: HttpRequest) -> HttpResponse:
    return _deadline_post(request, ParentTask.NOTICE, "notices")


@require_POST
@roles_required(ADMINS)
def consent_deadline_view(request: HttpRequest) -> HttpResponse:
    return _deadline_post(request, ParentTask.CONSENT, "consents")


# Issue 12, the family side: the students' notice, families who decline, the full consent, the
# privacy page --------------------------------------------------------------------------------

STUDENTS = frozenset({Role.STUDENT})
# The consent's opening paragraphs are a form: names, numbers and lines to fill in by hand.
# Justified, their few long words spread apart and the lines' labels were hyphenated, so they
# are set ragged right and never hyphenated, the names read whole
# (tests/families/test_consent_pdf_layout.py); the terms that follow are the document's
# justified text.
CONSENT_CSS = ".consent-field { text-align: left; hyphens: manual; }"


@require_POST
@roles_required(STUDENTS)
def student_notice_confirm_view(request: HttpRequest) -> HttpResponse:
    notice = current_student_notice(request.user.organisation)
    if notice is None:
        raise Http404("Уведомления нет")
    student_notice_confirm(notice=notice, student=request.user)
    messages.success(
        request, f"Спасибо! Отмечено, что ты прочитал{request.user.gender_suffix} памятку."
    )
    return redirect("family_home")


@roles_required(STUDENTS)
def student_consent_view(request: HttpRequest) -> HttpResponse:
    """A student's own consent (from 14): its state, and the form to give it with the
    password; the consent's terms are the organisation's, shown above the form."""
    student = request.user
    consent = student_consent_state(student)
    form = StudentConsentForm(request.POST or None, initial={"full_name": student.full_name})
    if request.method == "POST":
        throttle.check(request, student.get_username())
        if form.is_valid():
            data = form.cleaned_data
            try:
                row = student_consent_give(
                    student=student,
                    details=data,
                    password=data["password"],
                    terms_accepted=data["terms"],
                    ip_address=client_ip(request),
                )
            except PortalError as exc:
                if exc.field == "password":
                    throttle.failed(request, student.get_username())
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(
                    request, f"Ваше согласие записано {timezone.localtime(row.at):%d.%m.%Y}."
                )
                return redirect("student_consent")
    return render(
        request,
        "families/student_consent.html",
        {
            "consent": consent,
            "form": form,
            "signature_terms_html": _signature_terms_html(student.organisation),
            **student_consent_document_context(student.organisation),
        },
        status=400 if form.errors else 200,
    )


@roles_required(STUDENTS)
def student_consent_withdraw_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            row = student_consent_withdraw(student=request.user, ip_address=client_ip(request))
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"Ваше согласие отозвано {timezone.localtime(row.at):%d.%m.%Y}."
            )
        return redirect("student_consent")
    return render(
        request,
        "families/student_consent_withdraw.html",
        {
            "consent": student_consent_state(request.user),
            "retention_days": settings.CONSENT_RETENTION_DAYS,
        },
    )


@require_POST
@roles_required(ADMINS)
def student_notice_publish_view(request: HttpRequest) -> HttpResponse:
    return _publish(
        request,
        student_notice_publish,
        "Уведомление для обучающихся опубликовано: они увидят его на своей странице.",
    )


@roles_required(PARENTS)
def family_choice_view(request: HttpRequest, pk: int) -> HttpResponse:
    """«Не используем „Сферум“» for a child and another channel; or back to Sferum."""
    child = get_child_for_parent(request, pk)
    choice = family_choices(request.user).get(child.pk)
    initial = {"channel": choice.channel, "contact": choice.contact} if choice else {}
    form = FamilyChoiceForm(request.POST or None, initial=initial)
    if request.method == "POST":
        declined = request.POST.get("declined") != "0"
        if not declined or form.is_valid():
            data = form.cleaned_data if declined else {}
            try:
                family_choice_set(
                    parent=request.user,
                    student=child,
                    declined=declined,
                    channel=data.get("channel", ""),
                    contact=data.get("contact", ""),
                )
            except PortalError as exc:
                form.add_error(exc.field, exc.message)
            else:
                messages.success(
                    request,
                    f"{child.full_name}: "
                    + (
                        "записано, что вы не используете «Сферум». Педагог будет связываться "
                        "выбранным способом."
                        if declined
                        else "записано, что вы снова используете «Сферум»."
                    ),
                )
                return redirect("family_home")
    return render(
        request, "families/family_choice.html", {"child": child, "choice": choice, "form": form}
    )


@roles_required(PARENTS)
def consent_give_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The consent form; a valid form shows the filled consent and what follows, and only its
    confirmation (`confirm=1`) records it."""
    child = get_child_for_parent(request, pk)
    last = last_given_consent(child, request.user)
    initial = (
        {f: getattr(last.details, f) for f in CONSENT_DETAIL_FIELDS}
        if last is not None and hasattr(last, "details") and last.details.erased_at is None
        else {"parent_full_name": request.user.full_name, "child_full_name": child.full_name}
    )
    form = ConsentForm(request.POST or None, initial=initial)
    password_error = terms_error = ""
    if request.method == "POST" and form.is_valid():
        if request.POST.get("confirm") == "1":
            # The password is a guess like the sign-in's: counted on the same throttle.
            throttle.check(request, request.user.get_username())
            try:
                record = consent_give(
                    parent=request.user,
                    student=child,
                    details=form.cleaned_data,
                    password=request.POST.get("password", ""),
                    terms_accepted=request.POST.get("terms") == "on",
                    ip_address=client_ip(request),
                )
            except PortalError as exc:
                if exc.field == "terms":
                    terms_error = exc.message
                elif exc.field != "password":
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                    return _consent_form(request, child, form)
                else:
                    throttle.failed(request, request.user.get_username())
                    password_error = exc.message
            else:
                messages.success(
                    request,
                    f"{child.full_name}: согласие дано {timezone.localtime(record.at):%d.%m.%Y}.",
                )
                return redirect("family_home")
        preview = ConsentDetails(signed_on=timezone.localdate(), **form.cleaned_data)
        return render(
            request,
            "families/consent_confirm.html",
            {
                "child": child,
                "form": form,
                "password_error": password_error,
                "terms_error": terms_error,
                "signature_terms_html": _signature_terms_html(request.user.organisation),
                "own_consent_too": _own_consent_too(preview.child_birth_date),
                **consent_document_context(request.user.organisation, preview),
            },
            status=400 if password_error or terms_error else 200,
        )
    return _consent_form(request, child, form)


def _consent_form(request: HttpRequest, child, form) -> HttpResponse:
    return render(
        request,
        "families/consent_form.html",
        {"child": child, "form": form},
        status=400 if form.errors else 200,
    )


def _signature_terms_html(organisation) -> str:
    """The terms of the простая электронная подпись a consent is signed under online."""
    return render_markdown(current_signature_terms(organisation).text)


def _own_consent_too(birth_date: dt.date | None) -> bool:
    """The child is 14 or older: the form says they give their own consent too."""
    return birth_date is not None and age_on(birth_date, timezone.localdate()) >= OWN_CONSENT_AGE


@roles_required(PARENTS)
def consent_withdraw_view(request: HttpRequest, pk: int) -> HttpResponse:
    child = get_child_for_parent(request, pk)
    if request.method == "POST":
        try:
            record = consent_withdraw(
                parent=request.user, student=child, ip_address=client_ip(request)
            )
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                f"{child.full_name}: согласие отозвано {timezone.localtime(record.at):%d.%m.%Y}.",
            )
        return redirect("family_home")
    return render(
        request,
        "families/consent_withdraw.html",
        {
            "child": child,
            "consent": consent_state(child),
            "retention_days": settings.CONSENT_RETENTION_DAYS,
        },
    )


@require_safe
@roles_required(PARENTS)
def consent_pdf_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The parent's consent for this child: filled from their last consent, else a form for ink
    with the child's name."""
    child = get_child_for_parent(request, pk)
    last = last_given_consent(child, request.user)
    details = getattr(last, "details", None) if last else None
    if details is not None and details.erased_at is not None:
        details = None  # erased after the retention: a form for ink, as before any consent
    filename, pdf = render_pdf(
        "families/pdf/consent.html",
        consent_document_context(request.user.organisation, details, child),
        filename=f"Согласие на обработку персональных данных — {child.full_name}.pdf",
        css=CONSENT_CSS,
    )
    return pdf_response(filename, pdf)


@require_safe
@roles_required(MANAGERS)
def consent_record_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """A recorded consent, filled, for the organisation's managers; another's is 404."""
    try:
        record = consent_record_for_manager(request.user.organisation, pk)
    except ConsentRecord.DoesNotExist as exc:
        raise Http404("Нет такого согласия") from exc
    details = getattr(record, "details", None)
    if details is None or record.action != "given":
        raise Http404("У этой записи нет заполненного согласия")
    if details.erased_at is not None:
        raise Http404("Сведения этого согласия удалены по истечении срока хранения")
    filename, pdf = render_pdf(
        "families/pdf/consent.html",
        consent_document_context(request.user.organisation, details),
        filename=f"Согласие на обработку персональных данных — {record.student.full_name}.pdf",
        css=CONSENT_CSS,
    )
    return pdf_response(filename, pdf)


@roles_required(ADMINS)
def consent_paper_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The administrator records a consent or a withdrawal signed on paper, with its date."""
    student = get_person_for_user(request, pk)
    parents = [link.parent for link in student.parent_links.select_related("parent")]
    if not student.has_role(Role.STUDENT) or not parents:
        raise Http404("Нет такого обучающегося с родителями")
    form = PaperConsentForm(request.POST or None, parents=parents)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        parent = next(p for p in parents if p.pk == data["parent"])
        try:
            consent_record_paper(
                actor=request.user,
                parent=parent,
                student=student,
                action=data["action"],
                signed_on=data["signed_on"],
                details=data,
            )
        except PortalError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"{student.full_name}: бумажный документ записан.")
            return redirect("consents")
    return render(
        request,
        "families/consent_paper.html",
        {"student": student, "form": form, "consent": consent_state(student)},
    )


@require_safe
@roles_required(TEACHERS | MANAGERS)
def group_families(request: HttpRequest, pk: int) -> HttpResponse:
    """For the group's teacher: consent state, families' channels, the students' notice."""
    group = get_group_for_user(request, pk)
    return render(
        request,
        "families/group_families.html",
        {"group": group, "families": group_families_of(group)},
    )
