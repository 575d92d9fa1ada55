"""The weekly digest moved to the top layer (onboarding migration 0011): a digest job that may
still run or be retried is pointed at the task's new name, which the job registry knows, so
«Повторить» sends the week's letters; a job that is done keeps its old name; going back
restores the old name."""

from __future__ import annotations

import pytest
from django.core import mail

from cdt_portal.jobs import job_retry, job_retryable
from cdt_portal.models import Job
from tests.migrating import migrate

BEFORE = [("onboarding", "0010_digests_to_the_outbox")]
OLD_TASK = "onboarding.services.periodic.send_weekly_digest"
NEW_TASK = "portal.services.send_weekly_digest"


def digest_job(jobs, status: str, task_name: str):
    return jobs.objects.create(
        key=f"weekly-digest-{status}", kind="weekly_digest", title="Сводка", status=status,
        task_name=task_name, task_args=["2026-11-30"], message="сервер молчал",
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_an_old_digest_job_finds_its_task_and_is_retried(director):
    director.email = "director@example.ru"
    director.save(update_fields=["email"])
    old = migrate(BEFORE)
    try:
        for status in Job.Status.values:
            digest_job(old.get_model("cdt_portal", "Job"), status, OLD_TASK)
    finally:
        migrate()

    names = dict(Job.objects.values_list("status", "task_name"))
    assert names == {"queued": NEW_TASK, "running": NEW_TASK, "failed": NEW_TASK, "done": OLD_TASK}
    failed = Job.objects.get(status="failed")
    assert job_retryable(failed)
    retried = job_retry(job=failed, actor=director)  # run at once in tests
    assert retried.status == Job.Status.DONE
    assert [message.to for message in mail.outbox] == [["director@example.ru"]]


@pytest.mark.django_db(transaction=True)
def test_going_back_restores_the_old_name():
    migrate()
    failed = digest_job(Job, "failed", NEW_TASK)
    done = digest_job(Job, "done", NEW_TASK)
    try:
        back = migrate(BEFORE)
        names = dict(back.get_model("cdt_portal", "Job").objects.values_list("pk", "task_name"))
        assert names == {failed.pk: OLD_TASK, done.pk: NEW_TASK}
    finally:
        migrate()
