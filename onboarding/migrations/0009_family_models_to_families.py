"""The families' models now belong to the `families` app (its 0001 takes them over): they leave
onboarding's state. Nothing happens in the database: their tables keep the names onboarding
gave them, and `families` names those tables in each model's `db_table`."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("onboarding", "0008_parent_deadlines_digest"),
        # Taken over there first, so the models are in the state of one app or the other.
        ("families", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            # A model that points at another leaves before the one it points at.
            state_operations=[
                migrations.DeleteModel(name="ConsentDetails"),
                migrations.DeleteModel(name="ConsentRecord"),
                migrations.DeleteModel(name="ConsentText"),
                migrations.DeleteModel(name="NoticeAcknowledgement"),
                migrations.DeleteModel(name="ParentNotice"),
                migrations.DeleteModel(name="StudentNoticeAcknowledgement"),
                migrations.DeleteModel(name="StudentNotice"),
                migrations.DeleteModel(name="FamilyChoice"),
                migrations.DeleteModel(name="ParentDeadline"),
                migrations.DeleteModel(name="ParentReminder"),
            ],
        ),
    ]
