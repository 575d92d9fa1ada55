"""A manager's invitation code, sent by a job: the code is drawn when its letter is claimed, so
the job running again after its letter went replaces nothing, and a press after a refused
letter sends a new one (each press names its own letter)."""

from __future__ import annotations

import re
import smtplib

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from accounts.models import Invitation, Role
from accounts.services import invitation_accept, invitation_code_start, invitation_issue
from accounts.services.invitations import invitation_code_run
from cdt_portal.models import AuditEntry, Delivery, Job
from tests.factories import UserFactory

PASSWORD = "Dlinnyi-Parol-2026!"


@pytest.fixture
def invitation(director, organisation) -> Invitation:
    manager = UserFactory(
        organisation=organisation, username="new.admin", email="new.admin@example.ru",
        roles=[Role.ADMIN],
    )  # fmt: skip
    manager.set_unusable_password()
    manager.save(update_fields=["password"])
    return invitation_issue(user=manager, actor=director, base_url="http://t/").invitation


def code_in(letter) -> str:
    return re.search(r": (\d{6})\n", letter.body).group(1)


def refusing_server(monkeypatch, code: int, text: bytes) -> dict:
    """The mail server refuses every letter with `code` while `server["down"]` is true."""
    real_send = EmailBackend.send_messages
    server = {"down": True}

    def smtp(self, messages):
        if server["down"]:
            raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (code, text)})
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", smtp)
    return server


def test_the_job_run_again_after_its_letter_went_keeps_the_code_that_was_sent(invitation):
    """A worker killed after the letter went and before the job was marked done: the job is
    queued again with its own arguments (jobs_recover). It sends nothing and draws nothing."""
    job = invitation_code_start(invitation=invitation)
    [letter] = mail.outbox
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    job.refresh_from_db()
    invitation_code_run(job_id=job.pk, invitation_id=invitation.pk, press=job.task_args[1])
    assert len(mail.outbox) == 1
    assert AuditEntry.objects.filter(action="invitation.code_sent").count() == 1
    invitation.refresh_from_db()
    user = invitation_accept(invitation=invitation, password=PASSWORD, code=code_in(letter))
    assert user.check_password(PASSWORD)


def test_a_press_after_a_refused_letter_sends_a_new_one_within_the_same_minute(
    invitation, monkeypatch
):
    minute = timezone.now().replace(second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: minute)  # both presses in one minute
    server = refusing_server(monkeypatch, 450, b"mailbox busy")
    first = invitation_code_start(invitation=invitation)
    first.refresh_from_db()
    assert (first.status, first.message) == (
        "failed",
        "Письмо с кодом не отправлено: 450 mailbox busy",
    )
    invitation.refresh_from_db()
    refused_hash = invitation.code_hash

    server["down"] = False
    again = invitation_code_start(invitation=invitation)
    again.refresh_from_db()
    assert (again.pk, again.status, again.attempt) == (first.pk, "done", first.attempt + 1)
    [letter] = mail.outbox
    assert list(
        Delivery.objects.filter(kind="invitation_code").order_by("pk").values_list("status")
    ) == [("failed",), ("sent",)]
    invitation.refresh_from_db()
    assert invitation.code_hash != refused_hash
    user = invitation_accept(invitation=invitation, password=PASSWORD, code=code_in(letter))
    assert user.check_password(PASSWORD)


def test_a_code_for_an_invitation_accepted_meanwhile_is_not_sent(invitation):
    invitation.used_at = timezone.now()
    invitation.save(update_fields=["used_at"])
    job = invitation_code_start(invitation=invitation)
    job.refresh_from_db()
    assert (job.status, mail.outbox) == ("done", [])
    assert not AuditEntry.objects.filter(action="invitation.code_sent").exists()


def test_the_page_follows_the_code_then_says_why_it_did_not_go_and_then_that_it_went(
    invitation, monkeypatch
):
    """In production the job runs after the request answered: the page follows it (its bar
    reads the invitation's own status address), then says why the letter did not go, and after
    another press that it went, to the masked address."""
    from django.test import Client

    from accounts.invitations import invitation_url

    url = invitation_url(invitation, "")
    status_url = f"{url}code/"
    server = refusing_server(monkeypatch, 550, b"no such user")
    queued = []
    monkeypatch.setattr("cdt_portal.jobs._after_commit", queued.append)
    holder = Client()
    assert holder.get(status_url).status_code == 404  # no code asked for yet
    response = holder.post(url, {"send_code": "1"})
    assert (response.status_code, response["Location"]) == (302, url)
    page = holder.get(url).content.decode()
    assert f'data-job-url="{status_url}"' in page
    assert "Код подтверждения на ne***@example.ru" in page
    assert "new.admin@example.ru" not in page
    assert "data-code-sent" not in page
    assert holder.get(status_url).json()["status"] == "queued"

    for callback in queued:
        callback()
    state = holder.get(status_url).json()
    assert (state["status"], state["finished"], state["message"]) == (
        "failed",
        True,
        "Письмо с кодом не отправлено: 550 no such user",
    )
    page = holder.get(url).content.decode()
    assert "Письмо с кодом не отправлено: 550 no such user. Попробуйте получить код ещё раз" in page
    assert "data-job-url" not in page and "Код отправлен" not in page

    server["down"] = False
    queued.clear()
    holder.post(url, {"send_code": "1"})
    for callback in queued:
        callback()
    page = holder.get(url).content.decode()
    invitation.refresh_from_db()
    sent_at = timezone.localtime(invitation.code_sent_at)
    assert f"Код отправлен на ne***@example.ru в {sent_at:%H:%M}" in page
    assert "data-code-failed" not in page
    assert [m.to for m in mail.outbox] == [["new.admin@example.ru"]]


def test_the_codes_status_needs_the_links_own_token(client, invitation):
    from accounts.invitations import invitation_url, make_token

    invitation_code_start(invitation=invitation)
    good = f"{invitation_url(invitation, '')}code/"
    assert client.get(good).json()["status"] == "done"
    forged = good.replace(make_token(invitation), "forged")
    assert client.get(forged).status_code == 404
    assert client.post(good).status_code == 405


def test_a_code_the_queue_refused_is_one_sentence_on_the_page(invitation):
    """The queue's own message ends with its full stop: the page adds none of its own."""
    from django.test import Client
    from huey.contrib.djhuey import HUEY

    from accounts.invitations import invitation_url
    from cdt_portal.jobs import QUEUE_DOWN

    def refuse(task):
        raise OSError("unable to open database file")

    url = invitation_url(invitation, "")
    holder = Client()
    HUEY.enqueue = refuse
    try:
        holder.post(url, {"send_code": "1"})
    finally:
        vars(HUEY).pop("enqueue", None)
    page = holder.get(url).content.decode()
    assert f"{QUEUE_DOWN} Попробуйте получить код ещё раз" in page
    assert ".. " not in page
