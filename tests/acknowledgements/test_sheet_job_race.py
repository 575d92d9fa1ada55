"""The sheet's first task may start before the transaction that queued it commits its job row
(`start_job` queues inside it): the task waits for the row, and the job ends done."""

from __future__ import annotations

import time

from django.db import transaction

from accounts.models import Role
from acknowledgements.documents import sheet_lookup, stored_sheet
from acknowledgements.models import DocumentVersion
from acknowledgements.services import sheet_build
from cdt_portal.models import Job
from tests.acknowledgements.builders import make_version
from tests.factories import OrganisationFactory, UserFactory
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES


def test_the_first_task_waits_for_the_job_row_committed_after_it_started():
    organisation = OrganisationFactory()
    director = UserFactory(organisation=organisation, roles=[Role.DIRECTOR])
    for i in range(3):
        UserFactory(organisation=organisation, last_name=f"Педагог{i}", roles=[Role.TEACHER])
    version = make_version(organisation, director, approve=True)
    key = sheet_lookup(version).key
    created: list[int] = []

    def queue(ready):
        with transaction.atomic():
            job = Job.objects.create(key="race-sheet", kind="sheet", title="Лист ознакомления")
            created.append(job.pk)
            ready()
            time.sleep(1)  # the worker takes the task meanwhile
        return job.pk

    def work(ready):
        ready()
        while not created:
            time.sleep(0.01)
        sheet_build(job_id=created[0], version_id=version.pk, blank=False, sheet_key=key)

    [(job_pk, queue_error), (_, work_error)] = run_together(queue, work)
    assert (queue_error, work_error) == (None, None)
    job = Job.objects.get(pk=job_pk)
    assert (job.status, job.started_at is not None) == (Job.Status.DONE, True)
    fresh = DocumentVersion.objects.select_related("document__organisation").get(pk=version.pk)
    assert stored_sheet(sheet_lookup(fresh)) is not None
