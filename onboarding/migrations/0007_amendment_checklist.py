import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_import_batch_applying"),
        ("onboarding", "0006_consent_details"),
    ]

    operations = [
        migrations.CreateModel(
            name="AmendmentItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "title",
                    models.CharField(blank=True, max_length=300, verbose_name="локальный акт"),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("todo", "нужно внести изменения"),
                            ("amended", "изменения внесены"),
                        ],
                        default="todo",
                        max_length=10,
                        verbose_name="состояние",
                    ),
                ),
                (
                    "amended_on",
                    models.DateField(blank=True, null=True, verbose_name="дата изменения"),
                ),
                ("note", models.TextField(blank=True, verbose_name="примечание")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "group",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="programme_amendment",
                        to="accounts.studygroup",
                        verbose_name="объединение",
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="amendment_items",
                        to="accounts.organisation",
                    ),
                ),
            ],
            options={
                "verbose_name": "документ для изменения",
                "verbose_name_plural": "документы для изменения",
                "ordering": ["created_at", "pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                models.Q(("group__isnull", False), ("title", "")),
                                ("group__isnull", True),
                                _connector="OR",
                            ),
                            models.Q(("group__isnull", True), ("title", ""), _negated=True),
                        ),
                        name="amendment_item_is_programme_or_act",
                    )
                ],
            },
        ),
    ]
