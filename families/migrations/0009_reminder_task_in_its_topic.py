"""`families.services` became a package by topic, and huey names a task by its module: the
parents' reminders task is now `families.services.reminders.send_parent_reminders`. The jobs
that may still run or be retried (queued, running, failed) are pointed at the new name, so the
queue, the look for lost jobs and «Повторить» find their task; a task message queued under the
old name before the upgrade is not run (the worker logs «Error reading from queue» with a
traceback and drops it), and its job, silent, is queued again under the new name by
`jobs_recover`. Jobs that are done keep the name of the task that ran them. The guide stops
the worker before `migrate` (docs/deploy.md, step 12), so no old worker writes the old name
back meanwhile."""

from django.db import migrations

RENAMED = {
    "families.services.send_parent_reminders": (
        "families.services.reminders.send_parent_reminders"
    ),
}
NOT_DONE = ("queued", "running", "failed")


def _rename(apps, names: dict[str, str]) -> None:
    Job = apps.get_model("cdt_portal", "Job")
    for old, new in names.items():
        Job.objects.filter(task_name=old, status__in=NOT_DONE).update(task_name=new)


def forwards(apps, schema_editor) -> None:
    _rename(apps, RENAMED)


def backwards(apps, schema_editor) -> None:
    _rename(apps, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("families", "0008_consent_details_parent_unlinked_at"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
