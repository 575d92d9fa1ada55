"""Nothing writes on GET: every URL pattern of the project, requested with GET by anonymous and
by every persona, sends no statement that writes to any table.

Every statement a page sends goes through the connection's execute wrapper, which records each
INSERT, UPDATE, DELETE or REPLACE (and any DDL) with the table it names; only `django_session`
is left out, since signing in writes there by design. This sees a write wherever it is made
(any app, the audit log, many-to-many tables, raw SQL) and even one that changes nothing, at
the cost of the statements themselves: comparing a hash of every table before and after each
page read every row of every table twice a page, 150 s of the suite's time. The person signs in
once (force_login, which sets `last_login`; `client_for` of the access matrix) before any
recording starts, so only the page itself is measured. Each request runs in a savepoint rolled
back afterwards, so one page's write is reported once, on that page.
"""

from __future__ import annotations

import re
import sys
import types

import pytest
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.db import connection, transaction
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from accounts.models import User
from cdt_portal.access import public
from cdt_portal.models import AuditEntry
from tests.access_matrix_support import client_for
from tests.test_access_matrix import PERSONAS, TABLE, build_world, project_patterns, url_for

THROWAWAY_URLCONF = "tests._throwaway_get_urls"
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|TRUNCATE)\b", re.IGNORECASE)
# The table a data-writing statement names (Django quotes it: "accounts_user").
WRITTEN_TABLE = re.compile(
    r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?',
    re.IGNORECASE,
)
NOT_WATCHED = {Session._meta.db_table}


@pytest.fixture
def world(personas, group, regulation, draft_version, ready_request, notice):
    """The access matrix's world: every URL pattern can be filled in."""
    return build_world(personas, group, regulation, draft_version, ready_request, notice)


class Writes:
    """An execute wrapper that records the writing statements sent through it."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        verb = WRITE.match(sql)
        if verb:
            table = WRITTEN_TABLE.match(sql)
            name = table.group(1) if table else sql.strip()[:80]
            if name not in NOT_WATCHED:
                self.seen.append(f"{name} ({verb.group(1).upper()})")
        return execute(sql, params, many, context)

    def tables(self) -> list[str]:
        return list(dict.fromkeys(self.seen))  # each once, in the order written


def get_urls(world) -> list[tuple[str, str]]:
    """(route, path) for every project pattern, and Django admin's index and lists."""
    urls = [(route, url_for(route, TABLE[route].args(world))) for route, _ in project_patterns()]
    urls.append(("admin/", "/admin/"))
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls.append((url.strip("/") + "/", url))
    return urls


def writes_of_a_get(world, persona: str, url: str) -> list[str]:
    writes = Writes()
    client = client_for(world, persona, raise_request_exception=False)
    with transaction.atomic():
        with connection.execute_wrapper(writes):
            response = client.get(url)
        transaction.set_rollback(True)
    changed = writes.tables()
    if response.status_code >= 500:
        # A crash rolls back what the page wrote, and may have stopped before its write.
        changed.append(f"nothing it could be checked for: it answered {response.status_code}")
    return changed


def test_the_recording_sees_a_write_in_any_table(world):
    """The guard itself: a changed row, a new row, a deleted row and raw SQL are each reported,
    naming the table; reads and the session are not."""
    from accounts.models import StudyGroup

    writes = Writes()
    with transaction.atomic(), connection.execute_wrapper(writes):
        list(User.objects.all())
        User.objects.filter(pk=world.teacher.pk).update(last_name="Иванова-Петрова")
        group = StudyGroup.objects.create(
            organisation=world.group.organisation, name="Новое объединение"
        )
        group.delete()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {AuditEntry._meta.db_table} SET object_repr = object_repr WHERE id = -1"
            )
        Session.objects.filter(session_key="none").delete()
        transaction.set_rollback(True)
    tables = writes.tables()
    assert tables[:2] == ["accounts_user (UPDATE)", "accounts_studygroup (INSERT)"]
    # The group's delete clears its links first (its teachers, its checklist items).
    assert "accounts_studygroup (DELETE)" in tables
    assert tables[-1] == f"{AuditEntry._meta.db_table} (UPDATE)"
    assert all(t.endswith(("(INSERT)", "(UPDATE)", "(DELETE)")) for t in tables), tables
    assert not [t for t in tables if t.startswith(Session._meta.db_table)]


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_get_changes_any_table(world, persona):
    wrong = []
    for route, url in get_urls(world):
        changed = writes_of_a_get(world, persona, url)
        if changed:
            wrong.append(f"GET {url} [{route}] changed {', '.join(changed)}")
    assert wrong == [], f"{persona}:\n" + "\n".join(wrong)


@public
def writes_on_get(request):
    """Creates a group whenever it is opened, as `teacher_status` once created a status row."""
    from accounts.models import Organisation, StudyGroup

    StudyGroup.objects.get_or_create(
        organisation=Organisation.objects.get(slug="cdt"), name="Создано при просмотре"
    )
    return HttpResponse("ok")


def test_the_walk_reports_a_page_that_writes_on_get(world):
    module = types.ModuleType(THROWAWAY_URLCONF)
    module.urlpatterns = [path("throwaway/writes/", writes_on_get)]
    sys.modules[THROWAWAY_URLCONF] = module
    try:
        with override_settings(ROOT_URLCONF=THROWAWAY_URLCONF):
            changed = writes_of_a_get(world, "teacher", "/throwaway/writes/")
    finally:
        del sys.modules[THROWAWAY_URLCONF]
    assert changed == ["accounts_studygroup (INSERT)"]
