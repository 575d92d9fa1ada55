"""Every change to documents, versions and acknowledgements, by topic (pretix's
`base/services/`): `versions` (drafts, approval and its job), `acknowledgements` (online and on
paper), `reminders` (the due date and reminder runs with their job), `messenger` (the
regulation's draft for the move to MAX), `documents` (a new local act, the agreement on the
простая электронная подпись). The sheet, its jobs and its cleanup are
`acknowledgements.sheet`. One function per change, keyword-only; each checks the version's
state by its transition table (`models.TRANSITIONS`), runs in one transaction, refuses with a
`PortalError` whose message is shown as it is, and writes one audit entry per changed object.
A job's task is defined beside the work it runs. The names below are the package's public
surface."""

from .acknowledgements import (
    AGREEMENT_FIRST,
    PAPER_ONLY,
    acknowledgement_confirm,
    acknowledgement_record_paper,
    agreement_refuse,
)
from .documents import agreement_create, default_agreement_text, document_create
from .messenger import messenger_draft_create
from .reminders import (
    UNSENT,
    reminders_due,
    reminders_retry_failed,
    reminders_run,
    reminders_start,
    version_set_deadline,
)
from .versions import (
    EDITORIAL_REASON_REQUIRED,
    EDITORIAL_WITHOUT_PREVIOUS,
    version_approval_failed,
    version_approval_run,
    version_approve,
    version_create,
    version_edit,
)

__all__ = [
    "AGREEMENT_FIRST",
    "EDITORIAL_REASON_REQUIRED",
    "EDITORIAL_WITHOUT_PREVIOUS",
    "PAPER_ONLY",
    "UNSENT",
    "acknowledgement_confirm",
    "acknowledgement_record_paper",
    "agreement_create",
    "agreement_refuse",
    "default_agreement_text",
    "document_create",
    "messenger_draft_create",
    "reminders_due",
    "reminders_retry_failed",
    "reminders_run",
    "reminders_start",
    "version_approval_failed",
    "version_approval_run",
    "version_approve",
    "version_create",
    "version_edit",
    "version_set_deadline",
]
