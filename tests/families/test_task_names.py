"""`families.services` became a package by topic (families/0009_reminder_task_in_its_topic):
the parents' reminders jobs that may still run or be retried are pointed at the task's new
name, which is a registered job task; done jobs keep the old one."""

from __future__ import annotations

import importlib

from django.apps import apps

from cdt_portal.jobs import _JOB_TASKS
from cdt_portal.models import Job

migration = importlib.import_module("families.migrations.0009_reminder_task_in_its_topic")
OLD = "families.services.send_parent_reminders"
NEW = "families.services.reminders.send_parent_reminders"


def test_the_new_name_is_the_registered_job_task_and_the_old_one_is_gone():
    import families.tasks  # noqa: F401  (as the worker imports it)

    assert migration.RENAMED == {OLD: NEW}
    assert NEW in _JOB_TASKS
    assert OLD not in _JOB_TASKS


def test_jobs_not_done_get_the_new_name_and_done_ones_keep_theirs(db):
    jobs = {
        status: Job.objects.create(key=f"k-{status}", kind="parent_reminders", title="t",
                                   status=status, task_name=OLD)
        for status in Job.Status.values
    }  # fmt: skip
    migration.forwards(apps, None)
    names = {status: Job.objects.get(pk=job.pk).task_name for status, job in jobs.items()}
    assert names == {"queued": NEW, "running": NEW, "failed": NEW, "done": OLD}
    migration.backwards(apps, None)
    assert set(Job.objects.values_list("task_name", flat=True)) == {OLD}
