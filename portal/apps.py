from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The thin top layer: what spans the apps below (role home pages, navigation, the audit
    page, the demo). Nothing below imports from here."""

    name = "portal"
    verbose_name = "Портал: страницы ролей"
