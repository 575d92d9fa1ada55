"""The audit actions the rollout writes, and what the audit page calls them (registered in
`OnboardingConfig.ready`). Services write them; selectors read a history by them. The
families' actions (notices, consents, choices, deadlines) are `families.actions`; the weekly
digest's, `portal.actions`."""

from __future__ import annotations

from .models import RequestStatus


def request_action(status: str) -> str:
    """The action of a request reaching `status`: "request.sent" and so on."""
    return f"request.{status}"


REQUEST_DETAILS_CHANGED = "request.details.changed"
SCAN_REFUSED = "request.scan.refused"
SFERUM_STATUS_CHANGED = "sferum_status.changed"
SEND_QUEUED = "request.send.queued"
SEND_ATTEMPT = "request.send.attempt"
SEND_REFUSED = "request.send.refused"

LABELS: dict[str, str] = {
    request_action(RequestStatus.DRAFT): "Заявка на регистрацию начата",
    request_action(RequestStatus.AWAITING_SIGNATURE): "Письмо о назначении сформировано",
    request_action(RequestStatus.READY): "Заявка готова к отправке",
    request_action(RequestStatus.SENT): "Заявка отправлена",
    request_action(RequestStatus.UNCONFIRMED): (
        "Отправка не подтверждена: проверьте папку «Отправленные»"
    ),
    request_action(RequestStatus.RETURNED): "Заявка возвращена на доработку",
    request_action(RequestStatus.REGISTERED): "Организация зарегистрирована в «Сферуме»",
    request_action(RequestStatus.CANCELLED): "Заявка отменена",
    REQUEST_DETAILS_CHANGED: "Изменены данные администратора в заявке",
    SCAN_REFUSED: "Скан подписанного письма не принят",
    SFERUM_STATUS_CHANGED: "Изменён статус педагога в «Сферуме»",
    SEND_QUEUED: "Отправка заявки поставлена в очередь",
    SEND_ATTEMPT: "Заявка передаётся почтовому серверу",
    SEND_REFUSED: "Почтовый сервер не принял заявку",
}

# Issue 12, §5.1: the checklist of local acts and programmes to amend.
AMENDMENT_UPDATED = "amendment.updated"
AMENDMENT_ACT_ADDED = "amendment.act.added"
AMENDMENT_ACT_REMOVED = "amendment.act.removed"

LABELS.update(
    {
        AMENDMENT_UPDATED: "Изменено состояние документа в списке изменений (п. 5.1)",
        AMENDMENT_ACT_ADDED: "Локальный акт добавлен в список изменений (п. 5.1)",
        AMENDMENT_ACT_REMOVED: "Локальный акт убран из списка изменений (п. 5.1)",
    }
)
