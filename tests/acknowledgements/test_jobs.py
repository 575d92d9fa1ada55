"""Approval, the sheet and reminders run as idempotent jobs (tests run jobs at once; the
approval through a real huey consumer is in test_approval_consumer.py)."""

from __future__ import annotations

import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from acknowledgements import documents, sheet
from acknowledgements.models import DocumentVersion, ReminderRun, VersionStatus
from acknowledgements.selectors import approval_job, current_version
from acknowledgements.services import (
    acknowledgement_confirm,
    reminders_due,
    reminders_retry_failed,
    reminders_run,
    reminders_start,
    version_approval_run,
    version_approve,
    versions,
)
from acknowledgements.sheet import sheet_join, sheet_prepare
from cdt_portal.errors import PortalError
from cdt_portal.files import store_once
from cdt_portal.models import AuditEntry, Job
from tests.acknowledgements.builders import reminder_letters
from tests.factories import PASSWORD, UserFactory


def order_files() -> list[str]:
    return sorted(default_storage.listdir("documents/orders")[1])


# --- approval ---------------------------------------------------------------------------------


def test_the_directors_approval_starts_a_job_that_stores_the_order_and_approves(
    client, director, regulation, draft_version
):
    client.force_login(director)
    response = client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
    assert (response.status_code, response["Location"]) == (
        302,
        f"/regulation/versions/{draft_version.pk}/",
    )
    draft_version.refresh_from_db()
    regulation.refresh_from_db()
    assert (draft_version.status, regulation.status) == ("approved", "superseded")
    assert draft_version.order_pdf.name == (
        f"documents/orders/order-{draft_version.document_id}-{draft_version.number}.pdf"
    )
    assert order_files() == [
        f"order-{regulation.document_id}-1.pdf",
        f"order-{regulation.document_id}-2.pdf",
    ]
    job = approval_job(draft_version)
    assert (job.status, job.started_by, job.done, job.total) == ("done", director, 2, 2)
    assert job.result_url == ""  # the page showing the progress reloads itself
    page = client.get(response["Location"]).content.decode()
    assert "Положение с отметкой об утверждении (PDF)" in page and "утверждена" in page


def test_running_the_approval_job_again_stores_and_logs_nothing_more(director, draft_version):
    version_approve(version=draft_version, actor=director)
    job = approval_job(draft_version)
    entries, files = AuditEntry.objects.count(), order_files()
    with mock.patch.object(versions, "render_order") as render:
        version_approval_run(job_id=job.pk, version_id=draft_version.pk, actor_id=director.pk)
    render.assert_not_called()
    assert (AuditEntry.objects.count(), order_files()) == (entries, files)


def _approving(version: DocumentVersion) -> None:
    """The state a worker killed mid-job leaves: `approving`, the job not done."""
    DocumentVersion.objects.filter(pk=version.pk).update(status=VersionStatus.APPROVING)


def test_a_killed_worker_s_complete_order_file_is_adopted_not_stored_again(
    director, regulation, draft_version
):
    _, pdf = documents.render_order(draft_version)
    name = f"documents/orders/order-{draft_version.document_id}-{draft_version.number}.pdf"
    default_storage.save(name, ContentFile(pdf))
    _approving(draft_version)
    job = Job.objects.create(key="approve-again", kind="version.approve", title="t")
    with mock.patch.object(versions, "render_order") as render:
        url = version_approval_run(job_id=job.pk, version_id=draft_version.pk, actor_id=director.pk)
    render.assert_not_called()
    assert url == ""
    draft_version.refresh_from_db()
    assert (draft_version.status, draft_version.order_pdf.name) == ("approved", name)
    assert len(order_files()) == 2  # the seed version's and this one, once


def test_a_truncated_order_file_is_rendered_again_in_its_place(director, draft_version):
    name = f"documents/orders/order-{draft_version.document_id}-{draft_version.number}.pdf"
    default_storage.save(name, ContentFile(b"%PDF-1.7\n truncated"))
    _approving(draft_version)
    job = Job.objects.create(key="approve-again", kind="version.approve", title="t")
    version_approval_run(job_id=job.pk, version_id=draft_version.pk, actor_id=director.pk)
    with default_storage.open(name, "rb") as stored:
        assert len(stored.read()) > 1000
    assert len(order_files()) == 2


