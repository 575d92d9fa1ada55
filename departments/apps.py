from django.apps import AppConfig


class DepartmentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "departments"
    verbose_name = "Управления образования"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # after every app's config.
        from cdt_portal.audit import register_actions, register_data
        from cdt_portal.jobs import register_job_viewer
        from cdt_portal.numbers import register_counter

        from .selectors import INSTITUTION_ROW, INSTITUTION_ROW_COUNTER, may_follow_letters_job

        register_counter(INSTITUTION_ROW, INSTITUTION_ROW_COUNTER)
        # Every specialist of the department follows its messages' copies by e-mail, not only
        # the one who sent the message (the message's page shows the job to each of them).
        register_job_viewer(may_follow_letters_job)

        register_actions(
            {
                "department.message.sent": "Управление образования отправило сообщение",
                "department.message.read": "Сообщение управления образования прочитано",
                "department.message.emailed": (
                    "Сообщение управления образования отправлено на e-mail"
                ),
                "department.message.email_failed": (
                    "Сообщение управления образования не отправлено на e-mail"
                ),
                "department.message.email_unconfirmed": (
                    "Отправка сообщения управления образования на e-mail не подтверждена"
                ),
                "department.message.email_withdrawn": (
                    "Сообщение управления образования не отправлено: адресат больше не "
                    "администратор"
                ),
            }
        )
        register_data({"institutions": "организации"})
