"""Numbers that count every person of an organisation (the dashboard's, the department's row of
each institution), counted once per change instead of once per page view, and counted by the
worker right after the change, so that the first view after a change costs what the second does.

Every change anyone makes is written to the audit log by the service that makes it (a test
forbids writes outside the services, another checks every service's entry), so the newest
entry of an organisation's log tells whether anything could have changed since the numbers were
counted. The numbers are kept in the cache (shared by every process: Redis in production, files
under var/cache otherwise) under that entry and today's date (due dates turn into «overdue»
overnight): an unchanged organisation reads them back with one indexed query instead of
counting 50,000 people.

Kept numbers are counted ahead: `log_action` calls `changed`, and once the change commits the
worker recounts every registered counter of the organisation (`register_counter`, filled by the
apps in their `AppConfig.ready`) under its new newest entry. Two transactions committing out of
their id order could leave a newer change under an older head; the recount after the later
commit counts again and overwrites, so nothing waits for an expiry. Every night
`recount_everything` counts each organisation from scratch and logs any kept number that
differed (`tests/core/test_numbers_kept.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from huey.contrib.djhuey import db_task

from .models import AuditEntry

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Kept a day and a night at most: the key names the date, and the nightly recount counts anew.
NUMBERS_TTL = 30 * 3600  # seconds
# Changes of one organisation within this many seconds are counted by one recount.
RECOUNT_DELAY = 1


@dataclass(frozen=True)
class NumbersCounter:
    """Numbers kept per organisation: `compute(ids)` counts them for those of the organisations
    it counts, at once ({id: value}); `every_id()` lists those there are (the nightly recount)."""

    compute: Callable[[list[int]], dict[int, Any]]
    every_id: Callable[[], list[int]]


_COUNTERS: dict[str, NumbersCounter] = {}


def register_counter(name: str, counter: NumbersCounter) -> None:
    """Called from an app's `AppConfig.ready`: the worker keeps these numbers counted ahead."""
    _COUNTERS[name] = counter


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


def kept(name: str, organisation_id: int) -> Any:
    """The value kept for a registered counter under the organisation's newest entry, or None."""
    return cache.get(_key(name, organisation_id, last_change(organisation_id)))


# --- Counted ahead -----------------------------------------------------------------------------

# The organisations whose recount already waits for the commit of a transaction, beside that
# transaction's list of commit hooks (each connection starts a new list with each transaction,
# so one rolled back leaves nothing that would stop the next one's recount; another thread's
# entry only makes a second request for a recount, which `_queue_recount` merges).
_waiting: dict[int, list] = {}


def changed(organisation_id: int | None) -> None:
    """The organisation changed in the current transaction: once it commits, its registered
    numbers are counted again by the worker (once per transaction, however many entries)."""
    if not organisation_id or not _COUNTERS:
        return
    hooks = connection.run_on_commit
    if connection.in_atomic_block and _waiting.get(organisation_id) is hooks:
        return
    _waiting[organisation_id] = hooks
    transaction.on_commit(lambda: _queue_recount(organisation_id))


def _queue_recount(organisation_id: int) -> None:
    _waiting.pop(organisation_id, None)
    # One recount for changes that come close together: the first queues it a second ahead.
    if cache.add(f"numbers-recount:{organisation_id}", True, RECOUNT_DELAY):
        try:
            recount_numbers.schedule(args=(organisation_id,), delay=RECOUNT_DELAY)
        except Exception:  # the queue is down: the pages count on their first view instead
            logger.warning("Recount of organisation %s not queued", organisation_id, exc_info=True)


def recount(organisation_id: int) -> list[str]:
    """Count every registered counter of the organisation as it is now and keep the values
    under its newest entry; the names whose kept value differed are returned."""
    head = last_change(organisation_id)
    drifted = []
    for name, counter in _COUNTERS.items():
        key = _key(name, organisation_id, head)
        values = counter.compute([organisation_id])
        if organisation_id not in values:  # not one this counter counts (no department)
            continue
        value = values[organisation_id]
        before = cache.get(key)
        if before is not None and before != value:
            drifted.append(name)
        cache.set(key, value, NUMBERS_TTL)
    return drifted


@db_task()
def recount_numbers(organisation_id: int) -> None:
    recount(organisation_id)


def recount_everything() -> int:
    """Every organisation counted from scratch (the nightly chore); a kept number that was not
    what a recount gives is logged and replaced. Returns how many differed."""
    ids = sorted({pk for counter in _COUNTERS.values() for pk in counter.every_id()})
    drift = 0
    for organisation_id in ids:
        for name in recount(organisation_id):
            drift += 1
            logger.warning(
                "Kept numbers %r of organisation %s differed from a recount: replaced",
                name,
                organisation_id,
            )
    return drift
