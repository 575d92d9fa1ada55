"""Every change in departments writes exactly one audit entry; every refusal writes nothing."""

import pytest
from django.db.models import Max

from cdt_portal.audit import ACTION_LABELS
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from departments import services
from departments.models import DepartmentMessage, MessageReceipt
from tests import audit_observer

AUDITED_SERVICES = {
    "message_send": "department.message.sent",
    "message_read": "department.message.read",
    # The copies by e-mail, one entry a letter as it ends.
    "message_letters_run": "department.message.emailed",
    # The failed job queued again (cdt_portal.jobs.job_retry).
    "message_letters_go_on": "job.retried",
}
NOT_AUDITED: dict[str, str] = {}


observed = audit_observer.observed_fixture("departments")


def mark() -> int:
    return AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0


def since(start: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=start).order_by("pk"))


def test_every_action_has_a_russian_label():
    for action in AUDITED_SERVICES.values():
        assert ACTION_LABELS[action] != action


def test_send_writes_the_message_and_one_entry(department_officer, organisation, admin):
    start = mark()
    message = services.message_send(
        actor=department_officer, subject="  До 15.12  ", text="Завершите ознакомление."
    )
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.organisation_id, entry.object_id) == (
        "department.message.sent", department_officer.pk, None, str(message.pk),
    )  # fmt: skip
    assert entry.data == {"subject": "До 15.12", "institutions": [organisation.short_name]}
    assert list(message.institutions.all()) == [organisation]
    assert (message.subject, message.author_name) == ("До 15.12", department_officer.full_name)


@pytest.mark.parametrize(
    "subject, text, error",
    [("", "Текст", services.EMPTY), ("Тема", "   ", services.EMPTY)],
)
def test_send_refused_writes_nothing(department_officer, organisation, subject, text, error):
    start = mark()
    with pytest.raises(PortalError) as refused:
        services.message_send(actor=department_officer, subject=subject, text=text)
    assert refused.value.message == error
    assert since(start) == []
    assert DepartmentMessage.objects.count() == 0


def test_the_same_message_twice_is_sent_once(department_officer, organisation):
    services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    start = mark()
    with pytest.raises(PortalError) as refused:
        services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    assert refused.value.message.startswith("Такое же сообщение уже отправлено")
    assert since(start) == []
    assert DepartmentMessage.objects.count() == 1


def test_only_a_department_specialist_sends(admin, organisation):
    start = mark()
    with pytest.raises(PortalError) as refused:
        services.message_send(actor=admin, subject="Срок", text="До 15.12")
    assert refused.value.message == services.NOT_DEPARTMENT
    assert since(start) == []


def test_a_department_without_institutions_cannot_send(department_officer, organisation):
    organisation.department = None
    organisation.save(update_fields=["department"])
    with pytest.raises(PortalError) as refused:
        services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    assert refused.value.message == services.NO_INSTITUTIONS
    assert DepartmentMessage.objects.count() == 0


def test_read_writes_one_receipt_and_one_entry_once(department_officer, organisation, admin):
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    start = mark()
    receipt = services.message_read(reader=admin, message=message)
    again = services.message_read(reader=admin, message=message)
    [entry] = since(start)
    assert (entry.action, entry.actor_id, entry.organisation_id) == (
        "department.message.read", admin.pk, organisation.pk,
    )  # fmt: skip
    assert again.pk == receipt.pk
    assert list(MessageReceipt.objects.values_list("reader", "organisation")) == [
        (admin.pk, organisation.pk)
    ]


def test_read_refused_for_a_teacher(department_officer, organisation, teacher):
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    start = mark()
    with pytest.raises(PortalError):
        services.message_read(reader=teacher, message=message)
    assert since(start) == []
    assert MessageReceipt.objects.count() == 0


def test_each_copy_by_e_mail_writes_one_entry(department_officer, organisation, admin):
    admin.email = "admin@example.ru"
    admin.save(update_fields=["email"])
    start = mark()
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    sent, emailed = since(start)  # the job ran at once, as a fast worker would
    assert sent.action == "department.message.sent"
    assert (emailed.action, emailed.actor_id, emailed.object_id, emailed.organisation_id) == (
        "department.message.emailed", department_officer.pk, str(admin.pk), organisation.pk
    )  # fmt: skip
    assert emailed.data == {"message": message.pk, "email": "admin@example.ru", "reason": ""}


def test_going_on_with_the_copies_writes_the_retry_then_each_copy(
    department_officer, organisation, admin, monkeypatch
):
    from huey.contrib.djhuey import HUEY

    admin.email = "admin@example.ru"
    admin.save(update_fields=["email"])
    with monkeypatch.context() as queue_down:
        queue_down.setattr(HUEY, "enqueue", lambda task: (_ for _ in ()).throw(OSError("down")))
        message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    start = mark()
    job = services.message_letters_go_on(actor=department_officer, message=message)
    retried, emailed = since(start)  # the job ran again at once
    assert (retried.action, retried.actor_id, retried.object_id, retried.organisation_id) == (
        "job.retried", department_officer.pk, str(job.pk), None
    )  # fmt: skip
    assert (emailed.action, emailed.object_id) == ("department.message.emailed", str(admin.pk))


def test_going_on_refused_writes_nothing(department_officer, organisation):
    message = services.message_send(actor=department_officer, subject="Срок", text="До 15.12")
    start = mark()
    with pytest.raises(PortalError):
        services.message_letters_go_on(actor=department_officer, message=message)
    assert since(start) == []


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py)."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
