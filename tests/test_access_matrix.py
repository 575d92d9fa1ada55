"""Every URL of the project, for anonymous and every persona, against one declared table.

The URL patterns are discovered from the URLconf: a new URL without a row here fails
`test_every_url_pattern_has_an_access_rule`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PERSONAS = [
    "anonymous",
    "director",
    "admin",
    "teacher",
    "student",
    "parent",
    "outsider",
    "superuser",
]

LOGIN = "login"  # redirect to the login page
ALLOWED = "allowed"  # let through: the page (200) or the action done or refused by its rules (302)
HOME = "home"  # redirect to the person's own home
OK, FORBIDDEN, NOT_FOUND = 200, 403, 404


def rule(default, **per_persona) -> dict[str, object]:
    return {persona: per_persona.get(persona, default) for persona in PERSONAS}


def no_args(p) -> dict:
    return {}


MANAGE_OWN = rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=OK)
MANAGE_CURRENT = rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=NOT_FOUND)
MANAGE_OBJECT = MANAGE_CURRENT
ADMIN_OWN = rule(FORBIDDEN, anonymous=LOGIN, admin=OK, outsider=OK)
ADMIN_OBJECT = rule(FORBIDDEN, anonymous=LOGIN, admin=OK, outsider=NOT_FOUND)
ACTIONS = rule(FORBIDDEN, anonymous=LOGIN, admin=ALLOWED, outsider=ALLOWED)

# name -> (method, kwargs from personas, expected answer per persona)
TABLE: dict[str, tuple[str, Callable, dict[str, object]]] = {
    "healthz": ("GET", no_args, rule(OK)),
    "home": ("GET", no_args, rule(HOME, anonymous=OK)),
    "join": ("GET", lambda p: {"slug": p.admin.organisation.slug}, rule(OK)),
    "dashboard": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=OK),
    ),
    "people": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=OK),
    ),
    "person_detail": (
        "GET",
        lambda p: {"pk": p.teacher.pk},
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=NOT_FOUND),
    ),
    "group_detail": (
        "GET",
        lambda p: {"pk": p.group.pk},
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, teacher=OK, outsider=NOT_FOUND),
    ),
    "organisation_settings": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, outsider=OK),
    ),
    # The administrator also teaches; the outsider holds every staff role in their organisation.
    "teacher_home": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, admin=OK, teacher=OK, outsider=OK),
    ),
    "regulation": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, teacher=OK, outsider=OK),
    ),
    # The outsider's own organisation has no approved regulation: 404 there.
    **{
        name: ("GET", no_args, MANAGE_CURRENT)
        for name in [
            "regulation_order_pdf",
            "regulation_sheet_pdf",
            "acknowledgement_list",
            "acknowledgement_csv",
            "acknowledgement_remind",
            "acknowledgement_paper",
        ]
    },
    "version_list": ("GET", no_args, MANAGE_OWN),
    "version_new": ("GET", no_args, MANAGE_OWN),
    **{
        name: ("GET", lambda p: {"pk": p.regulation.pk}, MANAGE_OBJECT)
        for name in ["version_detail", "version_order_pdf", "version_sheet_pdf"]
    },
    "version_edit": ("GET", lambda p: {"pk": p.draft.pk}, MANAGE_OBJECT),
    "version_approve": (
        "GET",
        lambda p: {"pk": p.draft.pk},
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, outsider=NOT_FOUND),
    ),
    # An empty POST: the staff get the form back with its errors, nothing recorded.
    "version_confirm": (
        "POST",
        lambda p: {"pk": p.regulation.pk},
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, teacher=OK, outsider=NOT_FOUND),
    ),
    "registration_request": ("GET", no_args, MANAGE_OWN),
    # Request URLs carry no id: they always mean the person's own organisation's request.
    **{
        name: ("POST", no_args, ACTIONS)
        for name in [
            "request_start",
            "request_details",
            "request_letter",
            "request_scan",
            "request_send",
            "request_sent",
            "request_return",
            "request_register",
        ]
    },
    "request_cancel": ("GET", no_args, ACTIONS),
    "request_eml": ("GET", no_args, ACTIONS),
    "request_letter_pdf": ("GET", no_args, MANAGE_CURRENT),
    "request_scan_file": ("GET", no_args, MANAGE_CURRENT),
    "my_sferum_status": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, admin=OK, teacher=OK, outsider=OK),
    ),
    "teacher_statuses": ("GET", no_args, MANAGE_OWN),
    "teacher_verify": (
        "POST",
        lambda p: {"pk": p.teacher.pk},
        rule(FORBIDDEN, anonymous=LOGIN, admin=302, outsider=NOT_FOUND),
    ),
    "person_new": ("GET", no_args, ADMIN_OWN),
    "invitations_print": ("GET", no_args, ADMIN_OWN),
    "staff_import": ("GET", no_args, ADMIN_OWN),
    "group_new": ("GET", no_args, ADMIN_OWN),
    **{
        name: ("GET", lambda p: {"pk": p.teacher.pk}, ADMIN_OBJECT)
        for name in ["person_edit", "person_active"]
    },
    "person_parents": ("GET", lambda p: {"pk": p.student.pk}, ADMIN_OBJECT),
    "person_invite": (
        "POST",
        lambda p: {"pk": p.teacher.pk},
        rule(FORBIDDEN, anonymous=LOGIN, admin=302, outsider=NOT_FOUND),
    ),
    "staff_import_preview": ("GET", lambda p: {"pk": p.batch.pk}, ADMIN_OBJECT),
    # A bad token is refused the same way for everybody: «the link does not work» (410).
    "invitation_accept": ("GET", lambda p: {"pk": p.invitation.pk, "token": "forged"}, rule(410)),
    "group_list": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, teacher=OK, outsider=OK),
    ),
    "group_edit": (
        "GET",
        lambda p: {"pk": p.group.pk},
        rule(FORBIDDEN, anonymous=LOGIN, admin=OK, teacher=OK, outsider=NOT_FOUND),
    ),
    "notice_confirm": ("POST", no_args, rule(FORBIDDEN, anonymous=LOGIN, parent=302)),
    "consent": (
        "POST",
        lambda p: {"pk": p.student.pk},
        rule(FORBIDDEN, anonymous=LOGIN, parent=302),
    ),
    "consent_text": (
        "GET",
        no_args,
        rule(FORBIDDEN, anonymous=LOGIN, director=OK, admin=OK, parent=OK, outsider=OK),
    ),
    "notices": ("GET", no_args, MANAGE_OWN),
    "consents": ("GET", no_args, MANAGE_OWN),
    "family_home": ("GET", no_args, rule(FORBIDDEN, anonymous=LOGIN, student=OK, parent=OK)),
    "login": ("GET", no_args, rule(HOME, anonymous=OK)),
    "logout": ("POST", no_args, rule(302)),
    "profile": ("GET", no_args, rule(OK, anonymous=LOGIN)),
    "password_change": ("GET", no_args, rule(OK, anonymous=LOGIN)),
    "password_change_done": ("GET", no_args, rule(OK, anonymous=LOGIN)),
    "password_reset": ("GET", no_args, rule(OK)),
    "password_reset_done": ("GET", no_args, rule(OK)),
    "password_reset_confirm": ("GET", lambda p: {"uidb64": "MQ", "token": "bad-token"}, rule(OK)),
    "password_reset_complete": ("GET", no_args, rule(OK)),
}

# Django's admin is the platform superuser's alone; everyone else is sent to its login.
ADMIN_RULE = rule(LOGIN, superuser=OK)


def iter_patterns(
    patterns=None, prefix: str = "", namespace: str | None = None
) -> Iterator[tuple[str, str | None, str | None, URLPattern]]:
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            yield from iter_patterns(entry.url_patterns, prefix + str(entry.pattern), ns)
        else:
            yield prefix + str(entry.pattern), namespace, entry.name, entry


def project_patterns():
    return [p for p in iter_patterns() if p[1] != "admin"]


def test_every_url_pattern_has_an_access_rule():
    missing = [route for route, _, name, _ in project_patterns() if name not in TABLE]
    assert not missing, f"URL patterns without a row in the access table: {missing}"
    stale = set(TABLE) - {name for _, _, name, _ in project_patterns()}
    assert not stale, f"Rows for URLs that no longer exist: {stale}"


def test_every_project_view_declares_its_rule_in_accounts_permissions():
    undeclared = [
        route
        for route, _, _, pattern in project_patterns()
        if not hasattr(pattern.callback, "access_rule")
    ]
    assert not undeclared, f"Views without a rule from accounts.permissions: {undeclared}"


def test_admin_urls_are_covered_by_the_admin_rule():
    assert any(ns == "admin" for _, ns, _, _ in iter_patterns())


@pytest.fixture
def world(personas, group, regulation, draft_version, ready_request, notice):
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
    personas.group = group
    personas.regulation = regulation
    personas.draft = draft_version
    return personas


def client_for(world, persona: str) -> Client:
    client = Client()
    if persona != "anonymous":
        client.force_login(getattr(world, persona))
    return client


def check(response, expected, persona: str) -> str | None:
    if expected == LOGIN:
        location = response.get("Location", "")
        if response.status_code == 302 and (
            location.startswith(reverse("login")) or location.startswith(reverse("admin:login"))
        ):
            return None
        return f"expected a redirect to the login page, got {response.status_code} {location}"
    if expected == ALLOWED:
        if response.status_code in (200, 302) and not response.get("Location", "").startswith(
            reverse("login")
        ):
            return None
        return f"expected the action to be let through, got {response.status_code}"
    if expected == HOME:
        if response.status_code == 302:
            return None
        return f"expected a redirect to the person's home, got {response.status_code}"
    if response.status_code != expected:
        return f"expected {expected}, got {response.status_code}"
    return None


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_url_answers_each_persona_as_declared(world, persona):
    client = client_for(world, persona)
    wrong = []
    for _route, _, name, _ in project_patterns():
        method, kwargs, expected = TABLE[name]
        url = reverse(name, kwargs=kwargs(world))
        response = client.post(url) if method == "POST" else client.get(url)
        problem = check(response, expected[persona], persona)
        if problem:
            wrong.append(f"{method} {url} ({name}): {problem}")
        if name == "logout" and persona != "anonymous":
            client = client_for(world, persona)  # logout ended the session
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_pages_answer_each_persona_as_declared(world, persona):
    client = client_for(world, persona)
    urls = [reverse("admin:index")] + [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]
    wrong = []
    for url in urls:
        problem = check(client.get(url), ADMIN_RULE[persona], persona)
        if problem:
            wrong.append(f"GET {url}: {problem}")
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


def test_home_sends_each_role_to_its_own_page(world):
    expected = {
        "director": reverse("dashboard"),
        "admin": reverse("dashboard"),
        "teacher": reverse("teacher_home"),
        "student": reverse("family_home"),
        "parent": reverse("family_home"),
        "superuser": reverse("admin:index"),
    }
    for persona, url in expected.items():
        response = client_for(world, persona).get(reverse("home"))
        assert response.status_code == 302, persona
        assert response["Location"] == url, persona


def test_other_organisation_objects_are_404_whatever_the_id(world, outsider):
    """Neither existing nor missing ids tell the outsider anything: both are 404."""
    client = client_for(world, "outsider")
    missing_pk = 10**9
    for name, pk in [
        ("person_detail", world.director.pk),
        ("person_detail", world.student.pk),
        ("person_detail", missing_pk),
        ("group_detail", world.group.pk),
        ("group_detail", missing_pk),
    ]:
        assert client.get(reverse(name, kwargs={"pk": pk})).status_code == 404, (name, pk)
    own = client.get(reverse("person_detail", kwargs={"pk": outsider.pk}))
    assert own.status_code == 200


def test_lists_never_show_another_organisations_people(world):
    response = client_for(world, "outsider").get(reverse("people"))
    text = response.content.decode()
    assert world.outsider.last_name in text
    for person in (world.director, world.teacher, world.student, world.parent):
        assert person.last_name not in text


def test_a_teacher_sees_only_groups_they_teach(world, organisation):
    from tests.factories import StudyGroupFactory

    other_group = StudyGroupFactory(organisation=organisation, name="Чужой кружок")
    client = client_for(world, "teacher")
    assert client.get(reverse("group_detail", kwargs={"pk": other_group.pk})).status_code == 404
    home = client.get(reverse("teacher_home")).content.decode()
    assert world.group.name in home
    assert other_group.name not in home
