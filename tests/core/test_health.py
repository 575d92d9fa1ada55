"""`/healthz`: the database, the job queue, the worker's heartbeat and the newest backup, each on
its own line; 503 when the database, the queue or the worker is down, 200 with a warning for an
old (or missing) backup."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from cdt_portal.models import ServiceBeat


@pytest.fixture
def with_a_worker(db):
    """As in production: jobs go to a queue that a worker takes them from."""
    HUEY.immediate = False
    yield
    HUEY.immediate = True


def stamp(name: str, ago: dt.timedelta) -> None:
    ServiceBeat.objects.update_or_create(name=name, defaults={"at": timezone.now() - ago})


def lines(response) -> list[str]:
    return response.content.decode().splitlines()


def test_all_parts_working_answer_200_line_by_line(client, with_a_worker):
    stamp("worker", dt.timedelta(seconds=20))
    stamp("backup", dt.timedelta(hours=3))
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert lines(response) == [
        "database: ok",
        "queue: ok (0 waiting)",
        "worker: ok (heartbeat 20 s ago)",
        "backup: ok (newest 3 h ago)",
    ]


@pytest.mark.parametrize(
    ("ago", "line"),
    [
        (None, "worker: down (no heartbeat yet)"),
        (dt.timedelta(minutes=4), "worker: down (last heartbeat 4 min ago)"),
    ],
)
def test_a_silent_worker_answers_503(client, with_a_worker, ago, line):
    if ago is not None:
        stamp("worker", ago)
    response = client.get("/healthz")
    assert (response.status_code, lines(response)[2]) == (503, line)


def test_a_queue_that_does_not_answer_answers_503(client, with_a_worker, monkeypatch):
    stamp("worker", dt.timedelta(seconds=5))

    def refuse():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(HUEY, "pending_count", refuse)
    response = client.get("/healthz")
    assert (response.status_code, lines(response)[1]) == (503, "queue: down (does not answer)")


def test_a_database_that_does_not_answer_answers_503(client, db):
    with mock.patch(
        "cdt_portal.health.connection.cursor", side_effect=OperationalError("connection refused")
    ):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert lines(response) == ["database: down (does not answer)", "queue: ok (0 waiting)"]


@pytest.mark.parametrize(
    ("ago", "line"),
    [
        (None, "backup: warning (none made yet)"),
        (dt.timedelta(hours=37), "backup: warning (newest 37 h ago)"),
    ],
)
def test_an_old_or_missing_backup_is_a_warning_not_an_outage(client, with_a_worker, ago, line):
    stamp("worker", dt.timedelta(seconds=5))
    if ago is not None:
        stamp("backup", ago)
    response = client.get("/healthz")
    assert (response.status_code, lines(response)[3]) == (200, line)


def test_in_immediate_mode_no_worker_is_needed(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert lines(response)[2] == "worker: ok (jobs run at once, immediate mode)"


def test_the_superusers_admin_shows_each_part_and_warns_of_an_old_backup(
    client, superuser, with_a_worker
):
    stamp("worker", dt.timedelta(seconds=20))
    stamp("backup", dt.timedelta(hours=40))
    client.force_login(superuser)
    page = client.get("/admin/").content.decode()
    assert "Состояние портала" in page
    rows = [" ".join(row.split()) for row in page.split("<tr>")[1:]]
    assert rows[2].startswith(
        '<th scope="row">Фоновый обработчик</th> <td>в порядке</td> <td>сигнал 20 с назад</td>'
    )
    assert rows[3].startswith(
        '<th scope="row">Резервная копия</th> <td><strong>внимание</strong></td> '
        "<td>последняя 40 ч назад</td>"
    )
