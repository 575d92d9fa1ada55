"""A department's message whose copies by e-mail could not be sent (the queue was down when it
was sent): its page says so and offers «Продолжить рассылку»; one press queues the same job
again, which sends the copies still waiting and nobody a second one. Any other specialist of
the department follows that job too; nobody else may press, or see it."""

from __future__ import annotations

import pytest
from django.core import mail
from huey.contrib.djhuey import HUEY

from accounts.models import Role
from cdt_portal.jobs import NOT_FAILED, QUEUE_DOWN
from cdt_portal.models import AuditEntry, Delivery, Job
from departments import services
from tests.factories import UserFactory


@pytest.fixture
def refused_message(department_officer, admin, monkeypatch):
    """A message sent while the queue refused its job: the job failed, the copy waits."""
    admin.email = "admin@example.ru"
    admin.save(update_fields=["email"])

    def refuse(task):
        raise OSError("unable to open database file")

    with monkeypatch.context() as queue_down:
        queue_down.setattr(HUEY, "enqueue", refuse)
        message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    job = Job.objects.get(key=message.job_key)
    assert (job.status, job.message) == (Job.Status.FAILED, QUEUE_DOWN)
    assert list(Delivery.objects.filter(batch=message.batch).values_list("status")) == [
        ("pending",)
    ]
    assert mail.outbox == []
    return message


def test_the_page_offers_to_go_on_and_one_press_sends_the_waiting_copy(
    client, department_officer, refused_message
):
    message = refused_message
    address = f"/department/messages/{message.pk}/"
    client.force_login(department_officer)
    page = client.get(address).content.decode()
    assert f"не удалось: {QUEUE_DOWN}" in page
    assert "Ждут отправки копий на e-mail: 1." in page
    assert f'action="{address}go-on/"' in page
    entries = AuditEntry.objects.count()

    response = client.post(f"{address}go-on/")

    assert (response.status_code, response["Location"]) == (302, address)
    job = Job.objects.get(key=message.job_key)
    assert (job.status, job.attempt) == (Job.Status.DONE, 2)
    [letter] = mail.outbox
    assert letter.to == ["admin@example.ru"]
    assert list(Delivery.objects.filter(batch=message.batch).values_list("status")) == [("sent",)]
    retried = AuditEntry.objects.filter(action="job.retried").get()
    assert (retried.actor_id, retried.object_id) == (department_officer.pk, str(job.pk))
    # The retry, and the copy sent: department.message.emailed.
    assert AuditEntry.objects.count() == entries + 2
    page = client.get(address).content.decode()
    assert "Продолжить рассылку" not in page
    assert "отправлено: 1" in page


def test_a_copy_left_in_flight_is_settled_as_unconfirmed_and_not_sent_again(
    client, department_officer, refused_message
):
    """The job stopped for good while the copy was with the mail server: nothing waits, yet
    the page offers to go on, says what will become of it, and the press settles it without
    sending it a second time."""
    message = refused_message
    Delivery.objects.filter(batch=message.batch).update(status=Delivery.Status.SENDING)
    address = f"/department/messages/{message.pk}/"
    client.force_login(department_officer)
    page = client.get(address).content.decode()
    assert "Ждут отправки копий" not in page
    assert "Отправка прервалась на копиях: 1;" in page
    assert "Продолжить рассылку" in page

    response = client.post(f"{address}go-on/")

    assert (response.status_code, response["Location"]) == (302, address)
    assert Job.objects.get(key=message.job_key).status == Job.Status.DONE
    assert list(Delivery.objects.filter(batch=message.batch).values_list("status")) == [
        ("unconfirmed",)
    ]
    assert mail.outbox == []
    assert "Продолжить рассылку" not in client.get(address).content.decode()


def test_a_second_press_is_refused_and_sends_nothing(client, department_officer, refused_message):
    client.force_login(department_officer)
    address = f"/department/messages/{refused_message.pk}/go-on/"
    assert client.post(address).status_code == 302
    entries = AuditEntry.objects.count()

    response = client.post(address)

    assert response.status_code == 400
    assert NOT_FAILED in response.content.decode()
    assert Job.objects.get(key=refused_message.job_key).attempt == 2
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.count() == entries


def test_another_specialist_follows_the_job_and_another_department_does_not(
    client, department, department_officer, other_organisation, refused_message
):
    from accounts.models import Department

    job = Job.objects.get(key=refused_message.job_key)
    colleague = UserFactory(organisation=None, department=department, roles=[Role.DEPARTMENT])
    other = Department.objects.create(slug="uo2", full_name="Другое управление", short_name="УО 2")
    stranger = UserFactory(organisation=None, department=other, roles=[Role.DEPARTMENT])

    client.force_login(colleague)
    assert client.get(f"/jobs/{job.pk}/").json()["status"] == Job.Status.FAILED
    assert client.post(f"/department/messages/{refused_message.pk}/go-on/").status_code == 302

    client.force_login(stranger)
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    assert client.post(f"/department/messages/{refused_message.pk}/go-on/").status_code == 404
    assert Job.objects.get(pk=job.pk).attempt == 2


def test_the_service_refuses_a_specialist_of_another_department(
    department_officer, refused_message
):
    from accounts.models import Department
    from cdt_portal.errors import PortalError

    other = Department.objects.create(slug="uo2", full_name="Другое управление", short_name="УО 2")
    stranger = UserFactory(organisation=None, department=other, roles=[Role.DEPARTMENT])
    with pytest.raises(PortalError, match=services.NOT_THEIR_MESSAGE):
        services.message_letters_go_on(actor=stranger, message=refused_message)
    assert Job.objects.get(key=refused_message.job_key).status == Job.Status.FAILED


def test_a_press_while_the_queue_is_still_down_says_so(
    client, department_officer, refused_message, monkeypatch
):
    from django.contrib.messages import get_messages

    monkeypatch.setattr(HUEY, "enqueue", lambda task: (_ for _ in ()).throw(OSError("down")))
    client.force_login(department_officer)
    response = client.post(f"/department/messages/{refused_message.pk}/go-on/")
    assert response.status_code == 302
    job = Job.objects.get(key=refused_message.job_key)
    assert (job.status, job.attempt) == (Job.Status.FAILED, 2)
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [f"Рассылку продолжить не удалось: {QUEUE_DOWN}"]
    assert mail.outbox == []
