"""Letters retried inside a job wait MAIL_RETRY_DELAY seconds; none in tests. The killed-worker
tests' mail server and database (tests/jobs/killed_worker.py); the real worker on a Redis queue
that the views of this process queue onto (tests/jobs/stress_support.py)."""

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


@pytest.fixture
def redis_queue():
    url = stress_support.redis_url()
    why = stress_support.redis_reachable(url)
    if why:
        # The suite runs on PostgreSQL in CI and these tests must run there: not a skip.
        pytest.fail(f"the real worker's tests need Redis at {url} (REDIS_URL): {why}")
    name = stress_support.new_queue_name()
    with stress_support.views_queue_on_redis(url, name) as storage:
        yield url, name, storage


@pytest.fixture
def mail_server(request):
    """Answers each letter after the test module's ACCEPT_DELAY seconds (none by default). In a
    module that sets HOLD_AT, it holds that letter unanswered until `release` is set (or the
    test ends), so the module's test can kill the worker while a letter is in flight."""
    delay = getattr(request.module, "ACCEPT_DELAY", 0)
    hold_at = getattr(request.module, "HOLD_AT", None)
    if hold_at is None:
        with stress_support.MailServer(delay) as server:
            yield server
        return
    with stress_support.HoldingMailServer(delay, hold_at) as server:
        yield server
        server.release.set()


@pytest.fixture
def worker(tmp_path, transactional_db, redis_queue, mail_server, settings):
    """`manage.py run_huey` (two processes) on the Redis queue, not started yet: `start`."""
    url, name, _ = redis_queue
    running = stress_support.Worker(
        tmp_path, queue=name, redis=url, smtp_port=mail_server.port, media=settings.MEDIA_ROOT
    )
    yield running
    running.kill()