def test_an_order_that_cannot_be_rendered_puts_the_draft_back_with_the_reason(
    client, director, regulation, draft_version
):
    client.force_login(director)
    with mock.patch.object(versions, "render_order", side_effect=OSError("нет шрифтов")):
        client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
    draft_version.refresh_from_db()
    regulation.refresh_from_db()
    assert (draft_version.status, regulation.status) == ("draft", "approved")
    assert not draft_version.order_pdf
    failed = AuditEntry.objects.get(action="version.approval_failed")
    assert (failed.actor, failed.data) == (
        director,
        {"reason": "Приказ не удалось сформировать: нет шрифтов"},
    )
    job = approval_job(draft_version)
    assert (job.status, job.message) == ("failed", "Приказ не удалось сформировать: нет шрифтов")
    page = client.get(reverse("version_detail", kwargs={"pk": draft_version.pk})).content.decode()
    assert "Утвердить не удалось, редакция снова черновик." in page
    assert "нет шрифтов" in page
    # Pressing again queues the failed job again, and this time it works.
    client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
    draft_version.refresh_from_db()
    assert draft_version.status == "approved"


def test_while_approving_nobody_confirms_it_and_staff_keep_the_previous_version(
    client, director, teacher, regulation, draft_version
):
    _approving(draft_version)
    draft_version.refresh_from_db()
    with pytest.raises(PortalError, match="знакомиться не нужно"):
        acknowledgement_confirm(
            version=draft_version, person=teacher, password=PASSWORD, ip_address=None,
            user_agent="",
        )  # fmt: skip
    assert current_version(regulation.document.organisation) == regulation
    client.force_login(teacher)
    response = client.post(
        reverse("version_confirm", kwargs={"pk": draft_version.pk}), {"password": PASSWORD}
    )
    assert response.status_code == 403
    client.force_login(director)
    page = client.get(reverse("version_detail", kwargs={"pk": draft_version.pk})).content.decode()
    assert "утверждается…" in page and "Положение с отметкой об утверждении (PDF)" not in page


def test_every_manager_follows_the_approval_until_the_page_reloads(
    client, director, admin, draft_version
):
    _approving(draft_version)
    job = Job.objects.create(
        key=f"approve-v{draft_version.pk}", kind="version.approve", title="Утверждение",
        started_by=director, total=2,
    )  # fmt: skip
    url = reverse("version_detail", kwargs={"pk": draft_version.pk})
    for person in (director, admin):
        client.force_login(person)
        page = client.get(url).content.decode()
        assert f'data-job-url="/jobs/{job.pk}/"' in page and "data-job-finished" not in page
        assert "Редакция утверждается" in page


# --- the sheet --------------------------------------------------------------------------------


@pytest.fixture
def long_sheet(organisation, regulation, monkeypatch):
    monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
    return [
        UserFactory(organisation=organisation, last_name=f"Листова{n:02d}", roles=["teacher"])
        for n in range(25)
    ]  # 27 readers: 3 parts


def sheet_files() -> list[str]:
    return sorted(default_storage.listdir("documents/sheets")[1])


def test_get_writes_nothing_and_offers_to_build_the_sheet(client, director, regulation):
    client.force_login(director)
    response = client.get(reverse("regulation_sheet_pdf"))
    assert response.status_code == 200
    assert "Сформировать лист ознакомления" in response.content.decode()
    assert not Job.objects.filter(kind="sheet").exists()


def test_the_post_builds_every_part_then_joins_them_once(client, director, long_sheet):
    client.force_login(director)
    url = reverse("regulation_sheet_pdf")
    response = client.post(url)
    assert (response.status_code, response["Location"]) == (302, url)
    job = Job.objects.get(kind="sheet")
    assert (job.status, job.done, job.total, job.started_by) == ("done", 3, 3, director)
    version = DocumentVersion.objects.get(status="approved")
    assert job.result_url == f"/regulation/versions/{version.pk}/sheet.pdf"
    files = sheet_files()
    assert len([f for f in files if "-p-" in f]) == 3
    assert len([f for f in files if "-all-" in f]) == 1
    pdf = client.get(url)
    assert pdf["Content-Type"] == "application/pdf"
    # Pressing again: the stored sheet is there, nothing is started.
    client.post(url)
    assert Job.objects.filter(kind="sheet").count() == 1
    # The join happens once, whoever asks again.
    assert sheet_join(job_id=job.pk, version_id=version.pk, blank=False) is False
    assert sheet_files() == files


