"""Every change the rollout makes, by topic: the registration request's steps and its sending
job (`request`), a teacher's Sferum status (`sferum_status`) and the §5.1 checklist
(`amendments`). One function per change, keyword-only, in one transaction, each writing one
audit entry; a refusal is a `PortalError` and changes nothing. The families' changes are
`families.services`; the regulation's draft for the move to MAX is acknowledgements'
(`messenger_draft_create`); the weekly digest is the top layer's (`portal.services`). The
names below are the package's public surface."""

from .amendments import (
    amendment_act_add,
    amendment_act_remove,
    amendment_act_update,
    amendment_programme_update,
)
from .request import (
    request_cancel,
    request_confirm_delivered,
    request_confirm_sent,
    request_mark_ready,
    request_prepare_letter,
    request_register,
    request_return,
    request_scan_refused,
    request_send_run,
    request_send_start,
    request_start,
    request_update_details,
)
from .sferum_status import teacher_status_advance

__all__ = [
    "amendment_act_add",
    "amendment_act_remove",
    "amendment_act_update",
    "amendment_programme_update",
    "request_cancel",
    "request_confirm_delivered",
    "request_confirm_sent",
    "request_mark_ready",
    "request_prepare_letter",
    "request_register",
    "request_return",
    "request_scan_refused",
    "request_send_run",
    "request_send_start",
    "request_start",
    "request_update_details",
    "teacher_status_advance",
]
