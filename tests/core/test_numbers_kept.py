"""Counted numbers are kept, counted ahead by the worker and checked every night
(`cdt_portal.numbers`): once a change commits, one recount of the organisation is queued (however
many entries the change wrote); after it, the first view of the dashboard and of the department
costs the queries of the second; a kept number that drifted is logged and replaced by the
nightly recount."""

from __future__ import annotations

import logging

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from acknowledgements.services import acknowledgement_confirm
from cdt_portal import numbers
from cdt_portal.audit import log_action
from cdt_portal.progress import Progress
from departments.selectors import INSTITUTION_ROW
from onboarding.selectors import DASHBOARD, dashboard_numbers
from tests.factories import PASSWORD


def recounts_queued(organisation_id: int) -> int:
    return sum(
        1
        for task in HUEY.scheduled()
        if task.name == "recount_numbers" and task.args == (organisation_id,)
    )


@pytest.fixture(autouse=True)
def no_scheduled_tasks():
    HUEY.flush()  # the immediate queue keeps tasks scheduled for later in memory
    yield
    HUEY.flush()


@pytest.fixture
def fixtures_committed():
    """A test runs in one transaction that never commits, so the fixtures' own changes have a
    recount waiting for that commit already: forgotten here, as if they had committed."""
    numbers._waiting.clear()


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_counters_of_the_dashboard_and_the_department_are_registered():
    assert {DASHBOARD, INSTITUTION_ROW} <= set(numbers._COUNTERS)


def test_a_change_queues_one_recount_when_it_commits(
    organisation, regulation, teacher, admin, fixtures_committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            acknowledgement_confirm(
                version=regulation, person=teacher, password=PASSWORD, ip_address=None,
                user_agent="",
            )  # fmt: skip
            log_action(admin, organisation, "test.changed", organisation_id=organisation.pk)
            log_action(admin, organisation, "test.changed", organisation_id=organisation.pk)
        assert recounts_queued(organisation.pk) == 0  # not before the commit
    assert len(callbacks) == 1  # one hook for the transaction's three entries
    assert recounts_queued(organisation.pk) == 1


def test_a_rolled_back_change_queues_nothing_and_does_not_stop_the_next(
    organisation, admin, fixtures_committed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            log_action(admin, organisation, "test.changed", organisation_id=organisation.pk)
            transaction.set_rollback(True)
    assert callbacks == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        log_action(admin, organisation, "test.changed", organisation_id=organisation.pk)
    assert len(callbacks) == 1
    assert recounts_queued(organisation.pk) == 1


@pytest.mark.parametrize("counted_ahead", [True, False])
def test_after_the_recount_the_first_view_costs_what_the_second_does(
    counted_ahead, organisation, regulation, teacher, admin, department_officer, client
):
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    if counted_ahead:
        numbers.recount(organisation.pk)  # what the worker does once the change commits
    client.force_login(admin)
    dashboard = reverse("dashboard")
    client.get(reverse("profile"))  # the session and the person, read once
    first, second = queries_of(client, dashboard), queries_of(client, dashboard)
    client.force_login(department_officer)
    department = reverse("department")
    client.get(reverse("profile"))
    first_department = queries_of(client, department)
    second_department = queries_of(client, department)
    if counted_ahead:
        assert (first, first_department) == (second, second_department)
    else:  # the guard: without the recount the first view counts everything itself
        assert first > second
        assert first_department > second_department


def test_the_kept_numbers_are_what_a_count_gives(organisation, regulation, teacher):
    numbers.recount(organisation.pk)
    assert numbers.kept(DASHBOARD, organisation.pk) == dashboard_numbers(organisation)
    assert numbers.kept(DASHBOARD, organisation.pk).summary.staff == Progress(0, 2)


def test_the_nightly_recount_logs_a_drift_and_replaces_it(
    organisation, department, regulation, caplog
):
    numbers.recount(organisation.pk)
    assert numbers.recount_everything() == 0  # nothing drifted
    right = numbers.kept(DASHBOARD, organisation.pk)
    # A drift: the kept numbers say something a count does not (a lost update, a bug).
    wrong = numbers.kept(INSTITUTION_ROW, organisation.pk)
    wrong.staff = Progress(5, 7)
    cache.set(
        numbers._key(INSTITUTION_ROW, organisation.pk, numbers.last_change(organisation.pk)), wrong
    )
    with caplog.at_level(logging.WARNING, logger="cdt_portal.numbers"):
        assert numbers.recount_everything() == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"Kept numbers 'institution-row' of organisation {organisation.pk} differed from a "
        "recount: replaced"
    ]
    assert numbers.kept(INSTITUTION_ROW, organisation.pk).staff == Progress(0, 2)
    assert numbers.kept(DASHBOARD, organisation.pk) == right
