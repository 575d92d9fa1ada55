"""The outbox's claim: a letter is built before its row is committed `sending`, in the same
transaction, so a letter that could not be built is still `pending` (with what `on_claim` did
undone) and the job's next attempt sends it; nothing was handed to the mail server, so
nothing is called unconfirmed."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.mail import EmailMessage

from cdt_portal import outbox
from cdt_portal.models import Delivery

BATCH = "test-build:1"


def test_a_letter_that_could_not_be_built_stays_pending_and_the_next_attempt_sends_it(
    admin, teacher, organisation
):
    outbox.record(
        batch=BATCH,
        kind=Delivery.Kind.REMINDER,
        organisation_id=organisation.pk,
        recipients=[
            outbox.Recipient(admin, "admin@example.ru"),
            outbox.Recipient(teacher, "teacher@example.ru"),
        ],
    )
    built = []

    def claim(delivery):
        delivery.data = {"claimed": True}  # what an invitation's claim does: a new link

    def build(delivery):
        built.append(delivery.email)
        if delivery.email == "teacher@example.ru" and built.count(delivery.email) == 1:
            raise RuntimeError("the template could not be rendered")
        return EmailMessage("Тема", "Текст", to=[delivery.email])

    with pytest.raises(RuntimeError):
        outbox.send(batch=BATCH, build=build, on_claim=claim)
    rows = {row.email: row for row in Delivery.objects.filter(batch=BATCH)}
    assert (rows["admin@example.ru"].status, rows["admin@example.ru"].data) == (
        "sent",
        {"claimed": True},
    )
    assert (rows["teacher@example.ru"].status, rows["teacher@example.ru"].data) == ("pending", {})
    assert [m.to for m in mail.outbox] == [["admin@example.ru"]]

    outbox.send(batch=BATCH, build=build, on_claim=claim)
    teacher_row = Delivery.objects.get(batch=BATCH, email="teacher@example.ru")
    assert (teacher_row.status, teacher_row.reason) == ("sent", "")
    assert [m.to for m in mail.outbox] == [["admin@example.ru"], ["teacher@example.ru"]]
    assert built == ["admin@example.ru", "teacher@example.ru", "teacher@example.ru"]
