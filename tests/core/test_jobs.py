"""The background-job plumbing, its logic (jobs run inline, huey's immediate mode): a job is
recorded, queued after its transaction commits, claimed once per attempt, queued again when
it was lost, retried when it failed, and followed by the people who may see it. Delivery under
the real worker is proven in tests/jobs/."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from cdt_portal.errors import PortalError
from cdt_portal.health import beat
from cdt_portal.jobs import (
    NOT_RETRYABLE,
    QUEUE_DOWN,
    TOO_MANY_ATTEMPTS,
    job_alerts,
    job_progress,
    job_retry,
    job_task,
    jobs_recover,
    start_job,
)
from cdt_portal.models import AuditEntry, Job

RUNS: list[tuple[int, str]] = []
PUT_BACK: list[tuple[int, str, str]] = []


@job_task()
def record_run(job_id: int, word: str) -> str:
    RUNS.append((job_id, word))
    job_progress(job_id, 3, total=3)
    return f"/result/{word}/"


def _put_back(job_id: int, *args, reason: str) -> None:
    PUT_BACK.append((job_id, args, reason))


@job_task(retryable=False, on_failure=_put_back)
def explode(job_id: int) -> str:
    raise PortalError("Письмо не отправлено: сервер не отвечает.")


@job_task()
def crash(job_id: int) -> str:
    raise ZeroDivisionError("division by zero")


@pytest.fixture(autouse=True)
def no_runs():
    RUNS.clear()
    PUT_BACK.clear()


def start(actor, key="test:1", task=record_run, args=("a",)):
    return start_job(
        task=task,
        key=key,
        kind="test",
        title="Проверка",
        organisation_id=actor.organisation_id,
        actor=actor,
        args=args,
    )


@pytest.fixture
def queue_held(transactional_db):
    """Tasks stay on the (in-memory) queue instead of running at once. A test that executes a
    message runs it as the worker does, which closes the thread's database connections
    (djhuey's `close_db`), so its rows must be committed: a transactional test."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def test_a_job_runs_and_ends_done_with_its_result(admin):
    job = start(admin)
    assert RUNS == [(job.pk, "a")]
    assert (job.status, job.done, job.total, job.result_url) == ("done", 3, 3, "/result/a/")
    assert job.started_by == admin and job.finished_at is not None
    assert (job.task_name, job.task_args, job.attempt) == (
        "tests.core.test_jobs.record_run",
        ["a"],
        1,
    )


def test_starting_twice_finds_the_first_job_and_runs_nothing_again(admin):
    first = start(admin)
    second = start(admin)
    assert second.pk == first.pk
    assert RUNS == [(first.pk, "a")]
    assert Job.objects.count() == 1


def test_a_failed_job_says_why_puts_back_and_may_be_started_again(admin):
    job = start(admin, key="test:explode", task=explode, args=())
    assert (job.status, job.message) == ("failed", "Письмо не отправлено: сервер не отвечает.")
    assert PUT_BACK == [(job.pk, (), "Письмо не отправлено: сервер не отвечает.")]
    again = start(admin, key="test:explode", task=record_run, args=("b",))
    assert (again.pk, again.status, again.attempt) == (job.pk, "done", 2)
    assert RUNS == [(job.pk, "b")]


def test_an_unexpected_error_fails_the_job_in_plain_russian(admin):
    job = start(admin, key="test:crash", task=crash, args=())
    assert job.status == "failed"
    assert job.message.startswith("Внутренняя ошибка портала (ZeroDivisionError)")
    assert "division by zero" not in job.message


def test_a_queue_that_is_down_fails_the_job_with_the_reason_and_puts_back(admin, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("redis: connection refused")

    monkeypatch.setattr(HUEY, "enqueue", refuse)
    job = start(admin, key="test:down", task=explode, args=())
    assert (job.status, job.message) == ("failed", QUEUE_DOWN)
    assert PUT_BACK == [(job.pk, (), QUEUE_DOWN)]


@pytest.mark.enqueue_on_commit
@pytest.mark.django_db(transaction=True)
def test_the_task_is_queued_only_when_the_transaction_commits(
    django_capture_on_commit_callbacks, organisation
):
    from django.db import transaction

    from tests.factories import UserFactory

    admin = UserFactory(organisation=organisation, roles=["admin"])
    with transaction.atomic():
        job = start(admin, key="test:commit")
        assert RUNS == []  # the row is not committed yet: no worker may look for it
    assert RUNS == [(job.pk, "a")]


def test_a_message_of_an_earlier_attempt_runs_nothing(admin, queue_held):
    job = start(admin, key="test:attempts")
    Job.objects.filter(pk=job.pk).update(attempt=2)
    (message,) = queue_held.pending()
    queue_held.flush()
    queue_held.execute(message)  # attempt 1's message, the job is at attempt 2
    assert RUNS == []
    assert Job.objects.get(pk=job.pk).status == "queued"


def test_a_second_delivery_of_the_same_attempt_runs_nothing(admin, queue_held):
    job = start(admin, key="test:twice")
    (message,) = queue_held.pending()
    queue_held.flush()
    queue_held.execute(message)
    queue_held.execute(message)
    assert RUNS == [(job.pk, "a")]


def _silent(job: Job, seconds: int, status: str = "running") -> None:
    Job.objects.filter(pk=job.pk).update(
        status=status, heartbeat_at=timezone.now() - dt.timedelta(seconds=seconds)
    )


def test_a_lost_running_job_is_queued_again_as_a_new_attempt_and_audited(
    admin, queue_held, settings
):
    settings.JOB_SILENCE_SECONDS = 30
    job = start(admin, key="test:lost")
    queue_held.flush()  # its message was taken by a worker that then died
    _silent(job, 31)
    assert jobs_recover() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.attempt, job.requeued) == ("queued", 2, 1)
    entry = AuditEntry.objects.get(action="job.requeued")
    assert entry.object_id == str(job.pk) and entry.organisation_id == admin.organisation_id
    assert (
        entry.data["kind"] == "test"
        and entry.data["attempt"] == 2
        and entry.data["was"] == "running"
    )
    # The job's task, and the recount of the organisation whose audit log changed.
    queued = {message.name: message for message in queue_held.pending()}
    assert sorted(queued) == ["record_run", "recount_numbers"]
    assert queued["recount_numbers"].args == (admin.organisation_id,)
    queue_held.execute(queued["record_run"])
    assert RUNS == [(job.pk, "a")]
    assert Job.objects.get(pk=job.pk).status == "done"


def test_a_job_that_beats_or_waits_on_the_queue_is_left_alone(admin, queue_held, settings):
    settings.JOB_SILENCE_SECONDS = 30
    waiting = start(admin, key="test:waiting")  # its task is on the queue, however long
    _silent(waiting, 600, status="queued")
    beating = start(admin, key="test:beating")
    _silent(beating, 29)
    assert jobs_recover() == []
    assert not AuditEntry.objects.filter(action="job.requeued").exists()


def test_a_job_lost_too_often_ends_failed_and_puts_back(admin, queue_held, settings):
    settings.JOB_SILENCE_SECONDS = 30
    settings.JOB_MAX_ATTEMPTS = 3
    job = start(admin, key="test:explode-lost", task=explode, args=())
    queue_held.flush()
    Job.objects.filter(pk=job.pk).update(requeued=2)
    _silent(job, 31)
    assert jobs_recover() == []
    job.refresh_from_db()
    assert (job.status, job.message) == ("failed", TOO_MANY_ATTEMPTS.format(count=3))
    assert PUT_BACK == [(job.pk, (), job.message)]


def test_a_failed_job_is_retried_as_it_was_and_audited(admin):
    job = start(admin, key="test:retry")
    Job.objects.filter(pk=job.pk).update(status="failed", message="SMTP не ответил")
    RUNS.clear()
    again = job_retry(job=job, actor=admin)
    assert (again.status, again.attempt) == ("done", 2)
    assert RUNS == [(job.pk, "a")]
    entry = AuditEntry.objects.get(action="job.retried")
    assert entry.actor == admin and entry.data["reason"] == "SMTP не ответил"


def test_only_a_failed_retryable_job_is_retried(admin):
    done = start(admin, key="test:done")
    with pytest.raises(PortalError):
        job_retry(job=done, actor=admin)
    failed = start(admin, key="test:not-retryable", task=explode, args=())
    with pytest.raises(PortalError) as refused:
        job_retry(job=failed, actor=admin)
    assert refused.value.message == NOT_RETRYABLE
    assert not AuditEntry.objects.filter(action="job.retried").exists()


def test_the_starter_and_the_managers_follow_a_job_others_do_not(
    client, admin, director, teacher, outsider
):
    job = start(teacher, key="test:teacher")
    expected = {
        "status": "done",
        "status_label": "готово",
        "title": "Проверка",
        "done": 3,
        "total": 3,
        "percent": 100,
        "finished": True,
        "result_url": "/result/a/",
        "message": "",
    }
    for person in (teacher, admin, director):
        client.force_login(person)
        response = client.get(f"/jobs/{job.pk}/")
        assert (response.status_code, response.json()) == (200, expected)
    own = start(admin, key="test:admin")
    client.force_login(teacher)
    assert client.get(f"/jobs/{own.pk}/").status_code == 404
    client.force_login(outsider)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    client.logout()
    response = client.get(f"/jobs/{job.pk}/")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/accounts/login/?next=/jobs/{job.pk}/",
    )


