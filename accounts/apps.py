from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Организации и люди"

    def ready(self) -> None:
        # Imported here: the audit module imports models, which Django loads only after
        # every app's config.
        from django.contrib.auth.signals import user_logged_in

        from cdt_portal.audit import register_actions, register_data
        from cdt_portal.jobs import register_job_viewer

        from .middleware import start_session_clocks
        from .models import Role
        from .roles import MANAGER_ROLES

        # The director and the administrators follow every job of their organisation (the
        # sheet the other one started, the jobs page); others only their own.
        register_job_viewer(
            lambda user, job: (
                job.organisation_id is not None
                and job.organisation_id == getattr(user, "organisation_id", None)
                and user.has_role(*MANAGER_ROLES)
            )
        )

        # Session bookkeeping, not business logic: the sign-in starts the session's clocks.
        user_logged_in.connect(start_session_clocks, dispatch_uid="accounts.session_clocks")

        register_actions(
            {
                "organisation.updated": "Сведения об организации изменены",
                "admin.added": "Добавлено в администрировании платформы",
                "admin.changed": "Изменено в администрировании платформы",
                "profile.updated": "Контактные данные изменены",
                "person.created": "Человек добавлен",
                "person.updated": "Сведения о человеке изменены",
                "person.roles.changed": "Роли изменены",
                "person.roles.refused": "Изменение ролей отклонено",
                "person.activation.refused": "Отключение или включение отклонено",
                "person.login_unlocked": "Вход разблокирован",
                "person.login_unlock.refused": "Разблокировка входа отклонена",
                "person.activated": "Учётная запись включена",
                "person.deactivated": "Учётная запись отключена",
                "guardianship.linked": "Родитель привязан",
                "guardianship.unlinked": "Родитель отвязан",
                "group.created": "Объединение создано",
                "group.updated": "Объединение изменено",
                "group.link_changed": "Ссылка на чат объединения изменена",
                "invitation.issued": "Приглашение выдано",
                "invitation.accepted": "Пароль выбран по приглашению",
                "invitation.refused": "Приглашение отклонено: роль вне полномочий",
                "invitation.code_sent": "Код подтверждения приглашения отправлен",
                "person.contacts.refused": "Изменение контактов отклонено",
                "invitation.mailing.started": "Начата рассылка приглашений по e-mail",
                "invitation.emailed": "Приглашение отправлено по e-mail",
                "invitation.email_failed": "Приглашение по e-mail не отправлено",
                "invitation.email_unconfirmed": "Отправка приглашения не подтверждена",
                "invitation.email_withdrawn": "Приглашение по e-mail не понадобилось: выдано новое",
                "import.checked": "Список проверен",
                "import.expired": "Непринятый список удалён через сутки",
                "import.uploaded": "Список загружен на проверку",
                "import.applied": "Список добавлен",
                "import.cancelled": "Загрузка списка отменена",
            }
        )
        roles = dict(Role.choices)
        register_data(
            {
                "roles": "роли",
                "role": "роль",
                "refused": "отклонено",
                "active": "включить",
                "attempts_cleared": "сброшено неудачных попыток",
                "invitation": "приглашение",
                "mailing": "рассылка",
                "emailed_to": "отправлено на",
                "people": "людей",
                "retry": "повтор рассылки",
                "errors": "строк с ошибками",
                "matches": "уже есть в портале",
                "to_add": "будет добавлено",
                "error": "ошибка",
            },
            {"roles": roles, "role": roles, "refused": roles, "audience_roles": roles},
        )
