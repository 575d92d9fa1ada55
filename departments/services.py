"""The department's writes: sending a message to its institutions' administrators (shown on
their dashboard, and a copy by e-mail through the outbox), and an administrator marking it
read. One transaction and one audit entry each; a refusal is a `PortalError` and changes
nothing."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Organisation, Role, User
from cdt_portal import outbox
from cdt_portal.audit import log_action
from cdt_portal.emails import build_templated
from cdt_portal.errors import PortalError
from cdt_portal.jobs import NOT_FAILED, ThrottledProgress, job_retry, job_task, start_job
from cdt_portal.models import Delivery, Job
from cdt_portal.outbox import Recipient

from .models import DepartmentMessage, MessageReceipt
from .selectors import message_letters_job

MESSAGE_SENT = "department.message.sent"
MESSAGE_READ = "department.message.read"
# One entry a copy by e-mail, as it ends.
LETTER_ACTIONS = {
    Delivery.Status.SENT: "department.message.emailed",
    Delivery.Status.FAILED: "department.message.email_failed",
    Delivery.Status.UNCONFIRMED: "department.message.email_unconfirmed",
    Delivery.Status.WITHDRAWN: "department.message.email_withdrawn",
}
NO_LONGER_ADMIN = "больше не администратор организации, которой адресовано сообщение"

NOT_DEPARTMENT = "Отправлять сообщения может только специалист управления образования."
NO_INSTITUTIONS = "В управлении образования нет ни одной организации: сообщение некому отправить."
EMPTY = "Заполните тему и текст сообщения."
DUPLICATE = "Такое же сообщение уже отправлено {when}: второй раз его не отправляем."
NOT_ADMIN = "Отметить сообщение прочитанным может только администратор организации."
NOT_THEIR_MESSAGE = "Рассылку продолжает только специалист управления, отправившего сообщение."
# A second press of «Отправить» (or a reload of the form's answer) within this time finds the
# message the first one sent instead of sending it again.
DUPLICATE_WINDOW = dt.timedelta(minutes=10)


def message_send(*, actor: User, subject: str, text: str) -> DepartmentMessage:
    """One message to the platform administrators of every institution under the actor's
    department, as the institutions are now."""
    if actor.department_id is None or not actor.has_role(Role.DEPARTMENT):
        raise PortalError(NOT_DEPARTMENT)
    subject, text = subject.strip(), text.strip()
    if not subject or not text:
        raise PortalError(EMPTY)
    with transaction.atomic():
        # One sender at a time per department, so two presses cannot both pass the check.
        department = type(actor.department).objects.select_for_update().get(pk=actor.department_id)
        earlier = DepartmentMessage.objects.filter(
            department=department,
            subject=subject,
            text=text,
            sent_at__gte=timezone.now() - DUPLICATE_WINDOW,
        ).first()
        if earlier is not None:
            when = timezone.localtime(earlier.sent_at).strftime("%d.%m.%Y в %H:%M")
            raise PortalError(DUPLICATE.format(when=when))
        institutions = list(
            Organisation.objects.filter(department=department).values_list("pk", "short_name")
        )
        if not institutions:
            raise PortalError(NO_INSTITUTIONS)
        message = DepartmentMessage.objects.create(
            department=department,
            author=actor,
            author_name=actor.full_name,
            subject=subject,
            text=text,
        )
        message.institutions.set([pk for pk, _name in institutions])
        administrators = (
            User.objects.filter(organisation__in=[pk for pk, _name in institutions], is_active=True)
            .with_role(Role.ADMIN)
            .order_by("organisation_id", "pk")
        )
        letters = outbox.record(
            batch=message.batch,
            kind=Delivery.Kind.DEPARTMENT_MESSAGE,
            organisation_id=None,
            recipients=[
                Recipient(person, person.email, organisation_id=person.organisation_id)
                for person in administrators
            ],
        )
        log_action(
            actor,
            message,
            MESSAGE_SENT,
            {"subject": subject, "institutions": [name for _pk, name in institutions]},
        )
        start_job(
            task=send_department_message,
            key=message.job_key,
            kind="department_message",
            title=f"Сообщение «{subject}» на e-mail администраторов",
            organisation_id=None,
            actor=actor,
            args=(message.pk,),
            total=letters,
        )
    return message


def message_letters_go_on(*, actor: User, message: DepartmentMessage) -> Job:
    """«Продолжить рассылку»: the job sending the copies failed (the queue was down, the
    worker gave up), so it is queued again as it was (`job_retry`, audited as `job.retried`);
    its run sends only the letters still waiting. A job not failed is refused."""
    if actor.department_id != message.department_id or not actor.has_role(Role.DEPARTMENT):
        raise PortalError(NOT_THEIR_MESSAGE)
    job = message_letters_job(message)
    if job is None:
        raise PortalError(NOT_FAILED)
    return job_retry(job=job, actor=actor)


def message_letters_run(*, job_id: int, message_id: int) -> str:
    """The job: the message's copies by e-mail, each claimed before the mail server gets it
    and settled after (`cdt_portal.outbox`), so a run again sends nobody a second copy."""
    message = DepartmentMessage.objects.select_related("department", "author").get(pk=message_id)
    total = outbox.letters(message.batch).count()
    progress = ThrottledProgress(job_id, total)
    done = total - outbox.letters(message.batch).filter(status=Delivery.Status.PENDING).count()

    addressed = set(message.institutions.values_list("pk", flat=True))

    def claim(letter: Delivery) -> None:
        # Asked again as its turn comes: a run resumed later (its worker killed, the job put
        # back) writes to nobody switched off or no longer an administrator there
        # (tests/departments/test_message_claim.py).
        person = letter.person
        if not (
            person.is_active and person.organisation_id in addressed and person.has_role(Role.ADMIN)
        ):
            letter.status, letter.reason = Delivery.Status.WITHDRAWN, NO_LONGER_ADMIN

    def build(letter: Delivery):
        return build_templated(
            "department_message",
            to=[letter.email],
            context={
                "person": letter.person,
                "message": message,
                "base_url": settings.PORTAL_URL,
            },
        )

    def settled(letter: Delivery) -> None:
        log_action(
            message.author,
            letter.person,
            LETTER_ACTIONS[letter.status],
            {"message": message.pk, "email": letter.email, "reason": letter.reason},
            organisation_id=letter.organisation_id,
        )

    def advance() -> None:
        nonlocal done
        done += 1
        progress(done)

    outbox.send(
        batch=message.batch, build=build, on_claim=claim, on_settled=settled, progress=advance
    )
    progress(total, final=True)
    return ""


@job_task()
def send_department_message(job_id: int, message_id: int) -> str:
    return message_letters_run(job_id=job_id, message_id=message_id)


def message_read(*, reader: User, message: DepartmentMessage) -> MessageReceipt:
    """The administrator has read the message; reading it again changes nothing."""
    if reader.organisation_id is None or not reader.has_role(Role.ADMIN):
        raise PortalError(NOT_ADMIN)
    existing = MessageReceipt.objects.filter(message=message, reader=reader).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            receipt = MessageReceipt.objects.create(
                message=message, organisation_id=reader.organisation_id, reader=reader
            )
            log_action(reader, message, MESSAGE_READ, {"subject": message.subject})
    except IntegrityError:
        # A second tab pressed «Прочитано» at the same moment: its row is the one that counts.
        return MessageReceipt.objects.get(message=message, reader=reader)
    return receipt
