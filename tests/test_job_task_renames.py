"""Huey names a task by its module, and a job row keeps that name: a task that moves needs a
data migration of `Job.task_name`. Each such migration points the jobs that may still run or
be retried (queued, running, failed) at the new names, each a registered job task, and leaves
done jobs the name of the task that ran them; going back restores the old names."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from cdt_portal.jobs import _JOB_TASKS
from cdt_portal.models import Job

# Each renaming migration, and the `tasks` module the worker imports to register its tasks.
RENAMES = [
    ("acknowledgements.migrations.0006_job_task_names", "acknowledgements.tasks"),
    ("families.migrations.0009_reminder_task_in_its_topic", "families.tasks"),
]


@pytest.mark.parametrize(("migration", "tasks"), RENAMES)
def test_every_new_name_is_a_registered_job_task_and_no_old_one_is(migration, tasks):
    importlib.import_module(tasks)  # as the worker imports it
    renamed = importlib.import_module(migration).RENAMED
    assert set(renamed.values()) <= set(_JOB_TASKS)
    assert not set(renamed) & set(_JOB_TASKS)


@pytest.mark.parametrize(("migration", "tasks"), RENAMES)
def test_jobs_not_done_get_the_new_names_and_done_ones_keep_theirs(migration, tasks, db):
    module = importlib.import_module(migration)
    for old, new in module.RENAMED.items():
        jobs = {
            status: Job.objects.create(
                key=f"{old}-{status}", kind="k", title="t", status=status, task_name=old
            )
            for status in Job.Status.values
        }
        module.forwards(apps, None)
        names = {status: Job.objects.get(pk=job.pk).task_name for status, job in jobs.items()}
        assert names == {"queued": new, "running": new, "failed": new, "done": old}
        module.backwards(apps, None)
        assert {Job.objects.get(pk=job.pk).task_name for job in jobs.values()} == {old}
