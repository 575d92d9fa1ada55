"""Every change on the families' side, by topic: the parents' and the students' notices and
their confirmations, the consent acts (online and on paper), a family's choice of another
channel, the parents' deadlines and the reminders they start. One function per change, in one
transaction, each writing one audit entry; a refusal is a `PortalError` and changes nothing.
The names below are the package's public surface."""

from .choices import (
    family_choice_set,
)
from .consents import (
    ADULT_CONSENTS_ALONE,
    BIRTH_DATE_DIFFERS,
    OLDER_THAN_IN_FORCE,
    STUDENT_TERMS_NOT_ACCEPTED,
    TERMS_NOT_ACCEPTED,
    WRONG_PASSWORD,
    consent_data_erase,
    consent_give,
    consent_record_paper,
    consent_withdraw,
    end_what_the_guardianship_carried,
    student_consent_give,
    student_consent_withdraw,
)
from .notices import (
    notice_confirm,
    notice_publish,
    student_notice_confirm,
    student_notice_publish,
)
from .reminders import (
    ALREADY_DONE,
    FAMILY_DECLINES,
    NO_LONGER_ACTIVE,
    parent_deadline_set,
    parent_reminders_run,
    parent_reminders_send,
    send_parent_reminders,
)

__all__ = [
    "ADULT_CONSENTS_ALONE",
    "ALREADY_DONE",
    "BIRTH_DATE_DIFFERS",
    "FAMILY_DECLINES",
    "NO_LONGER_ACTIVE",
    "OLDER_THAN_IN_FORCE",
    "STUDENT_TERMS_NOT_ACCEPTED",
    "TERMS_NOT_ACCEPTED",
    "WRONG_PASSWORD",
    "consent_data_erase",
    "consent_give",
    "consent_record_paper",
    "consent_withdraw",
    "end_what_the_guardianship_carried",
    "family_choice_set",
    "notice_confirm",
    "notice_publish",
    "parent_deadline_set",
    "parent_reminders_run",
    "parent_reminders_send",
    "send_parent_reminders",
    "student_consent_give",
    "student_consent_withdraw",
    "student_notice_confirm",
    "student_notice_publish",
]
