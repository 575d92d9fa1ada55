"""One outbox for every letter the portal sends: invitations, reminders to read a document,
parents' reminders, the registration request, the weekly digest, the department's messages.

    outbox.record(batch="invitations:12", kind="invitation", organisation_id=…,
                  recipients=[Recipient(person, person.email)])
    outbox.send(batch="invitations:12", build=lambda delivery: message, …)

`record` writes one `Delivery` row per recipient (`pending`, or `no_email` for nobody to write
to); a batch records each person once, so a batch started again adds nobody twice. `send`
sends the batch's pending letters one by one over one SMTP connection (`Mailer`): each is
claimed — `sending` committed — before the letter is handed to the mail server, and settled
after (`sent`, `failed` with the server's reason, or `unconfirmed` when the line went quiet
after the server may have taken it). A row a later run finds still `sending` was in flight
when a worker stopped: it becomes `unconfirmed` and is never sent again by itself; the person
who sent the batch is offered it again (`UNSENT`) and decides. So a job that runs again — a
retry, a worker that was killed — sends nothing twice.

The app that owns a kind of letter says what it is (`build`), what to do as a letter is
claimed (`on_claim`: refuse it — `failed` with the reason —, withdraw it — `withdrawn`, when
what it asks was done meanwhile —, or issue what it carries, such as an invitation's new link)
and as it ends (`on_settled`: its audit entry, or taking back what a letter that did not go
carried). Both run inside the row's own transaction, and so does `build`, before the row is
committed `sending`: a letter that could not be built is still `pending`, and sent by the
job's next attempt (`tests/core/test_outbox.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from .mailer import SENT, UNKNOWN, Mailer
from .models import Delivery

Status = Delivery.Status
INTERRUPTED = (
    "работа прервалась, пока письмо передавалось почтовому серверу: неизвестно, ушло ли оно"
)
# Offered again to whoever sent them: not sent, and not known to have been sent.
UNSENT = (Status.FAILED, Status.UNCONFIRMED)


@dataclass(frozen=True)
class Recipient:
    person: Any
    email: str
    data: dict = field(default_factory=dict)
    # The organisation the letter is counted in when it is not the batch's own (a department's
    # message goes to the administrators of many institutions).
    organisation_id: int | None = None


def record(
    *, batch: str, kind: str, organisation_id: int | None, recipients: Iterable[Recipient]
) -> int:
    """One row per recipient not yet in the batch; returns how many were added. `organisation_id`
    is the batch's, unless a recipient names their own."""
    now = timezone.now()
    rows = [
        Delivery(
            batch=batch,
            kind=kind,
            organisation_id=recipient.organisation_id or organisation_id,
            person=recipient.person,
            email=recipient.email or "",
            data=recipient.data,
            status=Status.PENDING if recipient.email else Status.NO_EMAIL,
            created_at=now,
            updated_at=now,
        )
        for recipient in recipients
    ]
    before = Delivery.objects.filter(batch=batch).count()
    Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return Delivery.objects.filter(batch=batch).count() - before


Hook = Callable[[Delivery], None]


def send(
    *,
    batch: str,
    build: Callable[[Delivery], EmailMessage],
    on_claim: Hook | None = None,
    on_settled: Hook | None = None,
    progress: Callable[[], None] | None = None,
) -> None:
    """Send the batch's letters not sent yet, each claimed before and settled after. `on_claim`
    may settle a letter itself (set `status` and `reason`: `failed` or `withdrawn`); `progress`
    is called after each letter."""
    pks = list(
        Delivery.objects.filter(batch=batch, status__in=(Status.PENDING, Status.SENDING))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    with Mailer() as mailer:  # one SMTP connection for the whole batch
        for pk in pks:
            message = _claim(pk, build, on_claim, on_settled)
            if message is not None:
                _settle(pk, mailer.send(message), on_settled)
            if progress is not None:
                progress()


def _save(delivery: Delivery, status: str, reason: str = "", attempts: int | None = None) -> None:
    delivery.status = status
    delivery.reason = reason[:2000]
    delivery.updated_at = timezone.now()
    fields = ["status", "reason", "updated_at", "data"]
    if attempts is not None:
        delivery.attempts = attempts
        fields.append("attempts")
    delivery.save(update_fields=fields)


def _claim(
    pk: int,
    build: Callable[[Delivery], EmailMessage],
    on_claim: Hook | None,
    on_settled: Hook | None,
) -> EmailMessage | None:
    """The letter to hand to the mail server, its row committed `sending`; None when the row
    is not to be sent (settled already, or just now)."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",)).select_related("person").get(pk=pk)
        )
        if delivery.status == Status.SENDING:
            _save(delivery, Status.UNCONFIRMED, INTERRUPTED)
            if on_settled is not None:
                on_settled(delivery)
            return None
        if delivery.status != Status.PENDING:
            return None
        if on_claim is not None:
            on_claim(delivery)
            if delivery.status != Status.PENDING:  # refused or withdrawn by its app
                _save(delivery, delivery.status, delivery.reason)
                if on_settled is not None:
                    on_settled(delivery)
                return None
        # Built before `sending` is committed, in the same transaction: a letter that cannot
        # be built (a template error, the database gone for a moment) stays `pending` with
        # whatever `on_claim` did undone, and the job's next attempt sends it, instead of a
        # row left `sending` that the next run would call unconfirmed although nothing was
        # handed to the mail server.
        message = build(delivery)
        _save(delivery, Status.SENDING)
    return message


def _settle(pk: int, outcome, on_settled: Hook | None) -> None:
    status = {SENT: Status.SENT, UNKNOWN: Status.UNCONFIRMED}.get(outcome.outcome, Status.FAILED)
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",)).select_related("person").get(pk=pk)
        )
        if delivery.status != Status.SENDING:
            return  # settled meanwhile by a run that took it for interrupted
        _save(delivery, status, outcome.error, outcome.attempts)
        if on_settled is not None:
            on_settled(delivery)


# --- Reading ----------------------------------------------------------------------------------


def letters(batch: str) -> QuerySet[Delivery]:
    return Delivery.objects.filter(batch=batch).select_related("person").order_by("pk")


def counts(batch: str) -> Counter:
    """How many letters of the batch are in each state (every state present, 0 or more)."""
    found = dict(
        Delivery.objects.filter(batch=batch)
        .values("status")
        .annotate(letters=Count("pk"))
        .values_list("status", "letters")
    )
    return Counter({status: found.get(status, 0) for status in Status.values})


def unsent(batch: str) -> QuerySet[Delivery]:
    return letters(batch).filter(status__in=UNSENT)


def history(person) -> QuerySet[Delivery]:
    """Every letter the portal sent (or tried to send) the person, newest first."""
    return Delivery.objects.filter(person=person).order_by("-pk")
