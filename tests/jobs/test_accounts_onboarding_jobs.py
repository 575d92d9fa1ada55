"""Invitations by e-mail, the registration e-mail and staff imports run as jobs (at once in
tests: MemoryHuey, immediate); what each page shows, what each records, and what happens when
the queue or the mail server is down. Periodic housekeeping and the dashboard's warning."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts import services as account_services
from accounts.models import ImportBatch, Invitation, InvitationMailing, Role
from accounts.services.invitations import send_invitations
from cdt_portal import outbox
from cdt_portal.jobs import QUEUE_DOWN, jobs_recover
from cdt_portal.mailer import Mailer, Outcome
from cdt_portal.models import AuditEntry, Delivery, Job
from onboarding import services as onboarding_services
from onboarding.models import RequestStatus
from onboarding.services import request as request_module
from tests.factories import UserFactory

S = Delivery.Status


def waiting(organisation, n: int, *, email: bool = True):
    people = []
    for i in range(n):
        person = UserFactory(
            organisation=organisation,
            username=f"new{i}" if email else f"paper{i}",
            last_name=f"Новикова{i}",
            first_name="Анна",
            email=f"new{i}@example.ru" if email else "",
            roles=[Role.TEACHER],
        )
        person.set_unusable_password()
        person.save()
        people.append(person)
    return people


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_down(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", closed_port()
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 1


@pytest.fixture
def queue_down():
    """The queue refuses every task (Redis down, the queue file unwritable); calling the
    fixture's value brings it back."""

    def refuse(task):
        raise OSError("unable to open database file")

    HUEY.enqueue = refuse
    yield lambda: vars(HUEY).pop("enqueue", None)
    vars(HUEY).pop("enqueue", None)


@pytest.fixture
def queue_only(monkeypatch):
    """The queue takes the task but no worker runs it (yet)."""
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)
    return queued


# --- Invitations by e-mail ------------------------------------------------------------------


def test_the_bulk_action_emails_everyone_selected_with_an_email_and_shows_each_result(
    client, admin, organisation
):
    with_email = waiting(organisation, 2)
    [without] = waiting(organisation, 1, email=False)
    client.force_login(admin)
    response = client.post(
        reverse("invitations_print"),
        {"email": "1", "people": [p.pk for p in [*with_email, without]]},
    )
    mailing = InvitationMailing.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/people/invitations/mailings/{mailing.pk}/"
    assert sorted(m.to[0] for m in mail.outbox) == ["new0@example.ru", "new1@example.ru"]
    assert [(d.email, d.status, d.attempts) for d in mailing.deliveries.order_by("pk")] == [
        ("new0@example.ru", S.SENT, 1),
        ("new1@example.ru", S.SENT, 1),
    ]
    # Each letter carries the link of the invitation recorded for it.
    for delivery in mailing.deliveries.all():
        invitation = Invitation.objects.get(pk=delivery.data["invitation"])
        assert invitation.emailed_to == delivery.email
        assert f"/invite/{invitation.pk}/" in next(
            m.body for m in mail.outbox if m.to == [delivery.email]
        )
    assert not Invitation.objects.filter(user=without).exists()
    job = Job.objects.get(key=mailing.key)
    assert (job.status, job.done, job.total, job.started_by) == ("done", 2, 2, admin)
    page = client.get(response["Location"]).content.decode()
    assert page.count("<td>отправлено</td>") == 2
    assert "Отправить ещё раз" not in page


def test_pressing_twice_finds_the_same_job_and_sends_once(client, admin, organisation, queue_only):
    people = waiting(organisation, 2)
    client.force_login(admin)
    data = {"email": "1", "people": [p.pk for p in people]}
    first = client.post(reverse("invitations_print"), data)
    second = client.post(reverse("invitations_print"), data)
    assert first["Location"] == second["Location"]
    assert InvitationMailing.objects.count() == 1 and Job.objects.count() == 1
    assert len(queue_only) == 1
    assert Delivery.objects.filter(kind="invitation", status=S.PENDING).count() == 2


