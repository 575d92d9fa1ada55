"""The job tasks moved beside their work (acknowledgements/0006_job_task_names): the jobs that
may still run or be retried are pointed at the tasks' new names, each a registered job task."""

from __future__ import annotations

import importlib

from django.apps import apps

from cdt_portal.jobs import _JOB_TASKS
from cdt_portal.models import Job

migration = importlib.import_module("acknowledgements.migrations.0006_job_task_names")


def test_every_new_name_is_a_registered_job_task():
    import acknowledgements.tasks  # noqa: F401  (as the worker imports it)

    assert set(migration.RENAMED.values()) <= set(_JOB_TASKS)
    assert not set(migration.RENAMED) & set(_JOB_TASKS)


def test_jobs_not_done_get_the_new_names_and_done_ones_keep_theirs(db):
    old, new = "acknowledgements.tasks.sheet_build_task", "acknowledgements.sheet.sheet_build_task"
    jobs = {
        status: Job.objects.create(key=f"k-{status}", kind="sheet", title="t", status=status,
                                   task_name=old)
        for status in Job.Status.values
    }  # fmt: skip
    migration.forwards(apps, None)
    names = {status: Job.objects.get(pk=job.pk).task_name for status, job in jobs.items()}
    assert names == {"queued": new, "running": new, "failed": new, "done": old}
    migration.backwards(apps, None)
    assert set(Job.objects.values_list("task_name", flat=True)) == {old}
