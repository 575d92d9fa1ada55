"""The parents' reminders move into the one outbox (`cdt_portal.Delivery`, kind
`parent_reminder`): each old row becomes a letter of its organisation's batch of that kind and
day (`selectors.parent_reminder_batch`), with its status and reason, the day in its data; then
the old model goes, and with it its table, which kept the name onboarding gave it
(`onboarding_parentreminder`, named in the model's state, so DeleteModel drops that table and,
going back, creates it again under that name before the letters are copied back).

The audit entries written about the old rows stay as they are (the log is never changed): they
keep naming the old content type and id, and their data names the parent, the kind and the
status.
"""

import datetime as dt

from django.db import migrations

# As `families.selectors.parent_reminder_batch` names them; written out here, since a migration
# must not change when the code does.
BATCH = "parent-reminders:{organisation}:{kind}:{day:%Y-%m-%d}"
KIND = "parent_reminder"
# An old status the outbox has too; the letter of a reminder without an e-mail has none.
NO_EMAIL = "no_email"
# Going back: the old model knew only sent, failed and no_email. Any other letter (not
# confirmed, not finished, withdrawn as not needed) becomes «не отправлено» with what it was
# said first in the reason; like every old row it counts as a reminder, so the old code never
# sends it either.
OLD_STATUSES = {"sent", "failed", NO_EMAIL}
BACK_REASONS = {
    "unconfirmed": "отправка не подтверждена: письмо могло уйти",
    "sending": "отправка не подтверждена: письмо могло уйти",
    "pending": "не отправлено: работа не закончилась",
    "withdrawn": "не понадобилось",
}


def _old_reason(letter) -> str:
    if letter.status in OLD_STATUSES:
        return letter.reason
    said = BACK_REASONS.get(letter.status, letter.status)
    return f"{said} ({letter.reason})" if letter.reason else said


def to_the_outbox(apps, schema_editor):
    Old = apps.get_model("families", "ParentReminder")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    letters = [
        Delivery(
            organisation_id=old.organisation_id,
            person_id=old.parent_id,
            email="" if old.status == NO_EMAIL else old.parent.email,
            kind=KIND,
            batch=BATCH.format(organisation=old.organisation_id, kind=old.kind, day=old.on_date),
            data={"kind": old.kind, "on_date": old.on_date.isoformat()},
            status=old.status,
            reason=old.reason,
            # A letter sent or refused was handed to a server at least once.
            attempts=0 if old.status == NO_EMAIL else 1,
            created_at=old.at,
            updated_at=old.at,
        )
        # Oldest first, so the letters' ids keep the order the reminders were made in.
        for old in Old.objects.select_related("parent").order_by("at", "pk").iterator()
    ]
    Delivery.objects.bulk_create(letters, batch_size=1000)


def back(apps, schema_editor):
    Old = apps.get_model("families", "ParentReminder")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    letters = Delivery.objects.filter(kind=KIND)
    Old.objects.bulk_create(
        [
            Old(
                organisation_id=letter.organisation_id,
                parent_id=letter.person_id,
                kind=letter.data["kind"],
                on_date=dt.date.fromisoformat(letter.data["on_date"]),
                at=letter.created_at,
                status=letter.status if letter.status in OLD_STATUSES else "failed",
                reason=_old_reason(letter),
            )
            for letter in letters.order_by("pk").iterator()
        ],
        batch_size=1000,
    )
    letters.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("families", "0002_content_types"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [
        migrations.RunPython(to_the_outbox, back),
        migrations.DeleteModel(name="ParentReminder"),
    ]
