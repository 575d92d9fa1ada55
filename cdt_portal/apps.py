from django.apps import AppConfig


class CdtPortalConfig(AppConfig):
    name = "cdt_portal"
    verbose_name = "Портал по внедрению «Сферума»"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        from . import checks  # noqa: F401  (registers the system checks)
        from .audit import register_actions, register_data
        from .models import Job

        # Every app's `tasks` (and, through them, its services, where the job tasks are
        # defined), in the web server as in the worker: the job registry must know every task
        # that a job on the jobs page or a lost job may be queued again with. By name, as the
        # admin autodiscovers, so the core imports no app above it.
        autodiscover_modules("tasks")

        register_actions(
            {
                "job.requeued": "Потерянная фоновая работа поставлена в очередь снова",
                "job.retried": "Фоновая работа запущена повторно",
                # Written by earlier versions, which queued jobs again per app.
                "job.resumed": "Прерванная фоновая работа запущена снова",
            }
        )
        register_data({}, {"job.was": dict(Job.Status.choices)})
