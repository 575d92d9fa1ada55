from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Подключение к «Сферуму»"

    def ready(self) -> None:
        # Imported here, not at the top: both modules import models, which Django loads only
        # after every app's config.
        from cdt_portal.audit import register_actions

        from .actions import LABELS

        register_actions(LABELS)
