"""The jobs through a real huey consumer: two worker threads taking tasks off the queue while
the test goes on, with the database committed between them (`transaction=True`). Everywhere
else tests run jobs at once, inside the request; here nothing runs until a worker takes it."""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager

import pytest
from django.core.files.storage import default_storage
from huey.contrib.djhuey import HUEY

from acknowledgements import documents, sheet
from acknowledgements.models import DocumentVersion, VersionStatus
from acknowledgements.selectors import approval_job
from acknowledgements.services import version_approve
from acknowledgements.sheet import sheet_prepare
from cdt_portal.models import AuditEntry, Job
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def queued_jobs():
    """Jobs go onto the queue (the MemoryHuey's storage, shared by threads) instead of running."""
    HUEY.immediate = False
    try:
        yield
    finally:
        HUEY.immediate = True


@contextmanager
def consumer(workers: int = 2):
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    running = HUEY.create_consumer(
        workers=workers, worker_type="thread", periodic=False, check_worker_health=False
    )
    running.start()
    try:
        yield running
    finally:
        running.stop(graceful=True)
        for number, handler in handlers.items():
            signal.signal(number, handler)


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.1)


def test_approval_passes_approving_then_approved_with_the_order_stored_once(
    director, regulation, draft_version
):
    with queued_jobs():
        version = version_approve(version=draft_version, actor=director)
        # The request is over: the draft is `approving`, its job waits, nothing is stored.
        assert version.status == VersionStatus.APPROVING
        assert approval_job(version).status == Job.Status.QUEUED
        assert not version.order_pdf
        regulation.refresh_from_db()
        assert regulation.status == VersionStatus.APPROVED  # staff keep reading it meanwhile
        with consumer():
            wait_for(lambda: approval_job(version).status == Job.Status.DONE)
    version.refresh_from_db()
    regulation.refresh_from_db()
    assert (version.status, regulation.status) == ("approved", "superseded")
    assert sorted(default_storage.listdir("documents/orders")[1]) == [
        f"order-{regulation.document_id}-1.pdf",
        f"order-{regulation.document_id}-2.pdf",
    ]
    actions = list(
        AuditEntry.objects.filter(object_id__in=[str(version.pk), str(regulation.pk)])
        .filter(action__startswith="version.")
        .exclude(action="version.created")
        .order_by("pk")
        .values_list("action", "object_id")
    )
    assert actions[-3:] == [
        ("version.approval_started", str(version.pk)),
        ("version.superseded", str(regulation.pk)),
        ("version.approved", str(version.pk)),
    ]


def test_sheet_parts_run_on_both_workers_and_are_joined_once(
    organisation, director, regulation, monkeypatch
):
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
    # 37 readers: parts of 7 (the title takes 3 rows' place on page 1), 10, 10 and 10.
    for n in range(35):
        UserFactory(organisation=organisation, last_name=f"Параллельная{n:02d}", roles=["teacher"])
    version = DocumentVersion.objects.get(pk=regulation.pk)
    with queued_jobs():
        job = sheet_prepare(version=version, blank=False, actor=director)
        assert job.status == Job.Status.QUEUED
        with consumer():
            wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.DONE)
    job.refresh_from_db()
    assert (job.done, job.total) == (4, 4)
    files = default_storage.listdir("documents/sheets")[1]
    assert len([f for f in files if "-p-" in f]) == 4
    assert len([f for f in files if "-all-" in f]) == 1
    plan = sheet.sheet_plan(version)
    assert sheet.stored_sheet(plan) is not None