def test_a_part_stored_before_is_not_rendered_again(director, regulation, long_sheet):
    version = regulation
    plan = sheet.sheet_plan(version)
    first = plan.parts[0]
    store_once(first.path, sheet.render_part(version, first, blank=False))
    with mock.patch.object(sheet, "render_part", wraps=sheet.render_part) as spy:
        job = sheet_prepare(version=version, blank=False, actor=director)
    assert spy.call_count == 2  # parts 2 and 3
    job.refresh_from_db()
    assert job.status == "done"
    assert len([f for f in sheet_files() if "-p-" in f]) == 3


def test_a_part_that_fails_fails_the_job_with_its_reason(client, director, regulation):
    client.force_login(director)
    with mock.patch.object(sheet, "render_part", side_effect=OSError("диск полон")):
        client.post(reverse("regulation_sheet_pdf"))
    job = Job.objects.get(kind="sheet")
    assert job.status == "failed"
    assert job.message.startswith("Внутренняя ошибка портала (OSError)")
    page = client.get(reverse("regulation_sheet_pdf")).content.decode()
    assert "Лист не удалось сформировать: Внутренняя ошибка портала (OSError)" in page
    assert "Сформировать лист ознакомления" in page


# --- reminders --------------------------------------------------------------------------------


@pytest.fixture
def readers_with_email(admin, teacher):
    for person, email in ((admin, "admin@example.ru"), (teacher, "teacher@example.ru")):
        person.email = email
        person.save()
    return admin, teacher


def test_a_run_records_each_person_and_its_page_shows_the_results(
    client, admin, organisation, regulation, readers_with_email
):
    no_email = UserFactory(organisation=organisation, last_name="Безадресова", roles=["teacher"])
    client.force_login(admin)
    response = client.post(reverse("acknowledgement_remind"))
    assert (response.status_code, response["Location"]) == (302, "/regulation/remind/")
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@example.ru", "teacher@example.ru"]
    run = ReminderRun.objects.get()
    assert (run.number, run.on_date, run.started_by) == (1, timezone.localdate(), admin)
    assert sorted(run.deliveries.values_list("person__last_name", "status")) == sorted(
        [(p.last_name, "sent") for p in readers_with_email] + [("Безадресова", "no_email")]
    )
    assert Job.objects.get(key=run.job_key).status == "done"
    page = client.get(response["Location"]).content.decode()
    assert "Напоминания отправлены: 2." in page
    assert f"<td>{no_email.full_name}</td>" in page and "нет e-mail — напомните лично" in page


def test_running_a_run_again_sends_nobody_twice(admin, teacher, regulation, readers_with_email):
    """A worker killed after the admin's e-mail: the run starts again from the top."""
    run = ReminderRun.objects.create(
        version=regulation, number=1, on_date=timezone.localdate(), started_by=admin,
        base_url="http://testserver/",
    )  # fmt: skip
    reminder_letters(run, [admin], "sent")
    job = Job.objects.create(key=run.job_key, kind="reminders", title="t")
    reminders_run(job_id=job.pk, run_id=run.pk)
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    reminders_run(job_id=job.pk, run_id=run.pk)  # and once more after it finished
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    entry = AuditEntry.objects.get(action="version.reminded")
    assert entry.data == {"run": 1, "sent": 2, "without_email": 0, "failed": 0, "unconfirmed": 0}


def test_a_send_cut_short_by_a_killed_worker_becomes_unconfirmed_and_is_not_resent(
    admin, teacher, regulation, readers_with_email
):
    run = ReminderRun.objects.create(
        version=regulation, number=1, on_date=timezone.localdate(), started_by=admin,
        base_url="http://testserver/",
    )  # fmt: skip
    reminder_letters(run, [teacher], "sending")
    job = Job.objects.create(key=run.job_key, kind="reminders", title="t")
    reminders_run(job_id=job.pk, run_id=run.pk)
    assert [m.to for m in mail.outbox] == [["admin@example.ru"]]
    delivery = run.deliveries.get(person=teacher)
    assert delivery.status == "unconfirmed"
    entry = AuditEntry.objects.get(action="version.reminded")
    assert entry.data == {"run": 1, "sent": 1, "without_email": 0, "failed": 0, "unconfirmed": 1}


