"""The accounts' job tasks moved from `accounts.tasks` into the services modules where their
work is: a job queued or running at the upgrade keeps the name of the task to run it with."""

from django.db import migrations

RENAMED = {
    "accounts.tasks.send_invitations": "accounts.services.invitations.send_invitations",
    "accounts.tasks.send_invitation_code": "accounts.services.invitations.send_invitation_code",
    "accounts.tasks.check_import": "accounts.services.imports.check_import",
    "accounts.tasks.apply_import": "accounts.services.imports.apply_import",
}


def rename(apps, schema_editor, names=RENAMED):
    Job = apps.get_model("cdt_portal", "Job")
    for old, new in names.items():
        Job.objects.filter(task_name=old).update(task_name=new)


def back(apps, schema_editor):
    rename(apps, schema_editor, {new: old for old, new in RENAMED.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0014_invitation_letters_to_the_outbox"),
        ("cdt_portal", "0007_outbox"),
    ]

    operations = [migrations.RunPython(rename, back)]
