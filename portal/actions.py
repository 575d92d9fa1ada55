"""The audit actions the top layer writes, and what the audit page calls them (registered in
`PortalConfig.ready`): the weekly digest, one entry a letter, as its letter ends
(`Delivery.Status`)."""

from __future__ import annotations

DIGEST_SENT = "digest.sent"
DIGEST_FAILED = "digest.failed"
DIGEST_UNCONFIRMED = "digest.unconfirmed"
DIGEST_ACTIONS = {
    "sent": DIGEST_SENT,
    "failed": DIGEST_FAILED,
    "unconfirmed": DIGEST_UNCONFIRMED,
}

LABELS: dict[str, str] = {
    DIGEST_SENT: "Отправлена еженедельная сводка",
    DIGEST_FAILED: "Еженедельная сводка не отправлена",
    DIGEST_UNCONFIRMED: "Отправка еженедельной сводки не подтверждена",
}