def test_temporary_errors_are_retried_permanent_ones_recorded_and_retried_by_a_button(
    client, admin, teacher, regulation, readers_with_email, monkeypatch
):
    real_send = EmailBackend.send_messages
    calls = {"admin@example.ru": 0, "teacher@example.ru": 0}

    def smtp(self, messages):
        to = messages[0].to[0]
        calls[to] += 1
        if to == "admin@example.ru" and calls[to] <= 2:
            raise smtplib.SMTPResponseException(451, b"try again later")
        if to == "teacher@example.ru" and calls[to] == 1:
            raise smtplib.SMTPRecipientsRefused({to: (550, b"no such user")})
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", smtp)
    client.force_login(admin)
    client.post(reverse("acknowledgement_remind"))
    run = ReminderRun.objects.get()
    admin_delivery = run.deliveries.get(person=admin)
    teacher_delivery = run.deliveries.get(person=teacher)
    assert (admin_delivery.status, admin_delivery.attempts) == ("sent", 3)
    assert (teacher_delivery.status, teacher_delivery.reason, teacher_delivery.attempts) == (
        "failed", "550 no such user", 1,
    )  # fmt: skip
    page = client.get(reverse("acknowledgement_remind")).content.decode()
    assert "не отправлено: 550 no such user" in page
    assert "Повторить неотправленные и неподтверждённые (1)" in page
    mail.outbox.clear()
    response = client.post(reverse("acknowledgement_remind"), {"retry": str(run.pk)})
    assert response.status_code == 302
    retry = ReminderRun.objects.get(number=2)
    assert retry.retry_of == run
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    assert list(retry.deliveries.values_list("person_id", "status")) == [(teacher.pk, "sent")]
    with pytest.raises(PortalError, match="нет неотправленных"):
        reminders_retry_failed(run=retry, actor=admin, base_url="http://testserver/")


def test_pressing_again_while_a_run_is_going_finds_it_and_after_it_starts_the_next(
    admin, regulation, readers_with_email
):
    first = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    ReminderRun.objects.filter(pk=first.pk).update(finished_at=None)
    assert reminders_start(version=regulation, actor=admin, base_url="x") == first
    ReminderRun.objects.filter(pk=first.pk).update(finished_at=timezone.now())
    second = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert second.number == 2 and second.job_key.endswith("-2")


def test_the_scheduled_hook_starts_one_run_a_day_per_version_with_people_pending(
    regulation, readers_with_email
):
    (run,) = reminders_due(base_url="http://portal.example/")
    assert (run.version, run.started_by) == (regulation, None)
    assert len(mail.outbox) == 2
    assert reminders_due(base_url="http://portal.example/") == []
    assert len(mail.outbox) == 2


# --- a worker that stopped --------------------------------------------------------------------


def test_lost_jobs_are_queued_again_once_and_finish_without_repeating_work(
    client, director, admin, regulation, draft_version, readers_with_email, settings
):
    """The approval (killed after `approving`, before the order was stored) and a reminder run
    (killed after the admin's letter was recorded as sent), both started through the pages,
    their worker gone: the check queues each again once; neither repeats what it did."""
    from huey.contrib.djhuey import HUEY

    from cdt_portal.jobs import jobs_recover

    settings.JOB_SILENCE_SECONDS = 30
    HUEY.immediate = False
    try:
        client.force_login(director)
        client.post(reverse("version_approve", kwargs={"pk": draft_version.pk}))
        client.force_login(admin)
        client.post(reverse("acknowledgement_remind"))
        run = ReminderRun.objects.get()
        reminder_letters(run, [admin], "sent", attempts=1)
        HUEY.flush()  # the worker took both messages, then died
    finally:
        HUEY.immediate = True
    long_ago = timezone.now() - timezone.timedelta(seconds=31)
    approval = Job.objects.get(key=f"approve-v{draft_version.pk}")
    reminders = Job.objects.get(key=run.job_key)
    Job.objects.filter(pk__in=[approval.pk, reminders.pk]).update(
        status="running", heartbeat_at=long_ago
    )
    fresh = Job.objects.create(
        key="reminders-v1-20250101-9", kind="reminders", title="t", status="running",
        heartbeat_at=timezone.now(),
    )  # fmt: skip

    assert sorted(jobs_recover()) == sorted([approval.pk, reminders.pk])
    draft_version.refresh_from_db()
    assert draft_version.status == "approved" and len(order_files()) == 2
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]  # not the admin again
    assert Job.objects.get(pk=fresh.pk).status == "running"  # alive: left alone
    assert AuditEntry.objects.filter(action="job.requeued").count() == 2
    assert jobs_recover() == []  # both done now