def test_smtp_down_each_person_shows_not_sent_with_the_reason_and_can_be_retried(
    client, admin, organisation, smtp_down, settings
):
    people = waiting(organisation, 2)
    client.force_login(admin)
    response = client.post(
        reverse("invitations_print"), {"email": "1", "people": [p.pk for p in people]}
    )
    mailing = InvitationMailing.objects.get()
    deliveries = list(mailing.deliveries.order_by("pk"))
    # Tried three times each (MAIL_SEND_RETRIES = 2), then recorded as not sent.
    assert [(d.status, d.attempts) for d in deliveries] == [(S.FAILED, 3), (S.FAILED, 3)]
    assert all("Connection refused" in d.reason for d in deliveries)
    # The new links reached nobody: none is kept.
    assert not Invitation.objects.filter(user__in=people).exists()
    assert Job.objects.get(key=mailing.key).status == "done"
    page = client.get(response["Location"]).content.decode()
    assert page.count("не отправлено: ") == 2
    assert "Отправить ещё раз тем, кому не отправлено или не подтверждено (2)" in page

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # server back
    retry = client.post(reverse("invitation_mailing_retry", kwargs={"pk": mailing.pk}))
    again = InvitationMailing.objects.exclude(pk=mailing.pk).get()
    assert retry.status_code == 302
    assert retry["Location"] == f"/people/invitations/mailings/{again.pk}/"
    assert [d.status for d in again.deliveries.all()] == [S.SENT, S.SENT]
    assert sorted(m.to[0] for m in mail.outbox) == ["new0@example.ru", "new1@example.ru"]
    assert AuditEntry.objects.filter(action="invitation.email_failed").count() == 2
    assert AuditEntry.objects.filter(action="invitation.emailed").count() == 2


