from django.apps import AppConfig


class SigninConfig(AppConfig):
    """Signing in (password, then a second factor where required), signing out and the
    password pages. Sits above accounts, whose people and roles it checks."""

    name = "signin"
    verbose_name = "Вход в портал"
