"""Issue 21: Sferum's учебный профиль moved into MAX from 25.08.2025, so a new organisation
starts in the MAX state. Only the column's default changes: existing organisations keep the
state they chose (no data migration)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0015_job_tasks_where_their_work_is'),
    ]

    operations = [
        migrations.AlterField(
            model_name='organisation',
            name='messenger',
            field=models.CharField(choices=[('vk', 'VK Мессенджер'), ('max', 'MAX'), ('transition', 'переход: VK Мессенджер и MAX')], default='max', max_length=10, verbose_name='мессенджер учебного профиля «Сферум»'),
        ),
    ]
