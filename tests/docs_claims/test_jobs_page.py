"""README, «Background jobs»: «Фоновые работы» (`/jobs/`, linked from the dashboard) lists the
organisation's jobs with the reasons of failures, and «Повторить» where a job may run again as
it was (a failed job whose task is retryable), nowhere else. Paths are written out, as the
README gives them, so a renamed URL name does not change what is checked."""

from __future__ import annotations

import re

from cdt_portal.errors import PortalError
from cdt_portal.jobs import job_task, start_job
from cdt_portal.models import Job

RETRYABLE_REASON = "Почтовый сервер не ответил."
FINAL_REASON = "Файл повреждён: начните заново."


@job_task()
def docs_may_run_again(job_id: int) -> str:
    raise PortalError(RETRYABLE_REASON)


@job_task(retryable=False)
def docs_may_not_run_again(job_id: int) -> str:
    raise PortalError(FINAL_REASON)


@job_task()
def docs_done(job_id: int) -> str:
    return "/result/"


def start(actor, key: str, task, title: str) -> Job:
    job = start_job(
        task=task,
        key=key,
        kind="test",
        title=title,
        organisation_id=actor.organisation_id,
        actor=actor,
        args=(),
    )
    job.refresh_from_db()
    return job


def row_of(page: str, job: Job) -> str:
    found = re.search(rf'<tr data-job-row="{job.pk}">.*?</tr>', page, re.S)
    assert found, f"job {job.pk} is not listed"
    return found.group(0)


def test_the_jobs_page_lists_reasons_and_offers_a_retry_only_where_it_may_run_again(
    client, admin, outsider
):
    again = start(admin, "docs:again", docs_may_run_again, "Рассылка приглашений")
    final = start(admin, "docs:final", docs_may_not_run_again, "Утверждение редакции")
    done = start(admin, "docs:done", docs_done, "Лист ознакомления")
    theirs = start(outsider, "docs:theirs", docs_may_run_again, "Чужая рассылка")
    statuses = [job.status for job in (again, final, done, theirs)]
    assert statuses == ["failed", "failed", "done", "failed"]

    client.force_login(admin)
    response = client.get("/jobs/")
    assert response.status_code == 200
    page = response.content.decode()

    retry_form = f'action="/jobs/{again.pk}/retry/"'
    again_row = row_of(page, again)
    assert RETRYABLE_REASON in again_row
    assert retry_form in again_row and "Повторить" in again_row

    final_row = row_of(page, final)
    assert FINAL_REASON in final_row
    assert "Повторить" not in final_row

    done_row = row_of(page, done)
    assert "Повторить" not in done_row and 'href="/result/"' in done_row

    assert f'data-job-row="{theirs.pk}"' not in page
    assert "Чужая рассылка" not in page


def test_the_dashboard_links_to_the_jobs_page(client, admin, director):
    for manager in (admin, director):
        client.force_login(manager)
        page = client.get("/dashboard/").content.decode()
        assert 'href="/jobs/">Фоновые работы</a>' in page
