"""Racing two calls on PostgreSQL's row locks: one shared helper for every race test."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

# Races need real row locks and threads with their own connections; SQLite has no row locks.
POSTGRES_RACES = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks are PostgreSQL's; SQLite has none"
    ),
]


def run_together(*jobs):
    """Run each job in its own thread and connection; return [(result, exception)] in order.

    A job gets `ready`: it loads what it needs, calls ready() and then the service, so
    both service calls start at the same moment.
    """
    barrier = threading.Barrier(len(jobs), timeout=30)
    outcomes: list[tuple[object, BaseException | None] | None] = [None] * len(jobs)

    def worker(index, job):
        try:
            outcomes[index] = (job(barrier.wait), None)
        except BaseException as exc:  # reported to the test, whatever it is
            outcomes[index] = (None, exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    assert all(outcome is not None for outcome in outcomes)
    return outcomes
