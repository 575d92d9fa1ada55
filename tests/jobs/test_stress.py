"""Dependable jobs, under load and under kills, with everything real: a few hundred jobs of
every kind started through the views by concurrent signed-in clients, run by the real huey
consumer (`manage.py run_huey`, two worker processes, the periodic checks on) on a Redis queue
and the test's PostgreSQL database, e-mail to a local SMTP server that counts every letter.

The views run here, in the test process (Django test clients in threads, `transaction=True`:
their transactions commit and `transaction.on_commit` fires for real; the autouse
`jobs_run_when_queued` leaves it alone for such tests). This process's huey, the test settings'
MemoryHuey to which every task is bound, is pointed at the worker's Redis queue for the length
of the test (`stress_support.views_queue_on_redis`), under a name of its own, removed after.

Phase 1, the proof that a job is queued only after its row commits: JOB_SILENCE_SECONDS is
600 in the worker, so the look for lost jobs cannot put anything back within the test; no
kills. Every job must end done. Were `cdt_portal.jobs._after_commit` to queue at once (inside
the transaction), an idle worker would take a task before its row committed, claim nothing,
and the job would wait «в очереди» for ever: the phase stops with the jobs left behind. So
that this does not hang on luck, each commit of the views takes COMMIT_DELAY longer in this
phase (as a commit over a network would): an idle worker always gets to a task first. Tried
with `_after_commit = lambda callback: callback()`: 106 and 107 of 107 jobs were left queued.

Phase 2, the proof that a lost job comes back and nothing happens twice: the worker runs with
JOB_SILENCE_SECONDS = 3 and its whole process group is SIGKILLed at seeded random moments
while jobs run, KILLS times, each time started again. Every job must end done; every order and
every sheet is stored once (the files under MEDIA_ROOT/documents are exactly those the
versions' orders and the sheets' plans name, each a whole PDF, besides the temporary files of
writes a kill cut short, of files the next attempt stored, which the nightly sweep removes:
`cdt_portal.files.remove_stale_partials`); every letter reached the mail
server at most once, those recorded as sent exactly once, and whoever's letter was not
confirmed is shown «отправка не подтверждена» and offered again; one `job.requeued` entry per
time a job was put back, and nothing done twice (`version.approved` once per version,
`import.applied` once per list, `version.reminded` once per run, the request sent once).

Most buttons are pressed twice at once (two clients, side by side), as a double click: the
second press must find the first one's job. Every job is started by a press, so once the
presses are over the jobs of the phase must be exactly one per action.

The organisations take turns: in each phase half of them import staff lists and send the
registration e-mail while the other half have their acknowledgement sheets built, so that no
list changes a sheet while it is being built (a sheet's key names its people). Everyone
approves a version, reminds and invites in both phases.

The counts are printed at the end of the run, passed or failed, then any failure
(tests/counts.py).
PostgreSQL only: it tries the production setup (PostgreSQL's row locks, Redis's queue).

Split by topic: the organisations and what the clients press are tests/jobs/stress_scenario.py,
the waiting for the jobs and what each phase must have left tests/jobs/stress_checks.py, the
machinery (mail server, worker, queue, clients) tests/jobs/stress_support.py."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

from django.test import Client
from django.utils import timezone

from cdt_portal.models import Job
from tests.counts import report
from tests.jobs import stress_support as stress
from tests.jobs.stress_checks import check_phase, format_summary, phase_jobs, wait_for_jobs
from tests.jobs.stress_scenario import build_school, plan_phase

pytestmark = stress.real_worker_marks(
    "the stress test tries the production setup: PostgreSQL's row locks and "
    "Redis's queue (SQLite has no row locks)"
)

SEED = 20251206
ORGANISATIONS = 8
THREADS = 8  # concurrent clients
KILLS = 4
SILENCE = 3  # JOB_SILENCE_SECONDS of phase 2
ACCEPT_DELAY = 0.05  # seconds the mail server takes to answer each letter
COMMIT_DELAY = 0.05  # seconds each commit of the views takes in phase 1


# --- The test ----------------------------------------------------------------------------------


def test_jobs_end_done_once_under_load_and_kills(
    worker, redis_queue, mail_server, settings, tmp_path
):
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage

    began = time.monotonic()
    rng = random.Random(SEED)
    # The worker's settings, here as there (the sheet's parts no longer depend on them, but
    # nothing here should differ from the worker).
    settings.HUEY = {**settings.HUEY, "consumer": {"workers": 2}}
    assert isinstance(HUEY.storage, RedisStorage) and not HUEY.immediate
    assert HUEY.storage.queue_key == redis_queue[2].queue_key

    schools = [build_school(n) for n in range(ORGANISATIONS)]
    admin_clients = {}
    for school in schools:
        admin_clients[school.organisation.pk] = client = Client()
        client.force_login(school.admin)
    media = Path(settings.MEDIA_ROOT)
    expected_files: set[str] = set()
    summary: dict = {"setup seconds": round(time.monotonic() - began, 1)}
    stop = threading.Event()

    def run_phase(phase: int, silence: int, kills: int) -> dict:
        report: dict = {}
        first = Job.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        mail_server.take()
        plan = plan_phase(phase, schools, rng, stop)
        plan.started = timezone.now()
        phase_began = time.monotonic()
        worker.start(silence=silence)
        worker.wait_ready()
        failures: list[str] = []

        def press() -> None:
            # Phase 1 proves the queueing after the commit: the views' commits are slow there.
            with stress.slow_commits(COMMIT_DELAY if kills == 0 else 0):
                failures.extend(stress.press_concurrently(plan.presses, THREADS, stop))

        clients = threading.Thread(target=press)
        clients.start()
        kill_log = []
        try:
            for _ in range(kills):
                # While a job of this start runs, at a random moment: the whole process group.
                since = timezone.now()
                stress.wait_for(
                    lambda since=since: (
                        phase_jobs(first)
                        .filter(status=Job.Status.RUNNING, started_at__gte=since)
                        .exists()
                        or (
                            not clients.is_alive()
                            and not phase_jobs(first).exclude(status=Job.Status.DONE).exists()
                        )
                    ),
                    60,
                    "a job to run before the kill",
                    worker,
                )
                time.sleep(rng.uniform(0.2, 1.5))
                running = Counter(
                    phase_jobs(first)
                    .filter(status=Job.Status.RUNNING)
                    .values_list("kind", flat=True)
                )
                worker.kill()
                kill_log.append(dict(running))
                worker.start(silence=silence)
                worker.wait_ready()
            wait_for_jobs(
                first,
                plan.jobs,
                worker,
                pressing=clients.is_alive,
                stall=10 if kills == 0 else 20,
                deadline=time.monotonic() + 120,
            )
        except AssertionError as failure:
            stop.set()  # the clients stop waiting
            clients.join()
            pressed = "\n".join(["", "--- clients ---", *failures]) if failures else ""
            raise AssertionError(f"{failure}{pressed}") from failure
        except BaseException:
            stop.set()
            raise
        finally:
            clients.join()
            worker.kill()
            report["seconds"] = round(time.monotonic() - phase_began, 1)
            summary[f"phase {phase}"] = report
        assert not failures, "\n".join(failures)
        if kills:
            report["kills (running jobs by kind at each)"] = kill_log
        letters = mail_server.take()
        check_phase(
            phase, first, plan, schools, letters, admin_clients, expected_files, media, report
        )
        return report

    try:
        # Phase 1: no kills, and nothing can be put back (silence 600 s): only queueing after
        # the commit gets every job done.
        first_phase = run_phase(1, silence=600, kills=0)
        assert first_phase["jobs requeued"] == 0
        # Phase 2: killed at random moments, each time started again.
        second_phase = run_phase(2, silence=SILENCE, kills=KILLS)
        assert len(second_phase["kills (running jobs by kind at each)"]) == KILLS
        assert second_phase["jobs requeued"] >= 1, "no job was put back: the kills missed"
        log = worker.log.read_text(errors="replace")
        assert "Traceback" not in log, worker.tail()
    except AssertionError as failure:
        summary["total seconds"] = round(time.monotonic() - began, 1)
        for line in format_summary(summary).splitlines():
            report(line)
        # Last, where a log cut to its tail still shows it.
        report(f"failed: {str(failure)[:1500]}")
        raise AssertionError(f"{failure}\n{format_summary(summary)}") from failure
    summary["total seconds"] = round(time.monotonic() - began, 1)
    for line in format_summary(summary).splitlines():
        report(line)
