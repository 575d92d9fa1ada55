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
from django.db.models import OuterRef, Subquery
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


def newest_entry(organisation_ref: str = "pk") -> Subquery:
    """`last_change` of the organisation `organisation_ref` names, to annotate a queryset of
    organisations with (one indexed probe each)."""
    return Subquery(
        AuditEntry.objects.filter(organisation_id=OuterRef(organisation_ref))
        .order_by("-pk")
        .values("pk")[:1]
    )


def _key(name: str, organisation_id: int, head: int | None) -> str:
    return f"numbers:{name}:{organisation_id}:{head or 0}:{timezone.localdate():%Y%m%d}"


def counted_once(organisation_id: int, name: str, compute: Callable[[], T]) -> T:
    """`compute()`'s value for the organisation as it is now, from the cache when nothing has
    changed since it was last computed."""
    key = _key(name, organisation_id, last_change(organisation_id))
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, NUMBERS_TTL)
    return value


def counted_each(
    heads: dict[int, int | None], name: str, compute: Callable[[list[int]], dict[int, T]]
) -> dict[int, T]:
    """Per organisation (id: its newest entry, from `newest_entry`): the value kept for it when
    it has not changed since, and `compute(ids)` for the others only, all at once. A department
    of 100 institutions recounts the few that changed, not all 50,000 people."""
    keys = {pk: _key(name, pk, head) for pk, head in heads.items()}
    found = cache.get_many(list(keys.values()))
    values = {pk: found[key] for pk, key in keys.items() if key in found}
    missing = [pk for pk in heads if pk not in values]
    if missing:
        fresh = compute(missing)
        cache.set_many({keys[pk]: fresh[pk] for pk in missing}, NUMBERS_TTL)
        values.update(fresh)
    return values
