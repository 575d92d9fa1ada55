from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The thin top layer: what spans the apps below (role home pages, navigation, the audit
    page, the weekly digest, the demo). Nothing below imports from here."""

    name = "portal"
    verbose_name = "Портал: страницы ролей"

    def ready(self) -> None:
        # Imported here, not at the top: the audit module imports models, which Django loads
        # only after every app's config.
        from cdt_portal.audit import register_actions, register_data

        from .actions import LABELS

        register_actions(LABELS)
        register_data({"week_start": "неделя с"})
