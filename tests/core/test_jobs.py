"""The background-job plumbing: a job is recorded and queued together, started once, and its
progress is seen by the person who started it."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone

from cdt_portal.errors import PortalError
from cdt_portal.jobs import QUEUE_DOWN, job_progress, job_task, stalled_jobs, start_job
from cdt_portal.models import Job

RUNS: list[tuple[int, str]] = []


@job_task()
def record_run(job_id: int, word: str) -> str:
    RUNS.append((job_id, word))
    job_progress(job_id, 3, total=3)
    return f"/result/{word}/"


@job_task()
def explode(job_id: int) -> str:
    raise PortalError("Письмо не отправлено: сервер не отвечает.")


@pytest.fixture(autouse=True)
def no_runs():
    RUNS.clear()


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


def test_a_job_runs_and_ends_done_with_its_result(admin):
    job = start(admin)
    assert RUNS == [(job.pk, "a")]
    assert (job.status, job.done, job.total, job.result_url) == ("done", 3, 3, "/result/a/")
    assert job.started_by == admin and job.finished_at is not None


def test_starting_twice_finds_the_first_job_and_runs_nothing_again(admin):
    first = start(admin)
    second = start(admin)
    assert second.pk == first.pk
    assert RUNS == [(first.pk, "a")]
    assert Job.objects.count() == 1


def test_a_failed_job_says_why_and_may_be_started_again(admin):
    job = start(admin, key="test:explode", task=explode, args=())
    assert (job.status, job.message) == ("failed", "Письмо не отправлено: сервер не отвечает.")
    again = start(admin, key="test:explode", task=record_run, args=("b",))
    assert again.pk == job.pk and again.status == "done"
    assert RUNS == [(job.pk, "b")]


def test_a_queue_that_is_down_starts_nothing(admin):
    down = mock.Mock(side_effect=ConnectionError("redis: connection refused"))
    with pytest.raises(PortalError) as refused:
        start(admin, task=down)
    assert refused.value.message == QUEUE_DOWN
    assert Job.objects.count() == 0


def test_the_person_who_started_a_job_sees_its_progress(client, admin, director):
    job = start(admin)
    client.force_login(admin)
    response = client.get(f"/jobs/{job.pk}/")
    assert response.status_code == 200
    assert response.json() == {
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
    client.force_login(director)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    client.logout()
    response = client.get(f"/jobs/{job.pk}/")
    assert (response.status_code, response["Location"]) == (
        302,
        f"/accounts/login/?next=/jobs/{job.pk}/",
    )


def test_jobs_waiting_longer_than_five_minutes_are_stalled(admin, outsider):
    old = timezone.now() - dt.timedelta(minutes=6)
    waiting = Job.objects.create(
        key="old", kind="test", title="x", organisation=admin.organisation, created_at=old
    )
    Job.objects.create(key="new", kind="test", title="x", organisation=admin.organisation)
    Job.objects.create(
        key="other", kind="test", title="x", organisation=outsider.organisation, created_at=old
    )
    assert list(stalled_jobs(admin.organisation_id)) == [waiting]
