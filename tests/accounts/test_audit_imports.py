"""The staff import in accounts: a refused upload or adding writes no audit entry and adds
nobody, and the job that adds the people survives a list gone wrong, a taken e-mail, a queue
that is down and a worker that stopped (the declarations, helpers and fixtures:
audit_support.py)."""

import datetime as dt

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts import services
from accounts.models import ImportBatch, Role, User
from cdt_portal.errors import PortalError
from cdt_portal.jobs import QUEUE_DOWN, jobs_recover
from cdt_portal.models import Job
from tests.accounts import audit_support
from tests.accounts.audit_support import (
    assert_entry,
    emailed_list,
    entries_since,
    mark,
    only_entry_since,
    staff_csv,
    upload,
)
from tests.factories import UserFactory

observed = audit_support.observed
queue_only = audit_support.queue_only


@pytest.mark.parametrize(
    ("content", "role", "message"),
    [
        (b"", Role.TEACHER, "Файл пустой."),
        (b"x" * (services.IMPORT_MAX_BYTES + 1), Role.TEACHER, "Файл больше 5 МБ"),
        (staff_csv("Ёлкина Алёна Петровна"), Role.ADMIN, "Выберите, кого добавляет список."),
    ],
)
def test_a_refused_upload_stores_nothing(admin, content, role, message):
    since = mark()
    with pytest.raises(PortalError) as info:
        upload(admin, content, role=role)
    assert info.value.message.startswith(message)
    assert entries_since(since) == []
    assert not ImportBatch.objects.exists()


def test_applying_a_list_with_bad_rows_or_twice_is_refused(admin):
    bad = upload(admin, staff_csv("Ёлкина Алёна Петровна", "Петров"))
    people, since = User.objects.count(), mark()
    with pytest.raises(PortalError) as info:
        services.import_apply_start(batch=bad, actor=admin)
    assert "Ничего не добавлено" in info.value.message
    assert entries_since(since) == []
    assert User.objects.count() == people
    assert ImportBatch.objects.get(pk=bad.pk).status == ImportBatch.Status.PENDING
    assert not Job.objects.filter(key=f"import-apply:{bad.pk}").exists()

    good = upload(admin, staff_csv("Ёлкина Алёна Петровна"))
    services.import_apply_start(batch=good, actor=admin)
    people, since = User.objects.count(), mark()
    for refused in (
        lambda: services.import_apply_start(batch=good, actor=admin),
        lambda: services.import_cancel(batch=good, actor=admin),
    ):
        with pytest.raises(PortalError) as info:
            refused()
        assert info.value.message == "Этот список уже загружен или отменён."
    assert entries_since(since) == []
    assert User.objects.count() == people
    assert ImportBatch.objects.get(pk=good.pk).status == ImportBatch.Status.APPLIED


def test_an_email_taken_while_the_job_adds_people_adds_nobody_and_can_be_retried(
    admin, organisation, other_organisation, monkeypatch
):
    batch = upload(admin, emailed_list())
    read = services.imports.preview_staff_import

    def read_then_taken(**kwargs):
        preview = read(**kwargs)
        UserFactory(organisation=other_organisation, username="taker", email="elkina@example.ru")
        return preview

    monkeypatch.setattr(services.imports, "preview_staff_import", read_then_taken)
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert (job.status, job.message) == ("failed", services.IMPORT_EMAIL_TAKEN)
    assert User.objects.count() == people  # nobody, not even the one taken meanwhile
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.PENDING
    assert entries_since(since) == []

    monkeypatch.setattr(services.imports, "preview_staff_import", read)
    again = services.import_apply_start(batch=batch, actor=admin)  # the failed job, queued again
    assert (again.pk, again.status) == (job.pk, "done")
    assert User.objects.count() == people + 2
    assert [e.action for e in entries_since(since)] == ["import.applied"]


def test_queue_down_applying_fails_the_job_and_puts_the_batch_back(admin, monkeypatch):
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна"))

    def refuse(task):
        raise OSError("unable to open database file")

    monkeypatch.setattr(HUEY, "enqueue", refuse)
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    job.refresh_from_db()
    assert (job.status, job.message) == ("failed", QUEUE_DOWN)
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.PENDING
    assert entries_since(since) == [] and User.objects.count() == people


def test_while_the_people_are_being_added_pressing_again_finds_the_job_and_cancel_is_refused(
    admin, organisation, queue_only
):
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна"))
    services.import_check(job_id=0, batch_id=batch.pk)  # the worker read the list
    queue_only.clear()
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert services.import_apply_start(batch=batch, actor=admin).pk == job.pk
    assert len(queue_only) == 1 and job.kind == "import"
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.APPLYING
    with pytest.raises(PortalError) as info:
        services.import_cancel(batch=batch, actor=admin)
    assert info.value.message == services.IMPORT_APPLYING
    assert entries_since(since) == [] and User.objects.count() == people

    # The worker stopped while adding them: the job is queued again, once, and runs once.
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(status="running", heartbeat_at=long_ago)
    assert jobs_recover() == [job.pk]
    assert jobs_recover() == []  # queued now, its task waiting
    assert [t.name for t in queue_only] == ["apply_import", "apply_import"]
    assert queue_only[-1].args == (job.pk, 2, batch.pk)
    resumed = only_entry_since(since)
    assert (resumed.action, resumed.object_id) == ("job.requeued", str(job.pk))
    since = mark()
    for _ in range(2):
        url = services.import_apply_run(job_id=job.pk, batch_id=batch.pk)
        assert url == f"/people/import/{batch.pk}/"
    assert User.objects.count() == people + 1
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="import.applied",
        obj=batch,
        organisation=organisation,
        data={"filename": "staff.csv", "role": "teacher", "count": 1},
    )