def test_a_second_press_of_retry_finds_the_first_retry_and_a_superseded_run_is_not_retried(
    client, admin, teacher, regulation, readers_with_email, monkeypatch
):
    """«Повторить» pressed twice before the worker took the first retry (two tabs, a double
    click on a slow page): one retry run, one letter. After it, the first run is no longer
    retried (its unsent ones were retried already); the page offers the last run's only."""
    real_send = EmailBackend.send_messages
    refused = []

    def smtp(self, messages):
        if messages[0].to == ["teacher@example.ru"] and not refused:
            refused.append(messages[0])
            raise smtplib.SMTPRecipientsRefused({"teacher@example.ru": (550, b"no such user")})
        return real_send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", smtp)
    client.force_login(admin)
    client.post(reverse("acknowledgement_remind"))
    first = ReminderRun.objects.get()
    assert first.deliveries.get(person=teacher).status == "failed"
    mail.outbox.clear()

    queued = []  # the worker is busy: both presses come before either job runs
    monkeypatch.setattr("cdt_portal.jobs._after_commit", queued.append)
    for _ in range(2):
        response = client.post(reverse("acknowledgement_remind"), {"retry": str(first.pk)})
        assert (response.status_code, response["Location"]) == (302, "/regulation/remind/")
    for callback in queued:
        callback()
    retry = ReminderRun.objects.get(retry_of=first)
    assert list(ReminderRun.objects.values_list("number", flat=True)) == [2, 1]
    assert [m.to for m in mail.outbox] == [["teacher@example.ru"]]
    assert retry.deliveries.get(person=teacher).status == "sent"
    assert Job.objects.filter(key=retry.job_key).count() == 1

    # The first run's letter stays «failed» in its own record, but it is not offered again.
    with pytest.raises(PortalError, match="была рассылка № 2"):
        reminders_retry_failed(run=first, actor=admin, base_url="http://testserver/")
    response = client.post(reverse("acknowledgement_remind"), {"retry": str(first.pk)}, follow=True)
    assert "После этой рассылки была рассылка № 2" in response.content.decode()
    assert ReminderRun.objects.count() == 2
    assert len(mail.outbox) == 1


def test_the_blank_is_offered_as_a_blank_and_each_acts_pages_and_jobs_name_the_act(
    client, director, regulation, organisation
):
    """The blank's page says it is a blank (no marks to be current); the list of who has read
    an act other than the regulation is headed with that act, not «Положение»; and the jobs'
    list tells one act's approval from another's."""
    from tests.acknowledgements.builders import make_act

    client.force_login(director)
    blank = client.get(reverse("regulation_sheet_pdf") + "?blank=1").content.decode()
    assert (
        "Бланк листа ознакомления (без отметок, для подписей от руки) ещё не сформирован" in blank
    )
    assert "Сформировать бланк" in blank and "текущими отметками" not in blank
    regulation_list = client.get("/regulation/acknowledgements/").content.decode()
    assert '<h1 class="mb-1">Ознакомление с Положением</h1>' in regulation_list
    act = make_act(organisation, director, title="Инструкция по охране труда")
    page = client.get(f"/documents/{act.document.code}/acknowledgements/")
    assert page.status_code == 200
    heading = "Ознакомление с документом «Инструкция по охране труда»"
    assert f'<h1 class="mb-1">{heading}</h1>' in page.content.decode()
    assert f"<title>{heading}" in page.content.decode()
    assert set(Job.objects.filter(kind="version.approve").values_list("title", flat=True)) == {
        f"Утверждение редакции {regulation.number}: {regulation.document.title}",
        "Утверждение редакции 1: Инструкция по охране труда",
    }


def test_a_press_that_arrives_after_a_new_version_replaced_its_version_reminds_for_the_new_one(
    admin, director, regulation
):
    """The remind page read the version in force just before an approval committed: the press
    is about the document in force, so its run is for the version that replaced it (the stress
    test's presses met this under PostgreSQL), not refused; a retry of the old run is refused."""
    from tests.acknowledgements.builders import make_version

    newer = make_version(regulation.document.organisation, director, approve=True)
    regulation.refresh_from_db()
    assert regulation.status == VersionStatus.SUPERSEDED
    run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert run.version_id == newer.pk
    assert not ReminderRun.objects.filter(version=regulation).exists()
    assert Job.objects.filter(kind="reminders").count() == 1
