"""The audit actions the rollout writes, and what the audit page calls them (registered in
`OnboardingConfig.ready`). Services write them; selectors read a history by them."""

from __future__ import annotations

from .models import RequestStatus


def request_action(status: str) -> str:
    """The action of a request reaching `status`: "request.sent" and so on."""
    return f"request.{status}"


REQUEST_DETAILS_CHANGED = "request.details.changed"
SCAN_REFUSED = "request.scan.refused"
SFERUM_STATUS_CHANGED = "sferum_status.changed"
NOTICE_PUBLISHED = "notice.published"
NOTICE_CONFIRMED = "notice.confirmed"
CONSENT_GIVEN = "consent.given"
CONSENT_WITHDRAWN = "consent.withdrawn"
SEND_QUEUED = "request.send.queued"
SEND_ATTEMPT = "request.send.attempt"
SEND_REFUSED = "request.send.refused"
# Entries about the sending job, not about the request's state: a send job's key leaves them out.
SEND_JOB_ACTIONS = (SEND_QUEUED, SEND_ATTEMPT, SEND_REFUSED)

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
    NOTICE_PUBLISHED: "Опубликовано уведомление родителей",
    NOTICE_CONFIRMED: "Родитель ознакомлен с уведомлением",
    CONSENT_GIVEN: "Дано согласие на обработку персональных данных",
    CONSENT_WITHDRAWN: "Отозвано согласие на обработку персональных данных",
    SEND_QUEUED: "Отправка заявки поставлена в очередь",
    SEND_ATTEMPT: "Заявка передаётся почтовому серверу",
    SEND_REFUSED: "Почтовый сервер не принял заявку",
}

# Issue 12, the family side.
STUDENT_NOTICE_PUBLISHED = "student_notice.published"
STUDENT_NOTICE_CONFIRMED = "student_notice.confirmed"
FAMILY_DECLINED = "family.declined"
FAMILY_RETURNED = "family.returned"
CONSENT_PAPER_GIVEN = "consent.paper.given"
CONSENT_PAPER_WITHDRAWN = "consent.paper.withdrawn"

LABELS.update(
    {
        STUDENT_NOTICE_PUBLISHED: "Опубликовано уведомление обучающихся",
        STUDENT_NOTICE_CONFIRMED: "Обучающийся ознакомлен с уведомлением",
        FAMILY_DECLINED: "Семья не использует «Сферум»: выбран другой способ связи",
        FAMILY_RETURNED: "Семья снова использует «Сферум»",
        CONSENT_PAPER_GIVEN: "Записано бумажное согласие на обработку персональных данных",
        CONSENT_PAPER_WITHDRAWN: "Записан бумажный отзыв согласия на обработку персональных данных",
    }
)

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

# Issue 12, deadlines for parents and the weekly digest.
PARENT_DEADLINE_SET = "parent_deadline.set"
PARENT_REMINDED = "parent.reminded"
DIGEST_SENT = "digest.sent"
DIGEST_FAILED = "digest.failed"

LABELS.update(
    {
        PARENT_DEADLINE_SET: "Установлен срок для родителей",
        PARENT_REMINDED: "Напоминание родителю",
        DIGEST_SENT: "Отправлена еженедельная сводка",
        DIGEST_FAILED: "Еженедельная сводка не отправлена",
    }
)
