"""Huey names a task by its module, and a job row keeps that name: a task that moves needs a
data migration of `Job.task_name`. Each such migration points the jobs that may still run or
be retried (queued, running, failed) at the new names, each a registered job task, and leaves
done jobs the name of the task that ran them; going back restores the old names. Every job
task is known here by name, as a process that only discovered the apps' `tasks` registers it:
one moved without a migration, or not registered in the worker, fails the first test."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.conf import settings

from cdt_portal.jobs import _JOB_TASKS
from cdt_portal.models import Job

# Every job task by its registered name. Moving or renaming one changes its name: add the
# migration of `Job.task_name` (RENAMES below) before changing this set.
JOB_TASKS = {
    "accounts.services.imports.apply_import",
    "accounts.services.imports.check_import",
    "accounts.services.invitations.print_invitation_slips",
    "accounts.services.invitations.send_invitation_code",
    "accounts.services.invitations.send_invitations",
    "acknowledgements.services.reminders.reminders_task",
    "acknowledgements.services.versions.version_approval_task",
    "acknowledgements.sheet.sheet_build_task",
    "cdt_portal.backups.backup_job",
    "departments.services.send_department_message",
    "families.services.reminders.send_parent_reminders",
    "onboarding.services.request.send_registration_request",
    "portal.services.send_weekly_digest",
}
# What a process registers when Django starts (the core's AppConfig discovers every app's
# `tasks`), before any URLconf or view is imported: as the worker with its checks skipped.
REGISTERED = """
import json, django
django.setup()
from cdt_portal.jobs import _JOB_TASKS
print(json.dumps(sorted(_JOB_TASKS)))
"""


def test_every_job_task_is_known_by_its_name_and_registered_by_discovery_alone():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cdt_portal.settings.test"}
    done = subprocess.run(
        [sys.executable, "-c", REGISTERED],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(json.loads(done.stdout)) == JOB_TASKS


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
