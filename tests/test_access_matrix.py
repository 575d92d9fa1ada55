"""Every URL pattern and method of the project, for anonymous and every persona, against one
declared table of exact answers.

- The table is keyed by the route pattern (`regulation/versions/<int:pk>/order.pdf`), not by
  the URL name, so two patterns sharing a view or a name are both requested; a pattern without
  a row fails `test_every_url_pattern_has_an_access_rule`.
- Each pattern declares GET and POST. An answer is a status code, or `("redirect", target)`
  with the exact target (`{next}` is the requested path, as the login page receives it; `{w.x}`
  reads the world, e.g. `/people/{w.teacher.pk}/`).
- Every request runs in a fresh world: the world is built once per test, then each request runs
  inside a savepoint that is rolled back afterwards, so no action (an approval, a deactivation,
  a cancelled request) is seen by the next request and the walk never depends on URL order.
- The walk sends no e-mail: the registration request's `send` step meets a draft request and is
  refused, and the people asked to read the regulation have no e-mail address.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.shortcuts import get_object_or_404
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve

from accounts.models import User
from accounts.permissions import MANAGERS, get_person_for_user, roles_required

PERSONAS = [
    "anonymous",
    "director",
    "admin",
    "teacher",
    "student",
    "parent",
    "outsider",
    "superuser",
    "department",
]
METHODS = ("GET", "POST")

Answer = int | tuple[str, str]

OK, FORBIDDEN, NOT_FOUND, NOT_ALLOWED, GONE = 200, 403, 404, 405, 410
# The login page, told to come back to the requested path.
LOGIN: Answer = ("redirect", "/accounts/login/?next={next}")
ADMIN_LOGIN: Answer = ("redirect", "/admin/login/?next={next}")


def to(target: str) -> Answer:
    return ("redirect", target)


# Where `/` (and the login page, for a person already signed in) sends each persona.
HOME_OF = {
    "director": to("/dashboard/"),
    "admin": to("/dashboard/"),
    "teacher": to("/teacher/"),
    "student": to("/my/"),
    "parent": to("/my/"),
    "outsider": to("/dashboard/"),
    "superuser": to("/admin/"),
    "department": to("/department/"),
}


def rule(default: Answer, **per_persona: Answer) -> dict[str, Answer]:
    unknown = set(per_persona) - set(PERSONAS)
    assert not unknown, f"not personas: {unknown}"
    return {persona: per_persona.get(persona, default) for persona in PERSONAS}


def roles(**allowed: Answer) -> dict[str, Answer]:
    """A page behind `roles_required`: anonymous to the login page, any other role 403 (the
    superuser too: they belong to no organisation), the named personas as given."""
    return rule(FORBIDDEN, anonymous=LOGIN, **allowed)


EVERYONE_405 = rule(NOT_ALLOWED)


def no_args(w) -> dict:
    return {}


@dataclass(frozen=True)
class Row:
    """One URL pattern: how to fill its arguments, and the answer to each method per persona.
    `prepare` changes the (fresh) world just before the request, inside its savepoint."""

    get: dict[str, Answer]
    post: dict[str, Answer]
    args: Callable[[object], dict] = no_args
    prepare: Callable[[object], None] | None = None

    def answers(self, method: str) -> dict[str, Answer]:
        return self.get if method == "GET" else self.post


def page(answers: dict[str, Answer], args: Callable[[object], dict] = no_args) -> Row:
    """A page that reads only: a POST gets the same answer as a GET."""
    return Row(get=answers, post=answers, args=args)


def post_only(answers: dict[str, Answer], args=no_args, prepare=None) -> Row:
    """An action behind `require_POST`: a GET is 405 for everybody, before any access check."""
    return Row(get=EVERYONE_405, post=answers, args=args, prepare=prepare)


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
REQUEST_FORM_INVALID = roles(admin=OK, outsider=NOT_FOUND)
SIGNED_IN_OK = rule(OK, anonymous=LOGIN)

TEACHER = lambda w: {"pk": w.teacher.pk}  # noqa: E731
STUDENT = lambda w: {"pk": w.student.pk}  # noqa: E731
GROUP = lambda w: {"pk": w.group.pk}  # noqa: E731
REGULATION = lambda w: {"pk": w.regulation.pk}  # noqa: E731
DRAFT = lambda w: {"pk": w.draft.pk}  # noqa: E731
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

    from onboarding.models import ConsentDetails, ConsentRecord, ConsentText

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
    # GET: the consent form; an empty POST: the form with its errors.
    "my/children/<int:pk>/consent/give/": page(roles(parent=OK), args=STUDENT),
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
    # An empty POST: the staff get the form back with its errors, nothing recorded.
    "regulation/versions/<int:pk>/confirm/": post_only(
        roles(director=OK, admin=OK, teacher=OK, outsider=NOT_FOUND), args=REGULATION
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


# The URLconf ----------------------------------------------------------------------------------


def iter_patterns(
    patterns=None, prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None, URLPattern]]:
    """(route, namespace, pattern) for every pattern of the URLconf, includes flattened."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from iter_patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), namespace, entry