def test_a_temporary_refusal_is_retried_inside_the_job(admin, organisation, monkeypatch):
    import smtplib

    from django.core.mail.backends.locmem import EmailBackend

    [person] = waiting(organisation, 1)
    calls = []
    original = EmailBackend.send_messages

    def busy_once(self, messages):
        calls.append(1)
        if len(calls) == 1:
            raise smtplib.SMTPDataError(451, b"try again later")
        return original(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", busy_once)
    account_services.invitations_email_start(
        organisation=organisation, people=[person], actor=admin, base_url="http://testserver/"
    )
    delivery = Delivery.objects.filter(kind="invitation").get()
    assert (delivery.status, delivery.attempts, len(mail.outbox)) == (S.SENT, 2, 1)


def test_the_person_page_invites_through_a_job_and_shows_the_letters_fate(
    client, admin, organisation, queue_only
):
    [person] = waiting(organisation, 1)
    client.force_login(admin)
    response = client.post(reverse("person_invite", kwargs={"pk": person.pk}))
    assert response.status_code == 302 and response["Location"] == f"/people/{person.pk}/"
    job = Job.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert f'data-job-url="/jobs/{job.pk}/"' in page  # the progress bar, polled
    assert mail.outbox == []

    send_invitations.call_local(job.pk, job.attempt, InvitationMailing.objects.get().pk)
    page = client.get(response["Location"]).content.decode()
    assert "Письмо-приглашение на new0@example.ru: <strong>отправлено</strong>" in page
    assert len(mail.outbox) == 1


def test_running_the_job_again_sends_nothing_twice_and_settles_the_one_in_flight(
    admin, organisation, queue_only
):
    people = waiting(organisation, 3)
    job = account_services.invitations_email_start(
        organisation=organisation, people=people, actor=admin, base_url="http://testserver/"
    )
    mailing = InvitationMailing.objects.get()
    first, second, third = mailing.deliveries.order_by("pk")
    # As a killed worker leaves it: one sent, one handed to the server, one waiting.
    Delivery.objects.filter(kind="invitation", pk=first.pk).update(status=S.SENT)
    Delivery.objects.filter(kind="invitation", pk=second.pk).update(status=S.SENDING)
    account_services.invitation_mailing_run(job_id=job.pk, mailing_id=mailing.pk)
    account_services.invitation_mailing_run(job_id=job.pk, mailing_id=mailing.pk)
    assert [m.to for m in mail.outbox] == [[third.email]]
    second.refresh_from_db()
    assert second.status == S.UNCONFIRMED and "неизвестно, ушло ли оно" in second.reason
    # Nothing sends it by itself; the administrator is offered it again and decides.
    retry = account_services.invitation_mailing_retry(mailing=mailing, actor=admin)
    again = InvitationMailing.objects.exclude(pk=mailing.pk).get()
    assert list(again.deliveries.values_list("email", flat=True)) == [second.email]
    account_services.invitation_mailing_run(job_id=retry.pk, mailing_id=again.pk)
    assert [m.to for m in mail.outbox] == [[third.email], [second.email]]


def test_a_lost_invitation_job_is_queued_again_once(admin, organisation, queue_only):
    people = waiting(organisation, 2)
    job = account_services.invitations_email_start(
        organisation=organisation, people=people, actor=admin, base_url="http://testserver/"
    )
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(status="running", heartbeat_at=long_ago)
    assert jobs_recover() == [job.pk]
    assert jobs_recover() == []  # taken once
    assert len(queue_only) == 2  # the first start, then the requeue
    assert [task.args[:2] for task in queue_only] == [(job.pk, 1), (job.pk, 2)]
    assert Job.objects.get(pk=job.pk).status == "queued"


# --- The queue is down: the job fails with the reason, the page says so ------------------


def test_queue_down_inviting_says_so_sends_nothing_and_can_be_retried(
    client, admin, organisation, queue_down
):
    [person] = waiting(organisation, 1)
    client.force_login(admin)
    response = client.post(reverse("person_invite", kwargs={"pk": person.pk}), follow=True)
    assert response.redirect_chain == [(f"/people/{person.pk}/", 302)]
    assert QUEUE_DOWN in response.content.decode()
    job = Job.objects.get()
    assert (job.status, job.message) == ("failed", QUEUE_DOWN)
    assert list(Delivery.objects.filter(kind="invitation").values_list("status", flat=True)) == [
        S.PENDING
    ]
    assert mail.outbox == []
    # The queue is back: «Повторить» on the jobs page sends the letter, once.
    queue_down()
    retried = client.post(reverse("job_retry", kwargs={"pk": job.pk}), follow=True)
    assert retried.redirect_chain == [("/jobs/", 302)]
    assert [m.to for m in mail.outbox] == [[person.email]]
    assert Job.objects.get().status == "done"


def test_queue_down_the_import_says_so_and_can_be_checked_again(client, admin, queue_down):
    client.force_login(admin)
    content = "Ф.И.О.\nЁлкина Алёна Петровна\n".encode()
    response = client.post(
        reverse("staff_import"),
        {"file": SimpleUploadedFile("staff.csv", content), "role": "teacher"},
        follow=True,
    )
    batch = ImportBatch.objects.get()
    assert response.redirect_chain == [(f"/people/import/{batch.pk}/", 302)]
    page = response.content.decode()
    assert f"Список не проверен: {QUEUE_DOWN}" in page and "Проверить снова" in page
    assert "data-import-checking" not in page
    queue_down()
    job = Job.objects.get()
    again = client.post(
        reverse("job_retry", kwargs={"pk": job.pk}), {"next": f"/people/import/{batch.pk}/"},
        follow=True,
    )  # fmt: skip
    assert again.redirect_chain == [(f"/people/import/{batch.pk}/", 302)]
    assert "Добавить 1" in again.content.decode()


def test_queue_down_sending_the_request_says_so_and_sends_nothing(
    client, admin, ready_request, queue_down, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    client.force_login(admin)
    response = client.post(reverse("request_send"), follow=True)
    assert QUEUE_DOWN in response.content.decode()
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY
    assert [(j.status, j.message) for j in Job.objects.all()] == [("failed", QUEUE_DOWN)]
    assert mail.outbox == []


# --- The registration e-mail -----------------------------------------------------------------


@pytest.fixture
def can_send(settings, monkeypatch):
    """The portal has a mail server (EMAIL_URL) and the letter goes through locmem."""
    monkeypatch.setattr("onboarding.services.request.portal_can_send", lambda: True)


def test_sending_the_request_is_a_job_and_a_double_press_finds_it(
    client, admin, ready_request, can_send, queue_only
):
    client.force_login(admin)
    first = client.post(reverse("request_send"))
    second = client.post(reverse("request_send"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == "/onboarding/request/"
    job = Job.objects.get()
    assert job.kind == "registration_send" and len(queue_only) == 1
    page = client.get("/onboarding/request/").content.decode()
    assert f'data-job-url="/jobs/{job.pk}/"' in page
    assert mail.outbox == []

    onboarding_services.request_send_run(job_id=job.pk, request_id=ready_request.pk, action="send")
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.SENT and len(mail.outbox) == 1


def test_an_unknown_outcome_is_committed_as_unconfirmed_not_retried(
    client, admin, ready_request, can_send, monkeypatch
):
    monkeypatch.setattr(Mailer, "send", lambda self, message: Outcome("unknown", "timed out"))
    client.force_login(admin)
    client.post(reverse("request_send"))
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.UNCONFIRMED
    job = Job.objects.get()
    assert job.status == "done"  # not failed, so nothing queues it again


def test_a_refusal_fails_the_job_with_the_reason_and_the_request_stays_ready(
    client, admin, ready_request, can_send, monkeypatch
):
    monkeypatch.setattr(
        Mailer, "send", lambda self, message: Outcome("refused", "550 mailbox unavailable")
    )
    client.force_login(admin)
    response = client.post(reverse("request_send"), follow=True)
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.READY
    assert Job.objects.get().status == "failed"
    page = response.content.decode()
    assert "data-send-job-failed" in page
    assert "Ошибка сервера: 550 mailbox unavailable" in page


def test_a_send_interrupted_mid_way_becomes_unconfirmed_without_sending_again(
    admin, ready_request, can_send, queue_only
):
    job = onboarding_services.request_send_start(request=ready_request, actor=admin, action="send")
    # The worker claimed the letter and died while the server had it.
    batch = f"registration:{ready_request.pk}:{job.pk}"
    Delivery.objects.create(
        batch=batch, kind="registration", email="info@sferum.ru", status="sending"
    )
    onboarding_services.request_send_run(job_id=job.pk, request_id=ready_request.pk, action="send")
    ready_request.refresh_from_db()
    assert ready_request.status == RequestStatus.UNCONFIRMED
    assert mail.outbox == []
    letter = Delivery.objects.get(batch=batch)
    assert (letter.status, letter.reason) == ("unconfirmed", outbox.INTERRUPTED)
    entry = AuditEntry.objects.filter(action="request.unconfirmed").get()
    assert entry.data["comment"].startswith(request_module.SEND_INTERRUPTED)


# --- Staff import: parsed by a job ---------------------------------------------------------


def test_the_preview_says_checking_with_a_progress_bar_until_the_job_has_read_the_file(
    client, admin, queue_only
):
    client.force_login(admin)
    content = "Ф.И.О.\nЁлкина Алёна Петровна\nО'Коннор Патрик\n".encode()
    response = client.post(
        reverse("staff_import"),
        {"file": SimpleUploadedFile("staff.csv", content), "role": "teacher"},
    )
    batch = ImportBatch.objects.get()
    assert response["Location"] == f"/people/import/{batch.pk}/"
    job = Job.objects.get()
    page = client.get(response["Location"]).content.decode()
    assert "Проверяем список…" in page and f'data-job-url="/jobs/{job.pk}/"' in page
    assert 'name="confirm"' not in page

    account_services.import_check(job_id=job.pk, batch_id=batch.pk)
    job.refresh_from_db()
    assert (job.done, job.total) == (2, 2)
    page = client.get(response["Location"]).content.decode()
    assert "Проверяем список" not in page and "Добавить 2" in page


# --- Periodic housekeeping -------------------------------------------------------------------


def test_lists_left_pending_for_a_day_are_cancelled_and_dropped_by_the_system(admin, organisation):
    old = ImportBatch.objects.create(
        organisation=organisation, created_by=admin, filename="old.csv", content=b"x"
    )
    fresh = ImportBatch.objects.create(
        organisation=organisation, created_by=admin, filename="new.csv", content=b"y"
    )
    ImportBatch.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    assert account_services.import_expire_abandoned() == [old.pk]
    assert account_services.import_expire_abandoned() == []
    old.refresh_from_db()
    assert (old.status, bytes(old.content)) == (ImportBatch.Status.CANCELLED, b"")
    assert ImportBatch.objects.get(pk=fresh.pk).status == ImportBatch.Status.PENDING
    entry = AuditEntry.objects.get(action="import.expired")
    assert (entry.actor_id, entry.object_id) == (None, str(old.pk))


# --- The dashboard's warnings (their rules: tests/core/test_jobs.py) -------------------------

STOPPED = "Фоновый обработчик не работает: начатые работы ждут его."


@pytest.mark.parametrize(("minutes", "warned"), [(6, True), (2, False)])
def test_the_dashboard_warns_when_the_worker_is_silent_and_work_waits(
    client, admin, organisation, minutes, warned
):
    Job.objects.create(
        key="waiting",
        kind="invitations",
        title="Приглашения",
        organisation=organisation,
        created_at=timezone.now() - dt.timedelta(minutes=minutes),
    )
    client.force_login(admin)
    page = client.get("/dashboard/").content.decode()
    assert (STOPPED in page) is warned


def test_another_organisations_waiting_jobs_do_not_warn(client, admin, other_organisation):
    Job.objects.create(
        key="theirs",
        kind="invitations",
        title="Приглашения",
        organisation=other_organisation,
        created_at=timezone.now() - dt.timedelta(minutes=30),
    )
    client.force_login(admin)
    assert STOPPED not in client.get("/dashboard/").content.decode()


def test_sending_is_recorded_queued_then_attempted_then_sent_in_that_order(
    admin, ready_request, can_send
):
    """Jobs run at once in tests, as a fast worker would: the «queued» entry is still first."""
    from cdt_portal.audit import history

    before = history(ready_request).last().pk
    job = onboarding_services.request_send_start(request=ready_request, actor=admin, action="send")
    actions = list(history(ready_request).filter(pk__gt=before).values_list("action", "data"))
    assert [action for action, _ in actions] == [
        "request.send.queued",
        "request.send.attempt",
        "request.sent",
    ]
    assert actions[0][1] == {"action": "send", "key": job.key}
    assert len(mail.outbox) == 1


def test_an_old_failed_mailing_retried_after_a_new_invitation_sends_nothing(
    client, admin, organisation, queue_down
):
    """The queue was down when the administrator invited someone: that job failed, its letter
    still pending. Invited again later (a new mailing), the person gets a letter with a new
    link. «Повторить» on the old job, still on the jobs' list, must not send a second letter
    whose link would replace the one they hold: the old letter is withdrawn, and recorded."""
    [person] = waiting(organisation, 1)
    client.force_login(admin)
    client.post(reverse("person_invite", kwargs={"pk": person.pk}))
    old_job = Job.objects.get(kind="invitations")
    assert (old_job.status, old_job.message) == ("failed", QUEUE_DOWN)
    queue_down()  # the queue is back
    # Past the double-press window: a new press is a new mailing.
    InvitationMailing.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
    client.post(reverse("person_invite", kwargs={"pk": person.pk}))
    [letter] = mail.outbox
    held = Invitation.objects.get(user=person)

    response = client.post(reverse("job_retry", kwargs={"pk": old_job.pk}))
    assert response.status_code == 302
    old_job.refresh_from_db()
    assert old_job.status == "done"
    assert mail.outbox == [letter]
    assert list(Invitation.objects.filter(user=person)) == [held]
    old_mailing = InvitationMailing.objects.get(key=old_job.key)
    old_letter = outbox.letters(old_mailing.batch).get()
    assert (old_letter.status, old_letter.reason) == (
        "withdrawn",
        "человеку уже выдано более новое приглашение",
    )
    entry = AuditEntry.objects.get(action="invitation.email_withdrawn")
    assert (entry.actor_id, entry.object_id) == (admin.pk, str(person.pk))
