from django.apps import AppConfig

# What the audit page calls each action the services of this app write.
ACTION_LABELS = {
    "document.created": "Документ создан",
    "version.created": "Редакция создана",
    "version.edited": "Черновик редакции изменён",
    "version.approval_started": "Начато утверждение редакции",
    "version.approval_failed": "Утверждение редакции не удалось",
    "version.approved": "Редакция утверждена",
    "version.superseded": "Редакция заменена новой",
    "version.reminded": "Отправлены напоминания об ознакомлении",
    "version.deadline_set": "Изменён срок ознакомления",
    "acknowledgement.confirmed": "Ознакомление подтверждено в портале",
    "acknowledgement.paper_recorded": "Ознакомление записано по бумажному листу",
    "agreement.refused": "Отказ от простой электронной подписи: только на бумаге",
}


class AcknowledgementsConfig(AppConfig):
    name = "acknowledgements"
    verbose_name = "Ознакомление с документами"

    def ready(self) -> None:
        # Imported here: the audit module imports models, which cannot be imported before the
        # app registry is ready.
        from cdt_portal.audit import register_actions

        register_actions(ACTION_LABELS)
