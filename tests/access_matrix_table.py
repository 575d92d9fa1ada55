"""The access table of tests/test_access_matrix.py: for every URL pattern of the project, by
its route, the answer to GET and to POST for anonymous and every persona, with how to fill the
pattern's arguments and what to prepare in the world first (the vocabulary of the rows:
tests/access_matrix_support.py)."""

from __future__ import annotations

from tests.access_matrix_support import (
    BAD_REQUEST,
    EVERYONE_405,
    FORBIDDEN,
    GONE,
    HOME_OF,
    LOGIN,
    NOT_ALLOWED,
    NOT_FOUND,
    OK,
    Row,
    page,
    post_only,
    roles,
    rule,
    to,
)


def draft_request_instead(w) -> None:
    """The ready request is cancelled and a new one started (a draft), so `send` is refused
    and no registration e-mail leaves, whoever asks."""
    from onboarding.services import request_cancel, request_start

    request_cancel(request=w.ready_request, actor=w.admin, reason="Начнём заново")
    request_start(organisation=w.admin.organisation, actor=w.admin)


MANAGERS_OWN = roles(director=OK, admin=OK, outsider=OK)
# Pages about the organisation's current regulation: the outsider's organisation has none.
MANAGERS_CURRENT = roles(director=OK, admin=OK, outsider=NOT_FOUND)
ADMINS_OWN = roles(admin=OK, outsider=OK)
ADMINS_OBJECT = roles(admin=OK, outsider=NOT_FOUND)
REQUEST_PAGE = to("/onboarding/request/")
# Request URLs carry no id: they always mean the person's own organisation's current request,
# and the outsider's organisation has none (404).
REQUEST_ACTION_REFUSED = roles(admin=REQUEST_PAGE, outsider=NOT_FOUND)
# An empty POST of a request form: the request page again with the form's errors, a 400.
REQUEST_FORM_INVALID = roles(admin=400, outsider=NOT_FOUND)
SIGNED_IN_OK = rule(OK, anonymous=LOGIN)

TEACHER = lambda w: {"pk": w.teacher.pk}  # noqa: E731
STUDENT = lambda w: {"pk": w.student.pk}  # noqa: E731
GROUP = lambda w: {"pk": w.group.pk}  # noqa: E731
REGULATION = lambda w: {"pk": w.regulation.pk}  # noqa: E731
DRAFT = lambda w: {"pk": w.draft.pk}  # noqa: E731
SFERUM = lambda w: {"code": "sferum"}  # noqa: E731
MAILING = lambda w: {"pk": w.mailing.pk}  # noqa: E731

AMENDMENTS_PAGE = to("/onboarding/amendments/")
AMENDMENT_ACT_PK = 987654
AMENDMENT_ACT = lambda w: {"pk": AMENDMENT_ACT_PK}  # noqa: E731


def an_act_to_amend(w) -> None:
    """A local act of the admin's organisation on the §5.1 checklist, with a known id."""
    from onboarding.models import AmendmentItem

    AmendmentItem.objects.create(
        pk=AMENDMENT_ACT_PK, organisation=w.admin.organisation, title="Положение об ЭО и ДОТ"
    )


CONSENT_RECORD_PK = 424242


def a_filled_consent(w) -> None:
    """A consent given on paper for the world's student, with its details, at a known id."""
    import datetime as dt

    from families.models import ConsentDetails, ConsentRecord, ConsentText

    text = ConsentText.objects.create(
        organisation=w.student.organisation, text="Условия", text_sha256="0" * 64
    )
    record = ConsentRecord.objects.create(
        pk=CONSENT_RECORD_PK, parent=w.parent, student=w.student, action="given",
        consent_text=text,
    )  # fmt: skip
    ConsentDetails.objects.create(
        record=record, method="paper", signed_on=dt.date(2026, 9, 1),
        parent_full_name=w.parent.full_name, child_full_name=w.student.full_name,
    )  # fmt: skip


DEPARTMENT_MESSAGE_PK = 313131


def a_department_message(w) -> None:
    """A message of the world's department to its institution, at a known id."""
    from departments.models import DepartmentMessage

    message = DepartmentMessage.objects.create(
        pk=DEPARTMENT_MESSAGE_PK, department=w.department.department, author=w.department,
        author_name=w.department.full_name, subject="До 15.12", text="Завершите ознакомление.",
    )  # fmt: skip
    message.institutions.set([w.admin.organisation])


SLIPS_JOB_PK = 616161


