from django.apps import AppConfig


class FamiliesConfig(AppConfig):
    name = "families"
    verbose_name = "Семьи: уведомления и согласия"

    def ready(self) -> None:
        # Imported here, not at the top: the audit module imports models, which Django loads
        # only after every app's config.
        from cdt_portal.audit import register_actions, register_data

        from . import checks  # noqa: F401  (registers the system checks)
        from .actions import LABELS
        from .models import ConsentMethod

        register_actions(LABELS)
        register_data(
            {
                "own": "своё согласие",
                "since": "с",
                "adult": "совершеннолетний",
                "channel": "канал связи",
                # A consent's entry names how and when it was signed (ConsentDetails' fields).
                "consentrecord.method": "как дано",
                "consentrecord.signed_on": "дата подписи",
            },
            {"consentrecord.method": dict(ConsentMethod.choices)},
        )