def project_patterns(urlconf: str | None = None) -> list[tuple[str, URLPattern]]:
    """Every pattern except Django's admin (checked by its own test below)."""
    return [
        (route, pattern)
        for route, ns, pattern in iter_patterns(get_resolver(urlconf).url_patterns)
        if ns != "admin"
    ]


def routes_without_rules(table: dict[str, Row], urlconf: str | None = None) -> list[str]:
    return [route for route, _ in project_patterns(urlconf) if route not in table]


def views_without_access_rule(urlconf: str | None = None) -> list[str]:
    """Every view carries the mark of `public`, `login_only` or `roles_required`."""
    return [
        route
        for route, pattern in project_patterns(urlconf)
        if not hasattr(pattern.callback, "access_rule")
    ]


def url_for(route: str, kwargs: dict) -> str:
    """The path of a route pattern filled with `kwargs` (no reversing by name: two patterns
    may share one)."""
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route)


# The walk -------------------------------------------------------------------------------------


def expected_text(answer: Answer, url: str, world) -> str | int:
    if isinstance(answer, int):
        return answer
    kind, target = answer
    return f"{kind} {target.format(next=quote(url, safe='/'), w=world)}"


def actual_text(response) -> str | int:
    if response.status_code in (301, 302):
        return f"redirect {response['Location']}"
    return response.status_code


def request_in_fresh_world(world, row: Row, url: str, method: str, persona: str):
    """The answer to one request, in a savepoint rolled back afterwards: whatever the request
    (or `prepare`) changed is gone before the next one. Returns (answer, e-mails sent)."""
    mail.outbox.clear()
    cache.clear()
    with transaction.atomic():
        if row.prepare is not None:
            row.prepare(world)
        client = Client()
        if persona != "anonymous":
            client.force_login(User.objects.get(pk=getattr(world, persona).pk))
        try:
            response = client.get(url) if method == "GET" else client.post(url)
            answer = actual_text(response)
        except Exception as exc:  # a crash is a wrong answer too: report it with the others
            answer = f"exception {exc.__class__.__name__}: {exc}"
        transaction.set_rollback(True)
    sent = [message.subject for message in mail.outbox]
    return answer, sent


def walk(
    world,
    persona: str,
    table: dict[str, Row],
    urlconf: str | None = None,
    reverse_order: bool = False,
    only: Callable[[str], bool] = lambda route: True,
) -> tuple[list[str], dict[tuple[str, str], object]]:
    """Request every (pattern, method) as `persona` (the patterns `only` accepts). Returns
    the mismatches, one readable line each, and every answer received."""
    wrong: list[str] = []
    answers: dict[tuple[str, str], object] = {}
    cases = [
        (route, method)
        for route, _ in project_patterns(urlconf)
        if only(route)
        for method in METHODS
    ]
    if reverse_order:
        cases.reverse()
    for route, method in cases:
        row = table[route]
        url = url_for(route, row.args(world))
        assert resolve(url, urlconf).route == route, f"{url} does not resolve to {route}"
        expected = expected_text(row.answers(method)[persona], url, world)
        actual, sent = request_in_fresh_world(world, row, url, method, persona)
        answers[(route, method)] = actual
        if actual != expected:
            wrong.append(f"{method} {url} [{route}]: expected {expected}, got {actual}")
        if sent:
            wrong.append(f"{method} {url} [{route}]: sent e-mail {sent}")
    return wrong, answers


