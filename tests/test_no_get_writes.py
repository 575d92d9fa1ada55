"""Nothing writes on GET: every URL pattern of the project, requested with GET by anonymous and
by every persona, leaves every table as it was.

A snapshot is, per model (every installed app, the audit log and the many-to-many tables
included; only `django_session` left out, since signing in writes there by design), the number
of rows and a hash of all their values. The person signs in (force_login, which sets
`last_login`) before the first snapshot, so only the page itself is measured. Each request runs
in a savepoint rolled back afterwards, so one page's write is reported once, on that page.
"""

from __future__ import annotations

import hashlib
import sys
import types

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path

from accounts.models import User
from cdt_portal.access import public
from tests.test_access_matrix import PERSONAS, TABLE, build_world, project_patterns, url_for

Snapshot = dict[str, tuple[int, str]]
THROWAWAY_URLCONF = "tests._throwaway_get_urls"


@pytest.fixture
def world(personas, group, regulation, draft_version, ready_request, notice):
    """The access matrix's world: every URL pattern can be filled in."""
    return build_world(personas, group, regulation, draft_version, ready_request, notice)


def watched_models() -> list:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model is not Session and not model._meta.proxy
    ]


def snapshot() -> Snapshot:
    """Per table: (rows, sha256 of every row's values in primary-key order)."""
    tables: Snapshot = {}
    for model in watched_models():
        rows = list(model._base_manager.order_by("pk").values_list())
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        tables[model._meta.db_table] = (len(rows), digest)
    return tables


def changed_tables(before: Snapshot, after: Snapshot) -> list[str]:
    return [
        f"{table} (rows {before[table][0]} → {after[table][0]})"
        if before[table][0] != after[table][0]
        else f"{table} (rows changed)"
        for table in before
        if before[table] != after[table]
    ]


def get_urls(world) -> list[tuple[str, str]]:
    """(route, path) for every project pattern, and Django admin's index and lists."""
    urls = [(route, url_for(route, TABLE[route].args(world))) for route, _ in project_patterns()]
    urls.append(("admin/", "/admin/"))
    for model in admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        urls.append((url.strip("/") + "/", url))
    return urls


def writes_of_a_get(world, persona: str, url: str) -> list[str]:
    with transaction.atomic():
        client = Client(raise_request_exception=False)
        if persona != "anonymous":
            client.force_login(User.objects.get(pk=getattr(world, persona).pk))
        before = snapshot()
        response = client.get(url)
        after = snapshot()
        transaction.set_rollback(True)
    changed = changed_tables(before, after)
    if response.status_code >= 500:
        # A crash rolls back what the page wrote: the page was not really checked.
        changed.append(f"nothing it could be checked for: it answered {response.status_code}")
    return changed


def test_the_snapshot_sees_a_write_in_any_table(world):
    """The guard itself: a change to one row, or a new row, in a watched table is reported,
    naming the table."""
    from accounts.models import StudyGroup

    before = snapshot()
    User.objects.filter(pk=world.teacher.pk).update(last_name="Иванова-Петрова")
    StudyGroup.objects.create(organisation=world.group.organisation, name="Новое объединение")
    assert sorted(changed_tables(before, snapshot())) == [
        "accounts_studygroup (rows 1 → 2)",
        "accounts_user (rows changed)",
    ]


def test_the_audit_log_is_watched():
    tables = {model._meta.db_table for model in watched_models()}
    assert apps.get_model("cdt_portal", "AuditEntry")._meta.db_table in tables
    assert Session._meta.db_table not in tables


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
    assert changed == ["accounts_studygroup (rows 1 → 2)"]
