"""The job tasks moved from `acknowledgements/tasks.py` to the modules whose work they run, and
huey names a task by its module: the jobs that may still run or be retried (queued, running,
failed) are pointed at the new names, so the queue, the look for lost jobs and «Повторить» find
their task. Jobs that are done keep the name of the task that ran them."""

from django.db import migrations

RENAMED = {
    "acknowledgements.tasks.version_approval_task": (
        "acknowledgements.services.versions.version_approval_task"
    ),
    "acknowledgements.tasks.reminders_task": "acknowledgements.services.reminders.reminders_task",
    "acknowledgements.tasks.sheet_build_task": "acknowledgements.sheet.sheet_build_task",
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
        ("acknowledgements", "0005_documentversion_sheet_revision"),
        ("cdt_portal", "0006_audit_no_truncate"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
