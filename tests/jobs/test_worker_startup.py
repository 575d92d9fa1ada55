"""What a worker process does when it starts, before its first job."""

from __future__ import annotations

import sys

from huey.contrib.djhuey import HUEY

import cdt_portal.tasks  # noqa: F401  (registers the core's hooks, as the worker's autodiscovery does)


def test_a_starting_worker_loads_the_pdf_renderer_before_anyone_waits_for_a_document():
    hook = HUEY._startup.get("warm_up_pdf_renderer")
    assert hook is not None, sorted(HUEY._startup)
    hook()
    # The renderer and its text engine are loaded in this process now.
    assert "weasyprint" in sys.modules
    assert "weasyprint.text.fonts" in sys.modules


def test_an_idle_worker_looks_at_a_polled_queue_at_least_every_second():
    """The SQLite queue of `make run` is polled: huey's default backoff would let an idle
    worker wait 10 s before it saw a job someone is waiting for. (The test settings replace
    HUEY with an immediate queue, so the real worker's options are read from base.)"""
    from cdt_portal.settings import base

    consumer = HUEY.create_consumer(**base.HUEY["consumer"])
    assert consumer.max_delay == 1.0
    assert consumer.workers == base.HUEY["consumer"]["workers"]
