"""A department's message also goes to each administrator of its institutions by e-mail,
through the outbox: one letter a person, «нет e-mail» for those without, nobody outside the
department, nobody twice; the message's page says per institution what became of them."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts.models import Role
from cdt_portal.jobs import job_retry
from cdt_portal.mailer import Mailer, Outcome
from cdt_portal.models import Delivery, Job
from departments import services
from tests.factories import UserFactory


@pytest.fixture
def administrators(organisation, other_organisation, department, admin):
    """The persona admin with an e-mail, a second administrator without one, a former one
    (inactive), and the administrator of an organisation outside the department."""
    admin.email = "admin@example.ru"
    admin.save(update_fields=["email"])
    no_mail = UserFactory(organisation=organisation, email="", roles=[Role.ADMIN])
    UserFactory(organisation=organisation, email="old@example.ru", roles=[Role.ADMIN],
                is_active=False)  # fmt: skip
    UserFactory(organisation=other_organisation, email="other@example.ru", roles=[Role.ADMIN])
    return admin, no_mail


def test_each_administrator_gets_one_letter_and_the_rest_are_told_apart(
    department_officer, organisation, administrators
):
    admin, no_mail = administrators
    message = services.message_send(
        actor=department_officer, subject="Срок ознакомления", text="Завершите до 15.12."
    )
    letters = Delivery.objects.filter(batch=message.batch).order_by("pk")
    assert [(d.person_id, d.email, d.status, d.organisation_id) for d in letters] == [
        (admin.pk, "admin@example.ru", "sent", organisation.pk),
        (no_mail.pk, "", "no_email", organisation.pk),
    ]
    [letter] = mail.outbox
    assert letter.to == ["admin@example.ru"]
    assert letter.subject.startswith("Управление образования: Срок ознакомления — Портал ")
    assert "Завершите до 15.12." in letter.body
    assert f"Здравствуйте, {admin.first_name} {admin.patronymic}!" in letter.body
    job = Job.objects.get(key=f"department-message:{message.pk}")
    assert (job.status, job.total, job.done) == (Job.Status.DONE, 2, 2)


def test_a_job_run_again_sends_nobody_a_second_copy(department_officer, administrators):
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    job = Job.objects.get(key=f"department-message:{message.pk}")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    job.refresh_from_db()
    job_retry(job=job, actor=department_officer)
    job.refresh_from_db()
    assert (job.status, job.attempt) == (Job.Status.DONE, 2)
    assert len(mail.outbox) == 1
    assert Delivery.objects.filter(batch=message.batch, status="sent").count() == 1


def test_a_refused_copy_is_failed_with_its_reason_and_shown_on_the_page(
    client, department_officer, organisation, administrators, monkeypatch
):
    monkeypatch.setattr(Mailer, "send", lambda self, message: Outcome("refused", "550 нет ящика"))
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    assert list(Delivery.objects.filter(batch=message.batch).values_list("status", "reason")) == [
        ("failed", "550 нет ящика"),
        ("no_email", ""),
    ]
    client.force_login(department_officer)
    page = client.get(f"/department/messages/{message.pk}/").content.decode()
    assert f'<tr data-institution="{organisation.slug}">' in page
    assert "не отправлено: 1<br>нет e-mail: 1" in page
