"""One outbox, so one history of letters a person: whatever app sent them (an invitation, a
reminder to read the regulation, the weekly digest, a department's message), the person's
page lists them together, newest first, each with what became of it."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from accounts.services import invitations_email_start
from acknowledgements.services import reminders_start
from cdt_portal import outbox
from cdt_portal.models import Delivery
from departments.services import message_send
from portal.services import weekly_digest_send


def test_every_letter_to_a_person_is_in_one_history_and_on_their_page(
    client, director, admin, organisation, regulation, department_officer
):
    admin.email = "admin@example.ru"
    admin.save(update_fields=["email"])
    invitations_email_start(
        organisation=organisation, people=[admin], actor=director, base_url="http://t/"
    )
    reminders_start(version=regulation, actor=director, base_url="http://t/")
    weekly_digest_send(today=timezone.localdate() + dt.timedelta(days=7))
    message_send(actor=department_officer, subject="Срок", text="До 15.12")

    letters = list(outbox.history(admin))
    assert [(letter.kind, letter.status, letter.email) for letter in letters] == [
        (Delivery.Kind.DEPARTMENT_MESSAGE, "sent", "admin@example.ru"),
        (Delivery.Kind.DIGEST, "sent", "admin@example.ru"),
        (Delivery.Kind.REMINDER, "sent", "admin@example.ru"),
        (Delivery.Kind.INVITATION, "sent", "admin@example.ru"),
    ]

    client.force_login(director)
    page = client.get(f"/people/{admin.pk}/").content.decode()
    table = page[page.index('<table class="table table-sm table-striped" data-letters>') :]
    table = table[: table.index("</table>")]
    shown = [
        "Сообщение управления образования",
        "Еженедельная сводка",
        "Напоминание ознакомиться с документом",
        "Приглашение",
    ]
    positions = [table.index(f"<td>{label}</td>") for label in shown]
    assert positions == sorted(positions)  # newest first
    assert table.count("<td>отправлено</td>") == 4
