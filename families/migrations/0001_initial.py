"""The families' models, taken over from `onboarding` in Django's state only.

Their tables were created by onboarding's migrations (0002, 0006, 0008) and keep their names
(each model's `db_table`), so nothing happens in the database here: the rows stay where they
are. Onboarding's 0009 then drops the models from its own state, and 0002 here moves their
content types, which the audit log's entries point at, from "onboarding" to "families".
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        # The tables this state describes are created there.
        ("onboarding", "0008_parent_deadlines_digest"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="ConsentText",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("text", models.TextField(verbose_name="текст согласия")),
                        ("text_sha256", models.CharField(max_length=64)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.organisation",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "onboarding_consenttext",
                        "ordering": ["-created_at", "-pk"],
                    },
                ),
                migrations.CreateModel(
                    name="ConsentRecord",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[("given", "дано"), ("withdrawn", "отозвано")],
                                max_length=10,
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        ("ip_address", models.GenericIPAddressField(blank=True, null=True)),
                        (
                            "parent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="consents_given",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "student",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="consents",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "consent_text",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="records",
                                to="families.consenttext",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "onboarding_consentrecord",
                        "ordering": ["at", "pk"],
                    },
                ),
                migrations.CreateModel(
                    name="ParentNotice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("text", models.TextField(verbose_name="текст уведомления")),
                        (
                            "published_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="опубликовано"),
                        ),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.organisation",
                            ),
                        ),
                        (
                            "published_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "уведомление родителей",
                        "verbose_name_plural": "уведомления родителей",
                        "db_table": "onboarding_parentnotice",
                        "ordering": ["-published_at", "-pk"],
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="StudentNotice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("text", models.TextField(verbose_name="текст уведомления")),
                        (
                            "published_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="опубликовано"),
                        ),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.organisation",
                            ),
                        ),
                        (
                            "published_by",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "уведомление обучающихся",
                        "verbose_name_plural": "уведомления обучающихся",
                        "db_table": "onboarding_studentnotice",
                        "ordering": ["-published_at", "-pk"],
                        "abstract": False,
                    },
                ),
                migrations.CreateModel(
                    name="ConsentDetails",
                    fields=[
                        (
                            "record",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                primary_key=True,
                                related_name="details",
                                serialize=False,
                                to="families.consentrecord",
                            ),
                        ),
                        (
                            "method",
                            models.CharField(
                                choices=[("online", "в портале"), ("paper", "на бумаге")],
                                default="online",
                                max_length=10,
                                verbose_name="как оформлено",
                            ),
                        ),
                        ("signed_on", models.DateField(verbose_name="дата документа")),
                        (
                            "parent_full_name",
                            models.CharField(
                                blank=True, max_length=300, verbose_name="Ф.И.О. родителя"
                            ),
                        ),
                        (
                            "parent_address",
                            models.CharField(
                                blank=True, max_length=500, verbose_name="адрес родителя"
                            ),
                        ),
                        (
                            "id_document",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("passport", "паспорт гражданина Российской Федерации"),
                                    ("foreign_passport", "паспорт иностранного гражданина"),
                                    ("other", "иной документ, удостоверяющий личность"),
                                ],
                                max_length=20,
                                verbose_name="документ, удостоверяющий личность",
                            ),
                        ),
                        (
                            "id_series",
                            models.CharField(blank=True, max_length=20, verbose_name="серия"),
                        ),
                        (
                            "id_number",
                            models.CharField(blank=True, max_length=30, verbose_name="номер"),
                        ),
                        (
                            "id_issued_on",
                            models.DateField(blank=True, null=True, verbose_name="дата выдачи"),
                        ),
                        (
                            "id_issued_by",
                            models.CharField(blank=True, max_length=500, verbose_name="кем выдан"),
                        ),
                        (
                            "child_full_name",
                            models.CharField(
                                blank=True, max_length=300, verbose_name="Ф.И.О. ребёнка"
                            ),
                        ),
                        (
                            "child_birth_date",
                            models.DateField(
                                blank=True, null=True, verbose_name="дата рождения ребёнка"
                            ),
                        ),
                        (
                            "child_address",
                            models.CharField(
                                blank=True, max_length=500, verbose_name="адрес ребёнка"
                            ),
                        ),
                        (
                            "authority_document",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("birth_certificate", "свидетельство о рождении"),
                                    ("guardianship", "акт органа опеки и попечительства"),
                                    ("other", "иной документ, подтверждающий полномочия"),
                                ],
                                max_length=20,
                                verbose_name="документ, подтверждающий полномочия",
                            ),
                        ),
                        (
                            "authority_series",
                            models.CharField(blank=True, max_length=20, verbose_name="серия"),
                        ),
                        (
                            "authority_number",
                            models.CharField(blank=True, max_length=30, verbose_name="номер"),
                        ),
                        (
                            "authority_issued_on",
                            models.DateField(blank=True, null=True, verbose_name="дата выдачи"),
                        ),
                        (
                            "authority_issued_by",
                            models.CharField(blank=True, max_length=500, verbose_name="кем выдан"),
                        ),
                        (
                            "recorded_by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "сведения согласия",
                        "verbose_name_plural": "сведения согласий",
                        "db_table": "onboarding_consentdetails",
                    },
                ),
                migrations.CreateModel(
                    name="FamilyChoice",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "declined",
                            models.BooleanField(
                                default=True, verbose_name="не используем «Сферум»"
                            ),
                        ),
                        (
                            "channel",
                            models.CharField(
                                blank=True,
                                choices=[
                                    ("phone", "по телефону"),
                                    ("email", "по электронной почте"),
                                    ("paper", "на бумаге (через ребёнка или лично)"),
                                ],
                                max_length=10,
                                verbose_name="другой способ связи",
                            ),
                        ),
                        (
                            "contact",
                            models.CharField(
                                blank=True,
                                max_length=300,
                                verbose_name="телефон или e-mail для связи",
                            ),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "parent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "student",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="family_choices",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "выбор семьи",
                        "verbose_name_plural": "выбор семей",
                        "db_table": "onboarding_familychoice",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("parent", "student"), name="family_choice_once"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ParentDeadline",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("notice", "уведомление"), ("consent", "согласие")],
                                max_length=10,
                                verbose_name="что сделать",
                            ),
                        ),
                        ("due_date", models.DateField(verbose_name="срок")),
                        ("reminders_from", models.DateField(verbose_name="напоминания с")),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.organisation",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "срок для родителей",
                        "verbose_name_plural": "сроки для родителей",
                        "db_table": "onboarding_parentdeadline",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("organisation", "kind"), name="parent_deadline_once"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="NoticeAcknowledgement",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        (
                            "parent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="notice_acknowledgements",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="acknowledgements",
                                to="families.parentnotice",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "onboarding_noticeacknowledgement",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("notice", "parent"), name="notice_ack_once"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ParentReminder",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("notice", "уведомление"), ("consent", "согласие")],
                                max_length=10,
                            ),
                        ),
                        ("at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("on_date", models.DateField()),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("sent", "отправлено"),
                                    ("failed", "не отправлено"),
                                    ("no_email", "нет e-mail: напомнить лично"),
                                ],
                                max_length=10,
                            ),
                        ),
                        ("reason", models.TextField(blank=True)),
                        (
                            "organisation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="accounts.organisation",
                            ),
                        ),
                        (
                            "parent",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "onboarding_parentreminder",
                        "ordering": ["-at", "-pk"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("parent", "kind", "on_date"),
                                name="parent_reminder_once_a_day",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="StudentNoticeAcknowledgement",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("at", models.DateTimeField(auto_now_add=True)),
                        (
                            "notice",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="acknowledgements",
                                to="families.studentnotice",
                            ),
                        ),
                        (
                            "student",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "onboarding_studentnoticeacknowledgement",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("notice", "student"), name="student_notice_ack_once"
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
