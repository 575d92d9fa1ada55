"""Numbers that count every person of an organisation (the dashboard's), computed once per
change instead of once per page view.

Every change anyone makes is written to the audit log by the service that makes it (a test
forbids writes outside the services, another checks every service's entry), so the newest
entry of an organisation's log tells whether anything could have changed since the numbers were
counted. The numbers are kept in the cache under that entry and today's date (due dates turn
into «overdue» overnight): an unchanged organisation reads them back with one indexed query
instead of counting 50,000 people.

Two transactions committing out of their id order could leave a newer change under an older
head for a moment; NUMBERS_TTL bounds how long such numbers can be shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.utils import timezone

from .models import AuditEntry

T = TypeVar("T")
NUMBERS_TTL = 60  # seconds


def last_change(organisation_id: int) -> int:
    """The id of the organisation's newest audit entry (0 before any)."""
    head = (
        AuditEntry.objects.filter(organisation_id=organisation_id)
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return head or 0


def counted_once(organisation_id: int, name: str, compute: Callable[[], T]) -> T:
    """`compute()`'s value for the organisation as it is now, from the cache when nothing has
    changed since it was last computed."""
    key = (
        f"numbers:{name}:{organisation_id}:{last_change(organisation_id)}:"
        f"{timezone.localdate():%Y%m%d}"
    )
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, NUMBERS_TTL)
    return value
