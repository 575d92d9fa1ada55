"""The access matrix's machinery (tests/test_access_matrix.py): the personas and the answers a
row declares, the URLconf's patterns, the walk that requests each pattern and method in a fresh
world, and that world. The table itself is tests/access_matrix_table.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from accounts.models import User

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

OK, BAD_REQUEST, FORBIDDEN, NOT_FOUND, NOT_ALLOWED, GONE = 200, 400, 403, 404, 405, 410
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
    client = client_for(world, persona)
    mail.outbox.clear()
    cache.clear()
    with transaction.atomic():
        if row.prepare is not None:
            row.prepare(world)
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
    from accounts.models import ImportBatch, Invitation, Messenger, Organisation

    # The world's organisations are on VK Мессенджер, set explicitly (a new organisation starts
    # in MAX since issue 21): the messenger draft's row of the table is refused under VK.
    Organisation.objects.update(messenger=Messenger.VK)
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


def client_for(world, persona: str, **options) -> Client:
    """A new client (no cookie but the session's) signed in as `persona`. Each persona signs in
    once per world, outside the savepoint a walk runs each request in, so no rollback takes the
    session away and whatever a request does to it (a sign-out, a new key, messages) is undone
    with the rest of that request; signing in for every request cost a walk about a third of
    its time. Callers that request without a savepoint share the session as one browser would."""
    client = Client(**options)
    if persona != "anonymous":
        sessions = world.__dict__.setdefault("signed_in_sessions", {})
        if persona not in sessions:
            signing_in = Client()
            signing_in.force_login(User.objects.get(pk=getattr(world, persona).pk))
            sessions[persona] = signing_in.cookies[settings.SESSION_COOKIE_NAME].value
        client.cookies[settings.SESSION_COOKIE_NAME] = sessions[persona]
    return client
