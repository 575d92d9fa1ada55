"""The audit actions the families' side writes, and what the audit page calls them (registered
in `FamiliesConfig.ready`). The names are stored in the audit log: they stay as they are."""

from __future__ import annotations

NOTICE_PUBLISHED = "notice.published"
NOTICE_CONFIRMED = "notice.confirmed"
STUDENT_NOTICE_PUBLISHED = "student_notice.published"
STUDENT_NOTICE_CONFIRMED = "student_notice.confirmed"
CONSENT_GIVEN = "consent.given"
CONSENT_WITHDRAWN = "consent.withdrawn"
CONSENT_PAPER_GIVEN = "consent.paper.given"
CONSENT_PAPER_WITHDRAWN = "consent.paper.withdrawn"
STUDENT_CONSENT_GIVEN = "consent.student.given"
STUDENT_CONSENT_WITHDRAWN = "consent.student.withdrawn"
CONSENT_DATA_ERASED = "consent.data.erased"
CONSENT_ENDED = "consent.ended"
CONSENT_DATA_TO_ERASE = "consent.data.to_erase"
FAMILY_CHOICE_ENDED = "family.choice.ended"
FAMILY_DECLINED = "family.declined"
FAMILY_RETURNED = "family.returned"
PARENT_DEADLINE_SET = "parent_deadline.set"
PARENT_REMINDED = "parent.reminded"

LABELS: dict[str, str] = {
    NOTICE_PUBLISHED: "Опубликовано уведомление родителей",
    NOTICE_CONFIRMED: "Родитель ознакомлен с уведомлением",
    STUDENT_NOTICE_PUBLISHED: "Опубликовано уведомление обучающихся",
    STUDENT_NOTICE_CONFIRMED: "Обучающийся ознакомлен с уведомлением",
    CONSENT_GIVEN: "Дано согласие на обработку персональных данных",
    CONSENT_WITHDRAWN: "Отозвано согласие на обработку персональных данных",
    CONSENT_PAPER_GIVEN: "Записано бумажное согласие на обработку персональных данных",
    CONSENT_PAPER_WITHDRAWN: "Записан бумажный отзыв согласия на обработку персональных данных",
    STUDENT_CONSENT_GIVEN: "Обучающийся дал собственное согласие на обработку персональных данных",
    STUDENT_CONSENT_WITHDRAWN: "Обучающийся отозвал собственное согласие",
    CONSENT_DATA_ERASED: "Сведения согласия удалены по истечении срока хранения",
    CONSENT_ENDED: "Согласие прекращено: связь с родителем удалена",
    CONSENT_DATA_TO_ERASE: (
        "Сведения из прежних согласий бывшего родителя будут удалены по истечении срока хранения"
    ),
    FAMILY_CHOICE_ENDED: "Выбор семьи снят: связь с родителем удалена",
    FAMILY_DECLINED: "Семья не использует «Сферум»: выбран другой способ связи",
    FAMILY_RETURNED: "Семья снова использует «Сферум»",
    PARENT_DEADLINE_SET: "Установлен срок для родителей",
    PARENT_REMINDED: "Напоминание родителю",
}
