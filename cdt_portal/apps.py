from django.apps import AppConfig


class CdtPortalConfig(AppConfig):
    name = "cdt_portal"
    verbose_name = "Портал по внедрению «Сферума»"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .audit import register_actions

        register_actions(
            {
                "job.requeued": "Потерянная фоновая работа поставлена в очередь снова",
                "job.retried": "Фоновая работа запущена повторно",
                # Written by earlier versions, which queued jobs again per app.
                "job.resumed": "Прерванная фоновая работа запущена снова",
            }
        )