def a_print_of_slips(w) -> None:
    """The admin's print of invitation slips, still queued, at a known id."""
    from cdt_portal.models import Job

    Job.objects.create(
        pk=SLIPS_JOB_PK, key="matrix-slips", kind="invitation_slips", title="Приглашения",
        started_by=w.admin, organisation=w.admin.organisation, total=1,
    )  # fmt: skip


DEPARTMENT_ONLY = rule(FORBIDDEN, anonymous=LOGIN, department=OK)
SECOND_FACTOR_TO_SETUP = roles(
    **dict.fromkeys(
        ("director", "admin", "outsider", "superuser", "department"),
        to("/accounts/two-factor/setup/"),
    )
)
DEPARTMENT_MESSAGE = lambda w: {"pk": DEPARTMENT_MESSAGE_PK}  # noqa: E731

TABLE: dict[str, Row] = {
    # cdt_portal
    "healthz": page(rule(OK)),
    "favicon.ico": page(rule(to("/static/img/favicon.svg"))),
    # The Django admin signs in through the portal's own form (and second factor).
    "admin/login/": page(rule(to("/accounts/login/?next=%2Fadmin%2F"))),
    # departments: a department's specialist only; an empty message form comes back (400).
    "department/": page(DEPARTMENT_ONLY),
    "department/institutions.xlsx": page(DEPARTMENT_ONLY),
    "department/messages/": Row(
        get=DEPARTMENT_ONLY, post=rule(FORBIDDEN, anonymous=LOGIN, department=400)
    ),
    "department/messages/<int:pk>/": Row(
        get=DEPARTMENT_ONLY,
        post=DEPARTMENT_ONLY,
        args=DEPARTMENT_MESSAGE,
        prepare=a_department_message,
    ),
    # The world's message has no failed job to go on with: the specialist's press is refused.
    "department/messages/<int:pk>/go-on/": post_only(
        roles(department=BAD_REQUEST), args=DEPARTMENT_MESSAGE, prepare=a_department_message
    ),
    "department/institutions/<slug:slug>/": page(
        DEPARTMENT_ONLY, args=lambda w: {"slug": w.admin.organisation.slug}
    ),
    # The message went to the admin's institution; the outsider's is not among them (404).
    "department-messages/<int:pk>/read/": post_only(
        roles(admin=to("/dashboard/"), outsider=NOT_FOUND),
        args=DEPARTMENT_MESSAGE,
        prepare=a_department_message,
    ),
    # A job's progress: for the person who started it (the admin) and the managers of its
    # organisation (the director), 404 for anyone else.
    "jobs/<int:pk>/": page(
        rule(NOT_FOUND, anonymous=LOGIN, admin=OK, director=OK), args=lambda w: {"pk": w.job.pk}
    ),
    # accounts: «Фоновые работы» for the managers; «Повторить» is refused (the job is queued,
    # not failed) and comes back to the list; another organisation's job is 404.
    "jobs/": page(MANAGERS_OWN),
    "jobs/<int:pk>/retry/": post_only(
        roles(admin=to("/jobs/"), director=to("/jobs/"), outsider=NOT_FOUND),
        args=lambda w: {"pk": w.job.pk},
    ),
    # portal: the role's home pages and the audit log
    "": page(rule(OK, **HOME_OF)),
    "teacher/": page(roles(admin=OK, teacher=OK, outsider=OK)),
    "my/": page(roles(student=OK, parent=OK)),
    "audit/": page(MANAGERS_OWN),
    "audit.csv": page(MANAGERS_OWN),
    # accounts
    "join/<slug:slug>/": page(rule(OK), args=lambda w: {"slug": w.admin.organisation.slug}),
    "people/": page(MANAGERS_OWN),
    "people/<int:pk>/": page(roles(director=OK, admin=OK, outsider=NOT_FOUND), args=TEACHER),
    # An empty form comes back with its errors.
    "people/new/": page(ADMINS_OWN),
    # The director opens it too: she appoints and removes administrators there.
    "people/<int:pk>/edit/": page(roles(director=OK, admin=OK, outsider=NOT_FOUND), args=TEACHER),
    # The director may switch administrators off (the teacher, she may too: her reach covers
    # every role but her own); the service refuses what the actor may not manage.
    "people/<int:pk>/active/": Row(
        get=roles(director=OK, admin=OK, outsider=NOT_FOUND),
        post=roles(
            director=to("/people/{w.teacher.pk}/"),
            admin=to("/people/{w.teacher.pk}/"),
            outsider=NOT_FOUND,
        ),
        args=TEACHER,
    ),
    # Inviting is the managers' (each only those they stand above: tests/trust/).
    "people/<int:pk>/invite/": post_only(
        roles(
            director=to("/people/{w.teacher.pk}/"),
            admin=to("/people/{w.teacher.pk}/"),
            outsider=NOT_FOUND,
        ),
        args=TEACHER,
    ),
    # An empty POST: the link form comes back with its errors.
    "people/<int:pk>/parents/": page(ADMINS_OBJECT, args=STUDENT),
    "people/invitations/": Row(
        get=MANAGERS_OWN,
        post=roles(
            director=to("/people/invitations/"),
            admin=to("/people/invitations/"),
            outsider=to("/people/invitations/"),
        ),
    ),
    # A print of slips: its page, then its sheet, for whoever pressed «Напечатать» alone.
    "people/invitations/slips/<int:pk>.pdf": Row(
        get=roles(admin=OK, director=NOT_FOUND, outsider=NOT_FOUND),
        post=roles(admin=OK, director=NOT_FOUND, outsider=NOT_FOUND),
        args=lambda w: {"pk": SLIPS_JOB_PK},
        prepare=a_print_of_slips,
    ),
    # A mailing of invitations by e-mail: its page, and sending again to those it failed
    # (none here, so the refusal comes back to the mailing's page).
    "people/invitations/mailings/<int:pk>/": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=MAILING
    ),
    "people/invitations/mailings/<int:pk>/retry/": post_only(
        roles(
            director=to("/people/invitations/mailings/{w.mailing.pk}/"),
            admin=to("/people/invitations/mailings/{w.mailing.pk}/"),
            outsider=NOT_FOUND,
        ),
        args=MAILING,
    ),
    "people/import/": page(ADMINS_OWN),
    "people/import/<int:pk>/": Row(
        get=ADMINS_OBJECT,
        post=roles(admin=to("/people/import/{w.batch.pk}/"), outsider=NOT_FOUND),
        args=lambda w: {"pk": w.batch.pk},
    ),
    # A forged token is refused the same way for everybody: «the link does not work».
    "invite/<int:pk>/<str:token>/": page(
        rule(GONE), args=lambda w: {"pk": w.invitation.pk, "token": "forged"}
    ),
    # The code's progress, read by the invitation's page: nothing without a working link.
    "invite/<int:pk>/<str:token>/code/": Row(
        get=rule(NOT_FOUND),
        post=EVERYONE_405,
        args=lambda w: {"pk": w.invitation.pk, "token": "forged"},
    ),
    "groups/": page(roles(director=OK, admin=OK, teacher=OK, outsider=OK)),
    "groups/new/": page(ADMINS_OWN),
    "groups/<int:pk>/": page(
        roles(director=OK, admin=OK, teacher=OK, outsider=NOT_FOUND), args=GROUP
    ),
    "groups/<int:pk>/edit/": page(roles(admin=OK, teacher=OK, outsider=NOT_FOUND), args=GROUP),
    "organisation/": page(MANAGERS_OWN),
    # A person already signed in goes to `/`, which sends them on to their home.
    "accounts/login/": page(rule(to("/"), anonymous=OK)),
    "accounts/logout/": Row(get=EVERYONE_405, post=rule(to("/"))),
    "accounts/profile/": page(SIGNED_IN_OK),
    # The regulation page's keep-alive ping: "No Content" for anyone signed in; GET only.
    "accounts/keepalive/": Row(get=rule(204, anonymous=LOGIN), post=EVERYONE_405),
    "accounts/password/change/": page(SIGNED_IN_OK),
    "accounts/password/change/done/": Row(
        get=SIGNED_IN_OK, post=rule(NOT_ALLOWED, anonymous=LOGIN)
    ),
    "accounts/password/reset/": page(rule(OK)),
    "accounts/password/reset/done/": Row(get=rule(OK), post=EVERYONE_405),
    "accounts/reset/<uidb64>/<token>/": page(
        rule(OK), args=lambda w: {"uidb64": "MQ", "token": "bad-token"}
    ),
    "accounts/reset/done/": Row(get=rule(OK), post=EVERYONE_405),
    # signin: the second factor. Nobody in the walk has an authenticator app: the code page
    # sends them on; managers get the enrolment page (an empty code: the form again).
    "accounts/two-factor/": page(rule(to("/"), anonymous=LOGIN)),
    # Whoever signs in with a second factor: the managers, the superuser, the department.
    "accounts/two-factor/setup/": page(
        roles(director=OK, admin=OK, outsider=OK, superuser=OK, department=OK)
    ),
    # No codes were just made (GET) and no app to renew them for (POST): back to the setup.
    "accounts/two-factor/codes/": page(SECOND_FACTOR_TO_SETUP),
    # An empty password: refused with a message on the setup page.
    "accounts/two-factor/remove/": post_only(SECOND_FACTOR_TO_SETUP),
    # The teacher has no failed attempts: «nothing to unlock», back on their page.
    "people/<int:pk>/unlock/": post_only(
        roles(
            director=to("/people/{w.teacher.pk}/"),
            admin=to("/people/{w.teacher.pk}/"),
            outsider=NOT_FOUND,
        ),
        args=TEACHER,
    ),
    # onboarding
    "dashboard/": page(MANAGERS_OWN),
    # The world's organisations use VK Мессенджер: no draft is made, back to the dashboard.
    "dashboard/messenger-draft/": post_only(
        roles(director=to("/dashboard/"), admin=to("/dashboard/"), outsider=to("/dashboard/"))
    ),
    "onboarding/request/": page(MANAGERS_OWN),
    # The admin's organisation has a ready request: starting another one is refused; the
    # outsider's has none: theirs starts.
    "onboarding/request/start/": post_only(roles(admin=REQUEST_PAGE, outsider=REQUEST_PAGE)),
    "onboarding/request/details/": post_only(REQUEST_FORM_INVALID),
    "onboarding/request/letter/": post_only(REQUEST_ACTION_REFUSED),
    "onboarding/request/letter.pdf": page(MANAGERS_CURRENT),
    "onboarding/request/scan/": post_only(REQUEST_FORM_INVALID),
    "onboarding/request/scan/file": page(MANAGERS_CURRENT),
    "onboarding/request/send/": post_only(REQUEST_ACTION_REFUSED, prepare=draft_request_instead),
    "onboarding/request/message.eml": page(roles(admin=OK, outsider=NOT_FOUND)),
    "onboarding/request/sent/": post_only(REQUEST_FORM_INVALID),
    "onboarding/request/return/": post_only(REQUEST_FORM_INVALID),
    "onboarding/request/register/": post_only(REQUEST_FORM_INVALID),
    # GET: the confirmation page; an empty POST: the same page with the reason missing.
    "onboarding/request/cancel/": page(roles(admin=OK, outsider=NOT_FOUND)),
    # §4.7: the director keeps her own Sferum status too.
    "onboarding/my-status/": Row(
        get=roles(director=OK, admin=OK, teacher=OK, outsider=OK),
        post=roles(
            director=to("/onboarding/my-status/"),
            admin=to("/onboarding/my-status/"),
            teacher=to("/onboarding/my-status/"),
            outsider=to("/onboarding/my-status/"),
        ),
    ),
    "onboarding/teachers/": page(MANAGERS_OWN),
    "onboarding/teachers/<int:pk>/verify/": post_only(
        roles(admin=to("/onboarding/teachers/"), outsider=NOT_FOUND), args=TEACHER
    ),
    # §5.1: the checklist of local acts and programmes; an empty POST is refused with a
    # message on the checklist page.
    "onboarding/amendments/": page(MANAGERS_OWN),
    "onboarding/amendments/groups/<int:pk>/": post_only(
        roles(admin=AMENDMENTS_PAGE, outsider=NOT_FOUND), args=GROUP
    ),
    "onboarding/amendments/acts/new/": post_only(
        roles(admin=AMENDMENTS_PAGE, outsider=AMENDMENTS_PAGE)
    ),
    "onboarding/amendments/acts/<int:pk>/": post_only(
        roles(admin=AMENDMENTS_PAGE, outsider=NOT_FOUND),
        args=AMENDMENT_ACT,
        prepare=an_act_to_amend,
    ),
    "onboarding/amendments/acts/<int:pk>/remove/": post_only(
        roles(admin=AMENDMENTS_PAGE, outsider=NOT_FOUND),
        args=AMENDMENT_ACT,
        prepare=an_act_to_amend,
    ),
    "my/notice/confirm/": post_only(roles(parent=to("/my/"))),
    "my/children/<int:pk>/consent/": post_only(roles(parent=to("/my/")), args=STUDENT),
    "consent/": page(roles(director=OK, admin=OK, parent=OK, outsider=OK)),
    "notices/": Row(get=MANAGERS_OWN, post=EVERYONE_405),
    # An empty text is refused with a message on the notices page.
    "notices/publish/": post_only(roles(admin=to("/notices/"), outsider=to("/notices/"))),
    "consents/": page(MANAGERS_OWN),
    # Issue 12, deadlines for parents: an empty date clears the (absent) deadline.
    "notices/deadline/": post_only(roles(admin=to("/notices/"), outsider=to("/notices/"))),
    "consents/deadline/": post_only(roles(admin=to("/consents/"), outsider=to("/consents/"))),
    # Issue 12, the family side. No students' notice in the world: confirming it is 404.
    "my/student-notice/confirm/": post_only(roles(student=NOT_FOUND)),
    # An empty text is refused with a message on the notices page.
    "notices/students/publish/": post_only(roles(admin=to("/notices/"), outsider=to("/notices/"))),
    # GET: the form; an empty POST: the form again with «выберите способ связи».
    "my/children/<int:pk>/channel/": page(roles(parent=OK), args=STUDENT),
    # GET: the consent form; an empty POST: the form again, unfilled (filled wrongly: a 400,
    # tests/families/test_consent_complete.py).
    "my/children/<int:pk>/consent/give/": page(roles(parent=OK), args=STUDENT),
    # A student's own consent (from 14): the same
    # (tests/families/test_student_consent_and_retention.py).
    "my/consent/": page(roles(student=OK)),
    # GET: the confirmation page; a POST without consent in force is refused on the form page.
    "my/consent/withdraw/": Row(get=roles(student=OK), post=roles(student=to("/my/consent/"))),
    # GET: the confirmation page; a POST without consent in force is refused on the home page.
    "my/children/<int:pk>/consent/withdraw/": Row(
        get=roles(parent=OK), post=roles(parent=to("/my/")), args=STUDENT
    ),
    "my/children/<int:pk>/consent.pdf": Row(get=roles(parent=OK), post=EVERYONE_405, args=STUDENT),
    # An empty POST: the paper form again with its errors.
    "consents/<int:pk>/paper/": page(roles(admin=OK, outsider=NOT_FOUND), args=STUDENT),
    "consents/records/<int:pk>.pdf": Row(
        get=roles(director=OK, admin=OK, outsider=NOT_FOUND),
        post=EVERYONE_405,
        args=lambda w: {"pk": CONSENT_RECORD_PK},
        prepare=lambda w: a_filled_consent(w),
    ),
    "onboarding/groups/<int:pk>/families/": Row(
        get=roles(director=OK, admin=OK, teacher=OK, outsider=NOT_FOUND),
        post=EVERYONE_405,
        args=GROUP,
    ),
    "privacy/": Row(
        get=roles(director=OK, admin=OK, teacher=OK, student=OK, parent=OK, outsider=OK),
        post=EVERYONE_405,
    ),
    "privacy/<slug:slug>/": Row(
        get=rule(OK), post=EVERYONE_405, args=lambda w: {"slug": w.admin.organisation.slug}
    ),
    # acknowledgements
    # The outsider's organisation has no approved regulation yet: the page says so.
    "regulation/": page(roles(director=OK, admin=OK, teacher=OK, outsider=OK)),
    "regulation/order.pdf": page(MANAGERS_CURRENT),
    # GET: the stored sheet, or the page that starts its job; POST: starts the job (jobs run
    # at once here) and comes back to the same address.
    "regulation/sheet.pdf": Row(
        get=MANAGERS_CURRENT,
        post=roles(
            director=to("/regulation/sheet.pdf"),
            admin=to("/regulation/sheet.pdf"),
            outsider=NOT_FOUND,
        ),
    ),
    "regulation/acknowledgements/": page(MANAGERS_CURRENT),
    "regulation/acknowledgements.csv": page(MANAGERS_CURRENT),
    # POST: a reminder run starts as a job; its page shows the progress, then each result.
    "regulation/remind/": Row(
        get=MANAGERS_CURRENT,
        post=roles(
            director=to("/regulation/remind/"),
            admin=to("/regulation/remind/"),
            outsider=NOT_FOUND,
        ),
    ),
    "regulation/paper/": page(MANAGERS_CURRENT),
    "regulation/versions/": page(MANAGERS_OWN),
    "regulation/versions/new/": page(MANAGERS_OWN),
    # Documents, plural: the list and a new act for managers, «Мои документы» for staff.
    "documents/": page(MANAGERS_OWN),
    # An empty POST: the form again, unfilled.
    "documents/new/": page(MANAGERS_OWN),
    "my/documents/": page(roles(director=OK, admin=OK, teacher=OK, outsider=OK)),
    # No agreement in the world: the refusal is refused with a message on «Мои документы».
    "my/documents/paper-only/": post_only(
        roles(
            director=to("/my/documents/"),
            admin=to("/my/documents/"),
            teacher=to("/my/documents/"),
            outsider=to("/my/documents/"),
        )
    ),
    # The verification page the QR codes lead to; an empty POST: the page again, nothing sent
    # (a bad file: a 400, tests/acknowledgements/test_verification.py).
    "documents/verify/<int:pk>/": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=REGULATION
    ),
    # A document's pages by its code, walked with the regulation's: the same answers as its
    # own addresses above (an outsider's organisation has no approved regulation).
    "documents/<slug:code>/": page(
        roles(director=OK, admin=OK, teacher=OK, outsider=OK), args=SFERUM
    ),
    "documents/<slug:code>/order.pdf": page(MANAGERS_CURRENT, args=SFERUM),
    "documents/<slug:code>/sheet.pdf": Row(
        get=MANAGERS_CURRENT,
        post=roles(
            director=to("/documents/sferum/sheet.pdf"),
            admin=to("/documents/sferum/sheet.pdf"),
            outsider=NOT_FOUND,
        ),
        args=SFERUM,
    ),
    "documents/<slug:code>/acknowledgements/": page(MANAGERS_CURRENT, args=SFERUM),
    "documents/<slug:code>/acknowledgements.csv": page(MANAGERS_CURRENT, args=SFERUM),
    "documents/<slug:code>/remind/": Row(
        get=MANAGERS_CURRENT,
        post=roles(
            director=to("/regulation/remind/"),
            admin=to("/regulation/remind/"),
            outsider=NOT_FOUND,
        ),
        args=SFERUM,
    ),
    "documents/<slug:code>/paper/": page(MANAGERS_CURRENT, args=SFERUM),
    "documents/<slug:code>/versions/": page(MANAGERS_OWN, args=SFERUM),
    "documents/<slug:code>/versions/new/": page(MANAGERS_OWN, args=SFERUM),
    "regulation/versions/<int:pk>/": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=REGULATION
    ),
    "regulation/versions/<int:pk>/edit/": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=DRAFT
    ),
    # GET: the confirmation page; POST: the draft is approved.
    "regulation/versions/<int:pk>/approve/": Row(
        get=roles(director=OK, outsider=NOT_FOUND),
        post=roles(director=to("/regulation/versions/{w.draft.pk}/"), outsider=NOT_FOUND),
        args=DRAFT,
    ),
    # What changed since the previous version (the regulation is the first: nothing to compare).
    "regulation/versions/<int:pk>/changes/": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=REGULATION
    ),
    # The administrator sets the due date; an empty POST clears it (none set: nothing changes).
    "regulation/versions/<int:pk>/deadline/": post_only(
        roles(admin=to("/regulation/versions/{w.regulation.pk}/"), outsider=NOT_FOUND),
        args=REGULATION,
    ),
    # An empty POST: the staff get the form back with its errors and a 400, nothing recorded.
    "regulation/versions/<int:pk>/confirm/": post_only(
        roles(director=BAD_REQUEST, admin=BAD_REQUEST, teacher=BAD_REQUEST, outsider=NOT_FOUND),
        args=REGULATION,
    ),
    # An act given as its own PDF; the world's regulation is text, so there is no file (an act
    # with one: tests/acknowledgements/test_act_as_pdf.py).
    "regulation/versions/<int:pk>/act.pdf": page(
        roles(director=NOT_FOUND, admin=NOT_FOUND, teacher=NOT_FOUND, outsider=NOT_FOUND),
        args=REGULATION,
    ),
    "regulation/versions/<int:pk>/order.pdf": page(
        roles(director=OK, admin=OK, outsider=NOT_FOUND), args=REGULATION
    ),
    "regulation/versions/<int:pk>/sheet.pdf": Row(
        get=roles(director=OK, admin=OK, outsider=NOT_FOUND),
        post=roles(
            director=to("/regulation/versions/{w.regulation.pk}/sheet.pdf"),
            admin=to("/regulation/versions/{w.regulation.pk}/sheet.pdf"),
            outsider=NOT_FOUND,
        ),
        args=REGULATION,
    ),
}
