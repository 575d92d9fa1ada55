"""The reminder letters move into the one outbox (`cdt_portal.Delivery`): each old row becomes a
letter of its run's batch (`reminders:<run>`), with its person, status, reason and attempts;
then the old table goes.

The old row kept no address: a letter gets the person's e-mail as it is now (the address it
most likely went to), and none when it was recorded without one. Its times are the old row's
last change (`at`); its organisation is the run's version's document's."""

from django.db import migrations

KIND = "reminder"
PREFIX = "reminders:"


def to_the_outbox(apps, schema_editor):
    Old = apps.get_model("acknowledgements", "ReminderDelivery")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    old_rows = Old.objects.select_related("run__version__document", "person").order_by("pk")
    letters = [
        Delivery(
            organisation_id=old.run.version.document.organisation_id,
            person_id=old.person_id,
            email="" if old.status == "no_email" else old.person.email,
            kind=KIND,
            batch=f"{PREFIX}{old.run_id}",
            status=old.status,  # the same five values, the outbox's names
            reason=old.reason,
            attempts=old.attempts,
            created_at=old.at,
            updated_at=old.at,
        )
        for old in old_rows.iterator(chunk_size=2000)
    ]
    Delivery.objects.bulk_create(letters, batch_size=1000)


def back(apps, schema_editor):
    Old = apps.get_model("acknowledgements", "ReminderDelivery")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    letters = Delivery.objects.filter(kind=KIND, batch__startswith=PREFIX)
    # A letter still `pending` was never tried: the old table had no such row (a run resumed
    # under the old code records whoever is still to remind).
    rows = [
        Old(
            run_id=int(letter.batch.removeprefix(PREFIX)),
            person_id=letter.person_id,
            status=letter.status,
            reason=letter.reason,
            attempts=letter.attempts,
            at=letter.updated_at,
        )
        for letter in letters.exclude(status="pending").order_by("pk").iterator(chunk_size=2000)
    ]
    times = [row.at for row in rows]
    # `at` is auto_now: the insert stamps every row with this moment; each gets its own back
    # (an update does not stamp). SQLite and PostgreSQL return the new keys from the insert.
    Old.objects.bulk_create(rows, batch_size=1000)
    for row, at in zip(rows, times, strict=True):
        row.at = at
    Old.objects.bulk_update(rows, ["at"], batch_size=1000)
    letters.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("acknowledgements", "0006_job_task_names"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [
        migrations.RunPython(to_the_outbox, back),
        migrations.DeleteModel(name="ReminderDelivery"),
    ]
