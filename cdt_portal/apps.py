from django.apps import AppConfig


class CdtPortalConfig(AppConfig):
    name = "cdt_portal"
    verbose_name = "Портал по внедрению «Сферума»"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
