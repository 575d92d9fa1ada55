"""Letters retried inside a job wait MAIL_RETRY_DELAY seconds; none in tests. The killed-worker
tests' mail server and database (tests/jobs/killed_worker.py)."""

import pytest

from tests.jobs import killed_worker, stress_support


@pytest.fixture(autouse=True)
def no_retry_waits(settings):
    settings.MAIL_RETRY_DELAY = 0
    settings.MAIL_SEND_RETRIES = 2


@pytest.fixture
def held_mail():
    """A mail server that holds letter KILL_AT unanswered until `release` is set."""
    with stress_support.HoldingMailServer(
        killed_worker.ACCEPT_DELAY, killed_worker.KILL_AT
    ) as server:
        yield server
        server.release.set()


@pytest.fixture
def worker_database(tmp_path, transactional_db):
    """The worker's own copy of the empty test database, dropped at the end."""
    database = killed_worker.Database(tmp_path)
    yield database
    database.drop()
