from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_import_batch"),
    ]

    operations = [
        # How many people a list added is recorded in its "import.applied" audit entry.
        migrations.RemoveField(
            model_name="importbatch",
            name="added",
        ),
    ]
