"""Counted numbers are counted ahead by the real worker (`manage.py run_huey`, two processes, on
a Redis queue; the views here queue onto it): once a teacher's confirmation commits, the worker
recounts the organisation into the cache it shares with the web processes (Redis), so the
administrator's first view of the dashboard and the department's first view of its table, right
after the change, cost the queries of the second view: nothing is counted in the request.
PostgreSQL only, as the other tests under the real worker."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cdt_portal import numbers
from departments.selectors import INSTITUTION_ROW
from onboarding.selectors import DASHBOARD
from tests.factories import PASSWORD
from tests.jobs import stress_support
from tests.jobs.stress_support import flush_cache, wait_for

pytestmark = stress_support.real_worker_marks()


def redis_cache(url: str, prefix: str) -> dict:
    """CACHES: Django's Redis cache at `url`, its keys under `prefix`."""
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
        }
    }


@pytest.fixture
def shared_cache(redis_queue, settings, worker):
    """The test process and the worker keep numbers in one Redis cache, as gunicorn and the
    worker do in production; its keys are removed at the end."""
    url, _, _ = redis_queue
    prefix = f"cdt-test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = redis_cache(url, prefix)
    worker.env["STRESS_CACHE_PREFIX"] = prefix
    yield
    flush_cache(url, prefix)


def views(client: Client, url: str) -> tuple[int, int]:
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    return counts[0], counts[1]


def test_the_worker_counts_a_change_before_anyone_looks(
    regulation, teacher, admin, department_officer, shared_cache, worker
):
    organisation = admin.organisation
    worker.start(silence=30)
    worker.wait_ready()
    reader = Client()
    reader.force_login(teacher)
    page = reverse("version_confirm", args=[regulation.pk])
    confirmed = reader.post(page, {"password": PASSWORD, "read": "on"})
    assert (confirmed.status_code, confirmed["Location"]) == (302, reverse("regulation"))
    head = numbers.last_change(organisation.pk)
    wait_for(
        lambda: (
            numbers.kept(DASHBOARD, organisation.pk) is not None
            and numbers.kept(INSTITUTION_ROW, organisation.pk) is not None
        ),
        30,
        "the worker to count the change",
        worker,
    )
    assert numbers.last_change(organisation.pk) == head  # nothing else changed meanwhile
    assert numbers.kept(DASHBOARD, organisation.pk).summary.staff.done == 1

    manager = Client()
    manager.force_login(admin)
    manager.get(reverse("profile"))  # the session and the person, read once
    first, second = views(manager, reverse("dashboard"))
    assert first == second
    department = Client()
    department.force_login(department_officer)
    department.get(reverse("profile"))
    first, second = views(department, reverse("department"))
    assert first == second


def test_removing_the_tests_cache_leaves_every_queue_and_other_cache_alone(redis_queue, settings):
    """The shared cache's end (`stress_support.flush_cache`) removes its own keys only: the
    queue and schedule of a worker, on the same Redis database, keep what they hold, as do
    another cache's keys. (`cache.clear()` would have emptied them all: FLUSHDB.)"""
    import redis

    url, _, storage = redis_queue
    prefix = f"cdt-test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = redis_cache(url, prefix)
    other = f"cdt-test-{uuid.uuid4().hex[:8]}:1:numbers"
    conn = redis.Redis.from_url(url)
    conn.set(other, b"42")
    try:
        cache.set("numbers", {"read": 3})
        cache.set("row", [1, 2])
        storage.enqueue(b"a task")
        storage.add_to_schedule(b"a task for later", dt.datetime(2030, 1, 1))

        flush_cache(url, prefix)

        assert (cache.get("numbers"), cache.get("row")) == (None, None)
        assert list(conn.scan_iter(match=f"{prefix}:*")) == []
        assert (storage.queue_size(), storage.schedule_size()) == (1, 1)
        assert conn.get(other) == b"42"
    finally:
        conn.delete(other)
