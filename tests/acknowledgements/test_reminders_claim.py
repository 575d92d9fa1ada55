"""A reminder run that stopped with letters still pending (a worker killed, a build that
failed) and goes on later asks again, as each letter's turn comes, whether the letter still
has a reason: nobody switched off, no reminder of a version that a newer one replaced, nobody
who read it meanwhile. The letters withdrawn say why; nothing is sent to them."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.services import person_set_active
from acknowledgements.services import acknowledgement_confirm, reminders_start
from acknowledgements.services import reminders as reminders_module
from cdt_portal.models import Delivery, Job
from tests.acknowledgements.builders import make_version
from tests.factories import PASSWORD


@pytest.fixture
def stopped_run(monkeypatch, admin, teacher, regulation):
    """A reminder run for the admin and the teacher whose first sending failed: its job is
    failed and both letters pending."""
    type(teacher).objects.filter(pk=teacher.pk).update(email="teacher@cdt.example")
    type(admin).objects.filter(pk=admin.pk).update(email="admin@cdt.example")
    real = reminders_module.build_templated

    def broken(*args, **kwargs):
        raise RuntimeError("the letter could not be built")

    monkeypatch.setattr(reminders_module, "build_templated", broken)
    reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    monkeypatch.setattr(reminders_module, "build_templated", real)
    job = Job.objects.get(kind="reminders")
    assert job.status == Job.Status.FAILED
    assert set(Delivery.objects.filter(kind="reminder").values_list("status", flat=True)) == {
        "pending"
    }
    return job


def retry(client, director, job):
    client.force_login(director)
    response = client.post(reverse("job_retry", kwargs={"pk": job.pk}))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.DONE


def letters():
    return dict(
        Delivery.objects.filter(kind="reminder").values_list("person__username", "reason")
    ) | {
        f"{username}:status": status
        for username, status in Delivery.objects.filter(kind="reminder").values_list(
            "person__username", "status"
        )
    }


def test_a_person_switched_off_meanwhile_is_not_reminded(
    client, admin, director, teacher, stopped_run
):
    person_set_active(person=teacher, actor=admin, active=False)
    mail.outbox.clear()
    retry(client, director, stopped_run)
    assert [m.to for m in mail.outbox] == [["admin@cdt.example"]]
    assert letters() == {
        "admin": "", "admin:status": "sent",
        "teacher": reminders_module.NOT_A_READER, "teacher:status": "withdrawn",
    }  # fmt: skip


def test_a_version_replaced_meanwhile_is_not_reminded_of(
    client, director, teacher, regulation, stopped_run
):
    newer = make_version(
        regulation.document.organisation, director, approve=True, number_text="9-О"
    )
    acknowledgement_confirm(
        version=newer, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    mail.outbox.clear()
    retry(client, director, stopped_run)
    assert mail.outbox == []
    assert letters() == {
        "admin": reminders_module.VERSION_REPLACED, "admin:status": "withdrawn",
        "teacher": reminders_module.VERSION_REPLACED, "teacher:status": "withdrawn",
    }  # fmt: skip
