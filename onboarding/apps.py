from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "onboarding"
    verbose_name = "Подключение к «Сферуму»"

    def ready(self) -> None:
        # Imported here, not at the top: these modules import models, which Django loads only
        # after every app's config.
        from cdt_portal.audit import register_actions, register_data
        from cdt_portal.numbers import register_counter

        from .actions import LABELS
        from .models import RequestStatus, SferumStatus
        from .selectors import DASHBOARD, DASHBOARD_COUNTER

        register_actions(LABELS)
        request_statuses, sferum_statuses = dict(RequestStatus.choices), dict(SferumStatus.choices)
        register_data(
            {
                "signed_in_with_letter_phone": "вход по телефону из письма",
                "action": "действие",
                "user.from": "статус был",
                "user.to": "статус стал",
            },
            {
                "registrationrequest.from": request_statuses,
                "registrationrequest.to": request_statuses,
                "user.from": sferum_statuses,
                "user.to": sferum_statuses,
            },
        )
        register_counter(DASHBOARD, DASHBOARD_COUNTER)
