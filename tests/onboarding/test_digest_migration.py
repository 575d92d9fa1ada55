"""The weekly digests moved from `onboarding.DigestSent` into the portal's one outbox
(onboarding migration 0010): each old week's row is one letter of that week's batch, addressed
to nobody in particular (the old row only counted its readers), sent or failed with its
reason; going back restores one row a week. Unfinished registration jobs are renamed to the
task's new module."""

from __future__ import annotations

import datetime as dt

import pytest

from cdt_portal.models import Delivery, Job
from portal.services import digest_batch, weekly_digest_send
from tests.migrating import migrate

BEFORE = [("onboarding", "0009_family_models_to_families")]
AT = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
WEEKS = {dt.date(2026, 11, 23): "", dt.date(2026, 11, 30): "550 нет ящика"}
OLD_TASK = "onboarding.tasks.send_registration_request"
NEW_TASK = "onboarding.services.request.send_registration_request"


@pytest.mark.django_db(transaction=True)
def test_old_digests_become_letters_and_unfinished_jobs_find_their_task(organisation, director):
    director.email = "director@example.ru"
    director.save(update_fields=["email"])
    old = migrate(BEFORE)
    try:
        Old = old.get_model("onboarding", "DigestSent")
        for week_start, reason in WEEKS.items():
            Old.objects.create(
                organisation_id=organisation.pk, week_start=week_start, at=AT, recipients=2,
                reason=reason,
            )  # fmt: skip
        OldJob = old.get_model("cdt_portal", "Job")
        for key, status in (("queued", "queued"), ("failed", "failed"), ("done", "done")):
            OldJob.objects.create(key=key, kind="registration_send", title="t", status=status,
                                  task_name=OLD_TASK)  # fmt: skip
    finally:
        migrate()

    letters = Delivery.objects.filter(kind="digest").order_by("pk")
    assert [(d.batch, d.person_id, d.status, d.reason, d.data, d.created_at) for d in letters] == [
        (digest_batch(organisation, week), None, "failed" if reason else "sent", reason,
         {"recipients": 2}, AT)
        for week, reason in WEEKS.items()
    ]  # fmt: skip
    assert dict(Job.objects.values_list("key", "task_name")) == {
        "queued": NEW_TASK, "failed": NEW_TASK, "done": OLD_TASK,
    }  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_going_back_restores_one_row_a_week(organisation, director):
    director.email = "director@example.ru"
    director.save(update_fields=["email"])
    migrate()
    weekly_digest_send(today=dt.date(2026, 11, 30))  # one letter a reader, new style
    try:
        back = migrate(BEFORE)
        rows = back.get_model("onboarding", "DigestSent").objects.order_by("pk")
        assert [(r.organisation_id, r.week_start, r.recipients, r.reason) for r in rows] == [
            (organisation.pk, dt.date(2026, 11, 30), 1, "")
        ]
        assert not back.get_model("cdt_portal", "Delivery").objects.filter(kind="digest")
    finally:
        migrate()
