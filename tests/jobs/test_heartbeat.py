"""Under the real worker (`manage.py run_huey` as a subprocess, two worker processes, its own
database and queue file): a job that runs far longer than the silence threshold beats and runs
once, however often the check for lost jobs looks; a job whose worker is SIGKILLed runs again
soon after a new worker starts, once, audited.

The job is a test task (`slowjobs.tasks.slow_job`, an app written to tmp_path and installed by
the worker's settings) that only sleeps and writes one line per run to a file: it reports no
progress, so only the heartbeat thread keeps it alive. JOB_SILENCE_SECONDS is 3 s here; the
same rule with the default 30 s puts a killed job back to work within 32 s of a new worker's
start, well within the 90 s asked."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.jobs.killed_worker import Database, kill, manage, start_worker, wait

SILENCE = 3

APP = """
import time

from cdt_portal.jobs import job_task


@job_task()
def slow_job(job_id, seconds, marker):
    with open(marker, "a") as runs:
        runs.write(f"{job_id}\\n")
    time.sleep(seconds)
    return ""
"""

SETTINGS = """
from cdt_portal.settings.local import *  # noqa: F403
from cdt_portal.settings.local import HUEY, INSTALLED_APPS

DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "slowjobs"]
HUEY = {**HUEY, "consumer": {**HUEY["consumer"], "workers": 2, "worker_type": "process"}}
"""

START = """
from cdt_portal.jobs import start_job
from slowjobs.tasks import slow_job

job = start_job(task=slow_job, key="slow:{key}", kind="test", title="Долгая работа",
                organisation_id=None, actor=None, args=({seconds}, "{marker}"))
print("JOB", job.pk)
"""

LOOK = """
from cdt_portal.tasks import recover_lost_jobs
for delay in {delays}:
    recover_lost_jobs.schedule(delay=delay)
"""


@pytest.fixture
def database(worker_database):
    return worker_database


@pytest.fixture
def env(tmp_path, database) -> dict:
    app = tmp_path / "slowjobs"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "tasks.py").write_text(APP)
    (tmp_path / "heartbeat_settings.py").write_text(SETTINGS)
    return {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{Path(__file__).resolve().parents[2]}",
        "DJANGO_SETTINGS_MODULE": "heartbeat_settings",
        "DATABASE_URL": database.url,
        "JOBS_QUEUE_FILE": str(tmp_path / "jobs.sqlite3"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "REDIS_URL": "",
        "JOB_SILENCE_SECONDS": str(SILENCE),
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def start(env: dict, key: str, seconds: float, marker: Path) -> int:
    script = START.format(key=key, seconds=seconds, marker=marker)
    return int(manage(env, "shell", "-c", script).split("JOB")[1].split()[0])


def job_row(database: Database, job_id: int) -> tuple:
    (row,) = database.rows(f"SELECT status, attempt FROM cdt_portal_job WHERE id = {job_id}")
    return row


def requeues(database: Database, job_id: int) -> int:
    return database.rows(
        "SELECT COUNT(*) FROM cdt_portal_auditentry "
        f"WHERE action = 'job.requeued' AND object_id = '{job_id}'"
    )[0][0]


def test_a_job_five_times_longer_than_the_silence_runs_once(tmp_path, env, database):
    marker = tmp_path / "runs.txt"
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        job_id = start(env, "long", 5 * SILENCE, marker)
        wait(lambda: marker.exists(), 30, "the long job to start", log)
        # The look for lost jobs, on the other worker process, while the job runs (besides the
        # one every new worker makes after the silence).
        manage(env, "shell", "-c", LOOK.format(delays=[SILENCE + 2, 2 * SILENCE, 4 * SILENCE]))
        wait(lambda: job_row(database, job_id)[0] == "done", 60, "the long job to end", log)
    finally:
        kill(worker)
    assert "recover_lost_jobs" in log.read_text()  # the looks did run
    assert marker.read_text().splitlines() == [str(job_id)]
    assert job_row(database, job_id) == ("done", 1)
    assert requeues(database, job_id) == 0


def test_a_job_whose_worker_was_killed_runs_again_soon_after_a_new_worker_starts(
    tmp_path, env, database
):
    marker = tmp_path / "runs.txt"
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        job_id = start(env, "killed", 3, marker)
        wait(lambda: marker.exists(), 30, "the job to start", log)
        kill(worker)  # SIGKILL of the whole worker, mid-job
        assert job_row(database, job_id) == ("running", 1)
        restarted = time.monotonic()
        worker = start_worker(env, log)
        wait(lambda: len(marker.read_text().splitlines()) == 2, 60, "the job to run again", log)
        back_after = time.monotonic() - restarted
        wait(lambda: job_row(database, job_id)[0] == "done", 30, "the job to end", log)
    finally:
        kill(worker)
    # The new worker looks once the silence can be told from life (its threshold and a
    # second), plus its own start-up.
    assert back_after < SILENCE + 1 + 10, f"running again only {back_after:.1f} s after the start"
    assert job_row(database, job_id) == ("done", 2)
    assert requeues(database, job_id) == 1