def build_world(personas, group, regulation, draft_version, ready_request, notice):
    """Every persona and every object a URL needs: a group, the approved regulation and a
    draft, a ready registration request, a notice, an import batch, an invitation."""
    from accounts.models import ImportBatch, Invitation

    personas.batch = ImportBatch.objects.create(
        organisation=personas.admin.organisation,
        created_by=personas.admin,
        filename="staff.csv",
        content="Ф.И.О.\nНовикова Анна Петровна\n".encode(),
    )
    personas.invitation = Invitation.objects.create(
        user=personas.teacher, expires_at=personas.teacher.date_joined
    )
    from accounts.models import InvitationMailing

    personas.mailing = InvitationMailing.objects.create(
        organisation=personas.admin.organisation, created_by=personas.admin,
        key="matrix-mailing", people_hash="matrix", base_url="http://testserver/",
    )  # fmt: skip
    personas.group = group
    personas.regulation = regulation
    personas.draft = draft_version
    personas.ready_request = ready_request
    personas.notice = notice
    from cdt_portal.models import Job

    personas.job = Job.objects.create(
        key="matrix", kind="test", title="Проверка", started_by=personas.admin,
        organisation=personas.admin.organisation,
    )  # fmt: skip
    return personas


@pytest.fixture
def world(personas, group, regulation, draft_version, ready_request, notice):
    return build_world(personas, group, regulation, draft_version, ready_request, notice)


def client_for(world, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(getattr(world, persona))
    return client


# The table covers the URLconf -----------------------------------------------------------------


def test_every_url_pattern_has_an_access_rule():
    missing = routes_without_rules(TABLE)
    assert missing == [], f"URL patterns without a row in the access table: {missing}"
    stale = set(TABLE) - {route for route, _ in project_patterns()}
    assert stale == set(), f"Rows for URL patterns that no longer exist: {stale}"


def test_every_row_answers_every_persona_and_method():
    incomplete = [
        f"{route} {method}"
        for route, row in TABLE.items()
        for method in METHODS
        if set(row.answers(method)) != set(PERSONAS)
    ]
    assert incomplete == [], f"Rows missing a persona: {incomplete}"


def test_every_project_view_declares_its_access_rule():
    undeclared = views_without_access_rule()
    assert undeclared == [], f"Views without public/login_only/roles_required: {undeclared}"


def test_patterns_sharing_a_view_or_a_name_are_each_in_the_table():
    """`regulation/order.pdf` and `regulation/versions/<pk>/order.pdf` share a view: both are
    requested, each with its own row."""
    by_view: dict[object, list[str]] = {}
    for route, pattern in project_patterns():
        by_view.setdefault(pattern.callback, []).append(route)
    shared = [routes for routes in by_view.values() if len(routes) > 1]
    assert ["regulation/order.pdf", "regulation/versions/<int:pk>/order.pdf"] in shared
    assert all(route in TABLE for routes in shared for route in routes)


# The matrix -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_url_and_method_answers_each_persona_as_declared(world, persona):
    wrong, _ = walk(world, persona, TABLE)
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)
    assert mail.outbox == []


def test_the_walk_does_not_depend_on_url_order(world):
    """Every request meets the same world: walking the URLs backwards gives the same answers
    (the administrator acts the most, so the check is made for them)."""
    _, forwards = walk(world, "admin", TABLE)
    _, backwards = walk(world, "admin", TABLE, reverse_order=True)
    differ = {case: (forwards[case], backwards[case]) for case in forwards}
    differ = {case: pair for case, pair in differ.items() if pair[0] != pair[1]}
    assert differ == {}


def test_the_send_step_meets_a_draft_request_and_sends_nothing(world):
    from onboarding.models import RegistrationRequest, RequestStatus

    row = TABLE["onboarding/request/send/"]
    answer, sent = request_in_fresh_world(world, row, "/onboarding/request/send/", "POST", "admin")
    assert answer == "redirect /onboarding/request/"
    assert sent == []
    # The savepoint undid the preparation: the ready request is there for the next request.
    assert RegistrationRequest.objects.get(pk=world.ready_request.pk).status == RequestStatus.READY


# Django's admin: the platform superuser's alone -----------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_pages_are_the_superusers_alone(world, persona):
    client = client_for(world, persona)
    urls = ["/admin/"] + [
        f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for model in admin.site._registry
    ]
    wrong = []
    for url in urls:
        expected = OK if persona == "superuser" else ADMIN_LOGIN
        response = client.get(url)
        if actual_text(response) != expected_text(expected, url, world):
            wrong.append(
                f"GET {url}: expected {expected_text(expected, url, world)}, "
                f"got {actual_text(response)}"
            )
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)


