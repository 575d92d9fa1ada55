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
        from cdt_portal.audit import register_actions, register_data

        register_actions(ACTION_LABELS)
        register_data(
            {
                "agreement": "соглашение",
                "paper_only_ended": "отметка «только на бумаге» снята",
                "by_version": "заменена редакцией",
                "run": "рассылка",
                "sent": "отправлено",
                "failed": "не отправлено",
                "unconfirmed": "не подтверждено",
                "without_email": "без e-mail",
                "order_label": "приказ",
                "recorded_by": "записал(а)",
                "paper_date": "дата подписи на бумаге",
                # A new document's entry carries its first version's due date and file.
                "read_by": "срок ознакомления",
                "source_pdf": "файл PDF",
            }
        )