def test_the_dashboard_warns_of_a_dead_worker_a_stuck_job_and_failures(admin, outsider, settings):
    settings.JOB_STUCK_MINUTES = 5
    org = admin.organisation_id
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.create(key="q", kind="test", title="Лист", organisation_id=org, created_at=long_ago)
    Job.objects.create(
        key="r", kind="test", title="Рассылка", organisation_id=org, status="running",
        created_at=long_ago, heartbeat_at=timezone.now(), progress_at=long_ago,
    )  # fmt: skip
    Job.objects.create(
        key="f", kind="test", title="Импорт", organisation_id=org, status="failed",
        finished_at=timezone.now(),
    )  # fmt: skip
    texts = [alert.text for alert in job_alerts(org)]
    assert texts == [
        "Фоновый обработчик не работает: начатые работы ждут его. "
        "Сообщите тому, кто обслуживает портал.",
        "«Рассылка» выполняется 10 мин без движения.",
        "Не удалось фоновых работ за сутки: 1.",
    ]
    beat("worker")  # a worker that beats is not blamed for work waiting behind other work
    assert [a.text for a in job_alerts(org)] == texts[1:]
    assert job_alerts(outsider.organisation_id) == []


def test_the_superuser_sees_every_organisations_jobs_and_retries_failed_ones(
    client, superuser, admin, outsider
):
    mine = start(admin, key="test:admin-retry")
    theirs = start(outsider, key="test:outsider")
    Job.objects.filter(pk=mine.pk).update(status="failed", message="сервер не ответил")
    client.force_login(superuser)
    listing = client.get("/admin/cdt_portal/job/").content.decode()
    assert f"/admin/cdt_portal/job/{mine.pk}/change/" in listing
    assert f"/admin/cdt_portal/job/{theirs.pk}/change/" in listing
    RUNS.clear()
    response = client.post(
        "/admin/cdt_portal/job/",
        {"action": "retry", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    page = response.content.decode()
    assert "Снова в очереди: 1." in page
    assert "«Проверка»: Повторить можно только работу, которая не удалась." in page
    assert RUNS == [(mine.pk, "a")]
    entry = AuditEntry.objects.get(action="job.retried")
    assert (entry.actor, entry.organisation_id) == (superuser, admin.organisation_id)
