"""The weekly digest moved to the top layer (`portal.services`), and huey names a job's task by
its module: the digest jobs that may still run or be retried (queued, running, failed) are
pointed at the task's new name, so the queue, the look for lost jobs and «Повторить» find it.
Jobs that are done keep the name of the task that ran them."""

from django.db import migrations

OLD = "onboarding.services.periodic.send_weekly_digest"
NEW = "portal.services.send_weekly_digest"
NOT_DONE = ("queued", "running", "failed")


def renamed(old: str, new: str):
    def rename(apps, schema_editor) -> None:
        Job = apps.get_model("cdt_portal", "Job")
        Job.objects.filter(task_name=old, status__in=NOT_DONE).update(task_name=new)

    return rename


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0010_digests_to_the_outbox"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [migrations.RunPython(renamed(OLD, NEW), renamed(NEW, OLD))]
