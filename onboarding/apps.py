from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Подключение к «Сферуму»"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # after every app's config.
        from cdt_portal.audit import register_actions
        from cdt_portal.numbers import register_counter

        from .actions import LABELS
        from .selectors import DASHBOARD, DASHBOARD_COUNTER

        register_actions(LABELS)
        register_counter(DASHBOARD, DASHBOARD_COUNTER)
