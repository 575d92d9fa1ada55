"""Two presses of «Повторить неотправленные» at the same instant (two managers, or one person's
two tabs), on PostgreSQL's row locks: one retry run, one letter to each person whose reminder
failed; the other press finds that run, or is told a later run replaced the one it retries."""

from __future__ import annotations

import smtplib

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

from acknowledgements.models import ReminderRun
from acknowledgements.services import reminders_retry_failed, reminders_start
from cdt_portal.errors import PortalError
from tests.races import POSTGRES_RACES, run_together

pytestmark = POSTGRES_RACES
BASE_URL = "http://testserver/"


def retry_press(run_pk: int, actor):
    def job(ready):
        run = ReminderRun.objects.select_related("version__document").get(pk=run_pk)
        ready()
        return reminders_retry_failed(run=run, actor=actor, base_url=BASE_URL)

    return job


def test_two_retries_at_once_start_one_run_and_send_each_letter_once(
    admin, director, teacher, regulation, monkeypatch
):
    for person, email in ((admin, "admin@example.ru"), (teacher, "teacher@example.ru")):
        person.email = email
        person.save(update_fields=["email"])
    real_send = EmailBackend.send_messages
    server = {"refuses": "teacher@example.ru"}

    def smtp(self, messages):
        if messages[0].to == [server["refuses"]]:
            raise smtplib.SMTPRecipientsRefused({server["refuses"]: (550, b"no such user")})
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", smtp)
    first = reminders_start(version=regulation, actor=admin, base_url=BASE_URL)
    assert first.deliveries.get(person=teacher).status == "failed"
    server["refuses"] = ""
    del mail.outbox[:]

    outcomes = run_together(retry_press(first.pk, admin), retry_press(first.pk, director))

    retry = ReminderRun.objects.get(retry_of=first)
    assert ReminderRun.objects.count() == 2
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    for result, error in outcomes:
        if error is None:
            assert result.pk == retry.pk
        else:
            assert isinstance(error, PortalError), repr(error)
            assert "была рассылка № 2" in error.message
    assert any(error is None for _, error in outcomes)
