"""The weekly digests move into the one outbox (`cdt_portal.Delivery`): an old digest row
(one an organisation and week, its readers only counted) becomes one letter of that week's
batch, addressed to nobody in particular, sent or failed with its reason; then the old table
goes. The registration e-mail's job task moved from `onboarding/tasks.py` to the module whose
work it runs, and huey names a task by its module: its jobs that may still run are renamed."""

from django.db import migrations

RENAMED = {
    "onboarding.tasks.send_registration_request": (
        "onboarding.services.request.send_registration_request"
    ),
}
NOT_DONE = ("queued", "running", "failed")


def _batch(organisation_id, week_start) -> str:
    return f"digest:{organisation_id}:{week_start:%Y-%m-%d}"


def to_the_outbox(apps, schema_editor):
    Old = apps.get_model("onboarding", "DigestSent")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    Delivery.objects.bulk_create(
        [
            Delivery(
                organisation_id=old.organisation_id,
                person_id=None,
                email="",
                kind="digest",
                batch=_batch(old.organisation_id, old.week_start),
                data={"recipients": old.recipients},
                status="failed" if old.reason else "sent",
                reason=old.reason,
                attempts=1,
                created_at=old.at,
                updated_at=old.at,
            )
            for old in Old.objects.order_by("pk").iterator()
        ],
        batch_size=1000,
    )
    Job = apps.get_model("cdt_portal", "Job")
    for old, new in RENAMED.items():
        Job.objects.filter(task_name=old, status__in=NOT_DONE).update(task_name=new)


def back(apps, schema_editor):
    import datetime as dt

    Old = apps.get_model("onboarding", "DigestSent")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    weeks = {}
    for letter in Delivery.objects.filter(kind="digest").order_by("pk").iterator():
        _, organisation_id, week = letter.batch.split(":")
        key = (int(organisation_id), dt.date.fromisoformat(week))
        weeks.setdefault(key, []).append(letter)
    for (organisation_id, week_start), letters in weeks.items():
        Old.objects.create(
            organisation_id=organisation_id,
            week_start=week_start,
            at=letters[0].created_at,
            recipients=sum(letter.data.get("recipients", 1) for letter in letters),
            reason="; ".join(letter.reason for letter in letters if letter.reason),
        )
    Delivery.objects.filter(kind="digest").delete()
    Job = apps.get_model("cdt_portal", "Job")
    for old, new in RENAMED.items():
        Job.objects.filter(task_name=new, status__in=NOT_DONE).update(task_name=old)


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0009_family_models_to_families"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [
        migrations.RunPython(to_the_outbox, back),
        migrations.DeleteModel(name="DigestSent"),
    ]