# Kept checks ----------------------------------------------------------------------------------


def test_home_sends_each_role_to_its_own_page(world):
    for persona, (_, target) in HOME_OF.items():
        response = client_for(world, persona).get("/")
        assert (response.status_code, response["Location"]) == (302, target), persona


def test_other_organisation_objects_are_404_whatever_the_id(world, outsider):
    """Neither existing nor missing ids tell the outsider anything: both are 404."""
    client = client_for(world, "outsider")
    missing_pk = 10**9
    for url in [
        f"/people/{world.director.pk}/",
        f"/people/{world.student.pk}/",
        f"/people/{missing_pk}/",
        f"/groups/{world.group.pk}/",
        f"/groups/{missing_pk}/",
        f"/regulation/versions/{world.regulation.pk}/",
        f"/regulation/versions/{missing_pk}/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.get(f"/people/{outsider.pk}/").status_code == 200


def test_lists_never_show_another_organisations_people(world):
    text = client_for(world, "outsider").get("/people/").content.decode()
    assert world.outsider.last_name in text
    for person in (world.director, world.teacher, world.student, world.parent):
        assert person.last_name not in text


def test_a_teacher_sees_only_groups_they_teach(world, organisation):
    from tests.factories import StudyGroupFactory

    other_group = StudyGroupFactory(organisation=organisation, name="Чужой кружок")
    client = client_for(world, "teacher")
    assert client.get(f"/groups/{other_group.pk}/").status_code == 404
    home = client.get("/teacher/").content.decode()
    assert world.group.name in home
    assert other_group.name not in home


# Self-tests: the guard fails where it must ----------------------------------------------------

THROWAWAY_URLCONF = "tests._throwaway_urls"


@roles_required(MANAGERS)
def unscoped_person(request, pk):
    """Forgets the organisation: any person of any organisation by id."""
    get_object_or_404(User, pk=pk)
    return _ok()


@roles_required(MANAGERS)
def scoped_person(request, pk):
    get_person_for_user(request, pk)
    return _ok()


def no_rule(request):
    return _ok()


def _ok():
    from django.http import HttpResponse

    return HttpResponse("ok")


@pytest.fixture
def throwaway_urlconf():
    """The project's URLconf plus three throwaway views, installed as ROOT_URLCONF."""
    module = types.ModuleType(THROWAWAY_URLCONF)
    module.urlpatterns = [
        *get_resolver().url_patterns,
        path("throwaway/no-rule/", no_rule),
        path("throwaway/<int:pk>/unscoped/", unscoped_person),
        path("throwaway/<int:pk>/scoped/", scoped_person),
    ]
    sys.modules[THROWAWAY_URLCONF] = module
    with override_settings(ROOT_URLCONF=THROWAWAY_URLCONF):
        yield THROWAWAY_URLCONF
    del sys.modules[THROWAWAY_URLCONF]


def test_the_matrix_catches_a_new_view_without_a_rule(throwaway_urlconf):
    assert routes_without_rules(TABLE) == [
        "throwaway/no-rule/",
        "throwaway/<int:pk>/unscoped/",
        "throwaway/<int:pk>/scoped/",
    ]
    assert views_without_access_rule() == ["throwaway/no-rule/"]


def test_the_matrix_catches_a_view_that_forgets_the_organisation(world, throwaway_urlconf):
    """Both throwaway views are declared like `people/<pk>/` (the outsider gets 404); the
    walk reports the unscoped one, and only it, for the outsider."""
    person_row = TABLE["people/<int:pk>/"]
    table = {
        **TABLE,
        "throwaway/no-rule/": page(rule(OK)),
        "throwaway/<int:pk>/unscoped/": person_row,
        "throwaway/<int:pk>/scoped/": person_row,
    }
    wrong, _ = walk(world, "outsider", table, only=lambda route: route.startswith("throwaway/"))
    assert wrong == [
        f"GET /throwaway/{world.teacher.pk}/unscoped/ [throwaway/<int:pk>/unscoped/]: "
        "expected 404, got 200",
        f"POST /throwaway/{world.teacher.pk}/unscoped/ [throwaway/<int:pk>/unscoped/]: "
        "expected 404, got 200",
    ]
