"""A sheet whose stored files are gone is built again by the same button, under the real worker
(`manage.py run_huey`, two processes, on a Redis queue; the views here queue onto it): the
director presses «Сформировать», the worker builds and stores the sheet, the page serves the
PDF; the files are removed (by hand, or lost with a disk); pressing again builds it again, in
the same job (its key names the same content), an attempt for each press, none taken for lost.

Before: the job found done for the key was taken as the sheet, the worker dropped the task it
was given again, and the page stayed «в очереди» for good. PostgreSQL only, as the other tests
under the real worker."""

from __future__ import annotations

from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from acknowledgements import sheet
from cdt_portal.models import AuditEntry, Job
from tests.jobs import stress_support
from tests.jobs.stress_support import wait_for

pytestmark = stress_support.real_worker_marks()


def press_and_open(client: Client, url: str, worker) -> bytes:
    """«Сформировать», then the page as a browser polls it, until it is the PDF."""
    pressed = client.post(url)
    assert (pressed.status_code, pressed["Location"]) == (302, url)
    answers: list = []

    def opened() -> bool:
        answers.append(client.get(url))
        return answers[-1]["Content-Type"] == "application/pdf"

    wait_for(opened, 60, "the sheet to be served", worker)
    return b"".join(answers[-1].streaming_content) if answers[-1].streaming else answers[-1].content


def sheet_job_done() -> bool:
    return Job.objects.filter(kind="sheet", status=Job.Status.DONE).exists()


def stored_files() -> list[str]:
    if not default_storage.exists(sheet.SHEET_FOLDER):
        return []
    return sorted(default_storage.listdir(sheet.SHEET_FOLDER)[1])


def test_a_sheet_whose_files_are_gone_is_built_again_by_the_same_button(
    regulation, director, worker
):
    worker.start(silence=30)
    worker.wait_ready()
    client = Client()
    client.force_login(director)
    url = reverse("regulation_sheet_pdf")

    first = press_and_open(client, url, worker)
    assert first.startswith(b"%PDF-")
    files = stored_files()
    assert files, "the worker stored the sheet"
    # The whole is stored, then the job is marked done: the page may serve it a moment before.
    wait_for(sheet_job_done, 30, "the sheet's job to end", worker)
    [job] = Job.objects.filter(kind="sheet")
    assert (job.status, job.attempt) == (Job.Status.DONE, 1)

    for name in files:
        default_storage.delete(f"{sheet.SHEET_FOLDER}/{name}")
    gone = client.get(url)
    assert (gone.status_code, gone["Content-Type"]) == (200, "text/html; charset=utf-8")

    again = press_and_open(client, url, worker)
    assert again.startswith(b"%PDF-")
    assert stored_files() == files  # the same content, stored again under the same names
    wait_for(sheet_job_done, 30, "the sheet's job to end", worker)
    [job] = Job.objects.filter(kind="sheet")  # the same job, its second attempt
    assert (job.status, job.attempt, job.requeued) == (Job.Status.DONE, 2, 0)
    # Nothing was taken for lost and run again (each attempt is claimed by one worker once).
    assert not AuditEntry.objects.filter(action="job.requeued", object_id=str(job.pk)).exists()
