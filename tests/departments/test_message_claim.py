"""A department message's copies sent by a run that goes on after stopping (its worker
killed, the job put back) go only to people who are still administrators of an institution
the message was addressed to: one switched off meanwhile gets no copy, the letter says why
and the log has its entry."""

from __future__ import annotations

from django.core import mail

from accounts.models import Role
from accounts.services import person_set_active
from cdt_portal.models import AuditEntry, Delivery, Job
from departments import services
from tests.factories import UserFactory


def test_an_administrator_switched_off_meanwhile_gets_no_copy(
    monkeypatch, department_officer, organisation, admin, director
):
    second = UserFactory(
        organisation=organisation, username="admin2", last_name="Второва", first_name="Анна",
        email="admin2@cdt.example", roles=[Role.ADMIN],
    )  # fmt: skip
    type(admin).objects.filter(pk=admin.pk).update(email="admin@cdt.example")
    real = services.build_templated

    def broken(*args, **kwargs):
        raise RuntimeError("the letter could not be built")

    monkeypatch.setattr(services, "build_templated", broken)
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    job = Job.objects.get(kind="department_message")
    assert job.status == Job.Status.FAILED
    monkeypatch.setattr(services, "build_templated", real)

    person_set_active(person=second, actor=director, active=False)
    mail.outbox.clear()
    # The run again, as the worker's recovery starts it after a kill.
    services.message_letters_run(job_id=job.pk, message_id=message.pk)
    assert [m.to for m in mail.outbox] == [["admin@cdt.example"]]
    assert dict(
        Delivery.objects.filter(batch=message.batch).values_list("person__username", "status")
    ) == {"admin": "sent", "admin2": "withdrawn"}
    withdrawn = AuditEntry.objects.get(action="department.message.email_withdrawn")
    assert (withdrawn.object_id, withdrawn.data["reason"]) == (
        str(second.pk),
        services.NO_LONGER_ADMIN,
    )
