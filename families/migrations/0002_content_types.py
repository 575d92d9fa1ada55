"""The content types of the moved models go from "onboarding" to "families", in place.

Every audit entry names its object by content type (and id). The rows of `django_content_type`
are renamed, not replaced, so each entry written before the move keeps its content type id
and still names its object, now as a `families` model; the audit log itself is never
touched (PostgreSQL refuses any UPDATE of it). Permissions hang on the same rows and move
with them.

A content type under the new label exists already only when a `migrate` stopped between
families' 0001 and this migration (Django creates content types after each `migrate`). That
newcomer is deleted, with its permissions, before the old row takes its name; had an audit
entry been written about it in between, the delete would refuse (the log protects the
content types it names) and the migration would stop there, changing nothing.
"""

from django.db import migrations

MODELS = (
    "parentnotice",
    "noticeacknowledgement",
    "studentnotice",
    "studentnoticeacknowledgement",
    "consenttext",
    "consentrecord",
    "consentdetails",
    "familychoice",
    "parentdeadline",
    "parentreminder",
)


def _relabel(apps, schema_editor, old: str, new: str) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    types = ContentType.objects.using(schema_editor.connection.alias)
    for model in MODELS:
        moving = types.filter(app_label=old, model=model).first()
        if moving is None:
            continue  # a new database: Django creates the new app's types after `migrate`
        types.filter(app_label=new, model=model).delete()
        moving.app_label = new
        moving.save(update_fields=["app_label"])


def forwards(apps, schema_editor):
    _relabel(apps, schema_editor, "onboarding", "families")


def backwards(apps, schema_editor):
    _relabel(apps, schema_editor, "families", "onboarding")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("families", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
