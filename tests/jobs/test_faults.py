"""Faults around a job, each ending with the job done, or failed with its reason and a retry
that works; nothing done twice:

- the queue unreachable when the job is queued (a Redis that does not answer, a queue file
  that cannot be opened): failed with `QUEUE_DOWN`, then retried once the queue is back;
- two workers handed the same message at the same moment (PostgreSQL): one runs it;
- PostgreSQL drops every connection in the middle of a job (as a restart does), under the
  real worker: the job is taken for lost, runs again and ends done, once more only.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from huey.contrib.djhuey import HUEY
from huey.storage import RedisStorage, SqliteStorage

from cdt_portal.jobs import QUEUE_DOWN, job_retry, job_task, start_job
from cdt_portal.models import Job
from tests.jobs.killed_worker import kill, manage, start_worker, wait
from tests.jobs.test_heartbeat import database, env, job_row, requeues  # noqa: F401
from tests.races import POSTGRES_RACES, run_together

RUNS: list[int] = []
LOCK = threading.Lock()


@job_task()
def count_run(job_id: int) -> str:
    with LOCK:
        RUNS.append(job_id)
    time.sleep(0.2)  # long enough for the other delivery to arrive while this one runs
    return "/done/"


@pytest.fixture(autouse=True)
def no_runs():
    RUNS.clear()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unopenable_queue_file(tmp: Path) -> SqliteStorage:
    """A queue file that was there when the worker started and is now something SQLite cannot
    open (a folder in its place; as root, file modes would not stop anything)."""
    path = tmp / "queue.sqlite3"
    storage = SqliteStorage(name="cdt-faults", filename=str(path))
    path.unlink()
    path.mkdir()
    return storage


@pytest.fixture
def real_queue():
    """The test's huey writes to a real queue storage given by the test (instead of running
    jobs at once); the original storage and mode come back afterwards."""

    def use(storage):
        HUEY.immediate = False  # first: the setter makes a storage of its own
        HUEY.storage = storage

    yield use
    HUEY.immediate = True  # the test settings' in-memory storage, made anew


@pytest.mark.parametrize(
    "down",
    [
        lambda tmp: RedisStorage(name="cdt-faults", url=f"redis://127.0.0.1:{closed_port()}/0"),
        unopenable_queue_file,
    ],
    ids=["redis-unreachable", "queue-file-unopenable"],
)
def test_a_queue_that_cannot_take_the_job_fails_it_and_a_retry_works(
    admin, real_queue, tmp_path, down
):
    real_queue(down(tmp_path))
    job = start_job(
        task=count_run, key="faults:queue", kind="test", title="Проверка",
        organisation_id=admin.organisation_id, actor=admin,
    )  # fmt: skip
    assert (job.status, job.message) == ("failed", QUEUE_DOWN)
    assert RUNS == []
    # The queue is back (here: jobs run at once again); «Повторить» queues it as it was.
    HUEY.immediate = True
    again = job_retry(job=job, actor=admin)
    assert (again.status, again.attempt, again.result_url) == ("done", 2, "/done/")
    assert RUNS == [job.pk]


class TestTwoWorkers:
    pytestmark = POSTGRES_RACES

    def test_two_workers_handed_the_same_message_run_it_once(self, real_queue):
        from huey.storage import MemoryStorage

        from tests.factories import OrganisationFactory

        organisation = OrganisationFactory()
        real_queue(MemoryStorage(name="cdt-faults"))
        job = start_job(
            task=count_run, key="faults:twice", kind="test", title="Проверка",
            organisation_id=organisation.pk, actor=None,
        )  # fmt: skip
        (message,) = HUEY.pending()

        def deliver(ready):
            ready()
            HUEY.execute(message)

        outcomes = run_together(deliver, deliver)
        assert [error for _, error in outcomes] == [None, None]
        assert RUNS == [job.pk]
        assert Job.objects.get(pk=job.pk).status == "done"


TICKING = """
import time

from cdt_portal.jobs import job_progress, job_task


@job_task()
def ticking_job(job_id, seconds, marker):
    with open(marker, "a") as runs:
        runs.write(f"{job_id}\\n")
    ticks = int(seconds * 5)
    for tick in range(ticks):
        job_progress(job_id, tick, ticks)
        time.sleep(0.2)
    return ""
"""

START_TICKING = """
from cdt_portal.jobs import start_job
from slowjobs.ticking import ticking_job

job = start_job(task=ticking_job, key="ticking", kind="test", title="Работа с базой",
                organisation_id=None, actor=None, args=(4, "{marker}"))
print("JOB", job.pk)
"""


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="drops PostgreSQL's connections; SQLite has none"
)
def test_a_database_restart_mid_job_ends_with_the_job_done_after_one_more_run(
    tmp_path,
    env,  # noqa: F811
    database,  # noqa: F811
):
    (tmp_path / "slowjobs" / "ticking.py").write_text(TICKING)
    (tmp_path / "slowjobs" / "tasks.py").write_text(
        (tmp_path / "slowjobs" / "tasks.py").read_text() + "\nfrom .ticking import ticking_job\n"
    )
    marker = tmp_path / "runs.txt"
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        out = manage(env, "shell", "-c", START_TICKING.format(marker=marker))
        job_id = int(out.split("JOB")[1].split()[0])
        wait(lambda: marker.exists(), 30, "the job to start", log)
        time.sleep(1)
        # What a restart of PostgreSQL does to the worker: every connection dropped.
        dropped = database.rows(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{database.name}' AND pid <> pg_backend_pid()"
        )
        assert dropped, "the worker had no connection to drop"
        # Run again by the every-minute look for lost jobs once its heartbeat has been silent
        # for JOB_SILENCE_SECONDS: at worst a minute, the silence and the 4 s run (the 90 s
        # the dependability issue asks); 60 s failed whenever the drop came just after a look.
        wait(lambda: job_row(database, job_id)[0] == "done", 90, "the job to end", log)
    finally:
        kill(worker)
    assert marker.read_text().splitlines() == [str(job_id)] * 2
    assert job_row(database, job_id) == ("done", 2)
    assert requeues(database, job_id) == 1
