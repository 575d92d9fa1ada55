from django.apps import AppConfig


class FamiliesConfig(AppConfig):
    name = "families"
    verbose_name = "Семьи: уведомления и согласия"

    def ready(self) -> None:
        # Imported here, not at the top: the audit module imports models, which Django loads
        # only after every app's config.
        from cdt_portal.audit import register_actions

        from .actions import LABELS

        register_actions(LABELS)
