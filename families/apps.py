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
        # The accounts' unlink ends what the link carried here (the layers run one way, so
        # accounts announces it rather than calling families).
        from accounts.signals import guardianship_ended

        from .services import end_what_the_guardianship_carried

        guardianship_ended.connect(
            end_what_the_guardianship_carried, dispatch_uid="families.guardianship_ended"
        )
        register_data(
            {
                "own": "своё согласие",
                "consents": "согласия",
                "since": "с",
                "adult": "совершеннолетний",
                "channel": "канал связи",
                # A consent's entry names how and when it was signed (ConsentDetails' fields).
                "consentrecord.method": "как дано",
                "consentrecord.signed_on": "дата подписи",
            },
            {"consentrecord.method": dict(ConsentMethod.choices)},
        )
