"""The invitation letters move into the one outbox (`cdt_portal.Delivery`): each old row becomes
a letter of its mailing's batch, with its status, reason, attempts and the invitation it
carried; then the old table goes."""

from django.db import migrations


def to_the_outbox(apps, schema_editor):
    Old = apps.get_model("accounts", "InvitationDelivery")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    letters = [
        Delivery(
            organisation_id=old.mailing.organisation_id,
            person_id=old.person_id,
            email=old.email,
            kind="invitation",
            batch=f"invitations:{old.mailing_id}",
            data={"invitation": old.invitation_id} if old.invitation_id else {},
            status=old.status,
            reason=old.reason,
            attempts=old.attempts,
            created_at=old.mailing.created_at,
            updated_at=old.updated_at,
        )
        for old in Old.objects.select_related("mailing").order_by("pk").iterator()
    ]
    Delivery.objects.bulk_create(letters, batch_size=1000)


def back(apps, schema_editor):
    Old = apps.get_model("accounts", "InvitationDelivery")
    Delivery = apps.get_model("cdt_portal", "Delivery")
    for letter in Delivery.objects.filter(kind="invitation").iterator():
        Old.objects.create(
            mailing_id=int(letter.batch.split(":")[1]),
            person_id=letter.person_id,
            email=letter.email,
            invitation_id=letter.data.get("invitation"),
            status=letter.status,
            reason=letter.reason,
            attempts=letter.attempts,
            updated_at=letter.updated_at,
        )
    Delivery.objects.filter(kind="invitation").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_invitation_code"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [
        migrations.RunPython(to_the_outbox, back),
        migrations.DeleteModel(name="InvitationDelivery"),
    ]
