import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0013_invitation_code"),
        ("cdt_portal", "0006_audit_no_truncate"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Delivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("email", models.EmailField(blank=True, max_length=254)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("invitation", "приглашение"),
                            ("invitation_code", "код подтверждения приглашения"),
                            ("reminder", "напоминание ознакомиться с документом"),
                            ("parent_reminder", "напоминание родителю"),
                            ("registration", "заявка на регистрацию в «Сферуме»"),
                            ("digest", "еженедельная сводка"),
                            ("department_message", "сообщение управления образования"),
                        ],
                        max_length=40,
                    ),
                ),
                ("batch", models.CharField(max_length=120)),
                ("data", models.JSONField(blank=True, default=dict)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "ждёт отправки"),
                            ("sending", "отправляется"),
                            ("sent", "отправлено"),
                            ("failed", "не отправлено"),
                            ("unconfirmed", "отправка не подтверждена"),
                            ("no_email", "нет e-mail"),
                            ("withdrawn", "не понадобилось"),
                        ],
                        default="pending",
                        max_length=20,
                    ),
                ),
                ("reason", models.TextField(blank=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("organisation", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="accounts.organisation")),
                ("person", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "письмо",
                "verbose_name_plural": "письма",
                "ordering": ["pk"],
                "indexes": [
                    models.Index(fields=["batch", "status"], name="delivery_batch_status"),
                    models.Index(fields=["person", "-id"], name="delivery_person_newest"),
                ],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("person__isnull", False)), fields=("batch", "person"), name="delivery_once_per_batch_person"),
                    models.UniqueConstraint(condition=models.Q(("person__isnull", True)), fields=("batch", "email"), name="delivery_once_per_batch_address"),
                ],
            },
        ),
    ]
