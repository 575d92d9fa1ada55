from django.apps import AppConfig


class SigninConfig(AppConfig):
    """Signing in (password, then a second factor where required), signing out, the
    password pages and throttling. Sits above accounts, whose people and roles it checks."""

    name = "signin"
    verbose_name = "Вход в портал"

    def ready(self) -> None:
        # Imported here: they import models, which Django loads only after every app config.
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in

        from cdt_portal.audit import register_actions, register_data

        from . import receivers

        user_locked_out.connect(receivers.on_locked_out, dispatch_uid="signin.locked_out")
        user_logged_in.connect(receivers.on_logged_in, dispatch_uid="signin.logged_in")
        register_actions(
            {
                "signin.second_factor.enabled": "Вход с кодом из приложения включён",
                "signin.second_factor.disabled": "Вход с кодом из приложения отключён",
                "signin.recovery_code.used": "Использован код восстановления",
                "signin.recovery_codes.renewed": "Коды восстановления заменены",
                "signin.locked_out": "Вход заблокирован после неудачных попыток",
                "signin.password_reset": "Пароль выбран по ссылке из письма",
                "signin.password_changed": "Пароль изменён",
            }
        )
        register_data(
            {
                "failures": "неудачных попыток",
                "until": "до",
                "codes_left": "осталось кодов",
                "recovery_codes": "кодов восстановления",
                "device": "устройство",
            }
        )
