"""Printing invitation slips for many people is a background job: the press leads to the
sheet's own address, which shows the job's progress until the sheet is stored and then serves
it, to whoever pressed alone, for an hour (jobs run at once here: tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import os
import re
import tarfile

import pytest
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts.invitations import invitation_url
from accounts.models import Invitation, Role, User
from accounts.selectors import invitation_for_link
from accounts.services.invitations import (
    SLIPS_DOUBLE_PRESS_SECONDS,
    SLIPS_FOLDER,
    invitation_slips_remove_old,
    stored_invitation_slips,
)
from accounts.tasks import remove_old_invitation_slips
from cdt_portal import backups
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry, Job
from tests.factories import UserFactory
from tests.helpers import filename_of, no_spaces, pdf_text

URL = "/people/invitations/"
BASE_URL = "http://testserver/"
NAMES = [("Сапёлкина", "Ёлка"), ("О'Нил-Петрова", "Анна"), ("Ким", "Илья")]


@pytest.fixture
def people(organisation):
    """Three parents who have not chosen a password (the administrator may invite them)."""
    made = [
        UserFactory(
            organisation=organisation, last_name=last, first_name=first, roles=[Role.PARENT]
        )
        for last, first in NAMES
    ]
    User.objects.filter(pk__in=[p.pk for p in made]).update(password=make_password(None))
    return made


@pytest.fixture
def queue_only(monkeypatch):
    """Jobs go onto the queue and stay there: what a press queues, before any worker runs."""
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)
    return queued


def press(client, people) -> object:
    return client.post(URL, {"people": [p.pk for p in people]})


def sheet_address(job: Job) -> str:
    return f"/people/invitations/slips/{job.pk}.pdf"


# --- The press ------------------------------------------------------------------------------------


def test_the_press_queues_one_job_and_leads_to_its_page(client, admin, people, queue_only):
    client.force_login(admin)
    response = press(client, people)
    job = Job.objects.get()
    assert (response.status_code, response["Location"]) == (302, sheet_address(job))
    assert (job.kind, job.status, job.total, job.started_by) == (
        "invitation_slips",
        Job.Status.QUEUED,
        3,
        admin,
    )
    assert len(queue_only) == 1
    # Nothing is issued in the request: the job does it.
    assert not Invitation.objects.exists()
    assert not AuditEntry.objects.filter(action="invitation.issued").exists()

    page = client.get(response["Location"])
    assert (page.status_code, page["Content-Type"]) == (200, "text/html; charset=utf-8")
    text = page.content.decode()
    assert f'data-job-url="/jobs/{job.pk}/"' in text
    assert "Готовим лист с вырезными полосками: 3 чел." in text
    assert "прежние ссылки этих людей, в том числе на уже напечатанных полосках" in text
    # Without JavaScript: a link to the sheet, which serves it once it is stored.
    assert f'<a href="{sheet_address(job)}">откройте лист приглашений (PDF)</a>' in text


def test_the_job_issues_one_invitation_and_one_entry_each_and_the_sheet_holds_them(
    client, admin, organisation, people
):
    client.force_login(admin)
    response = press(client, people)
    job = Job.objects.get()
    assert (response.status_code, response["Location"]) == (302, sheet_address(job))
    assert (job.status, job.done, job.total, job.message) == (Job.Status.DONE, 3, 3, "")
    assert job.result_url == sheet_address(job)

    invitations = list(Invitation.objects.filter(user__in=people).order_by("pk"))
    # In the sheet's order: alphabetically.
    by_name = sorted(people, key=lambda p: p.last_name)
    assert [i.user_id for i in invitations] == [p.pk for p in by_name]
    entries = AuditEntry.objects.filter(action="invitation.issued").order_by("pk")
    assert [(e.actor_id, e.organisation_id, e.object_id, e.data) for e in entries] == [
        (admin.pk, organisation.pk, str(i.user_id), {"invitation": i.pk, "emailed_to": ""})
        for i in invitations
    ]

    sheet = client.get(response["Location"])
    assert (sheet.status_code, sheet["Content-Type"]) == (200, "application/pdf")
    assert sheet["Content-Disposition"].startswith("inline;")
    assert filename_of(sheet) == "Приглашения в портал.pdf"
    assert sheet["Cache-Control"] == "private, no-store"
    assert sheet.content.startswith(b"%PDF")
    text = pdf_text(sheet.content)
    for person in people:
        assert person.full_name in text
        assert person.username in text
    for invitation in invitations:
        link = invitation_url(invitation, BASE_URL)
        assert link in no_spaces(text)
        assert client.get(link.removeprefix("http://testserver")).status_code == 200


def test_the_sheet_is_stored_privately_under_a_random_name(client, admin, people):
    client.force_login(admin)
    press(client, people)
    job = Job.objects.get()
    name = stored_invitation_slips(job)
    # 144 random bits, nothing a person could guess from the job or the people.
    assert re.fullmatch(rf"{SLIPS_FOLDER}/[A-Za-z0-9_-]{{24}}\.pdf", name), name
    # Stored under MEDIA_ROOT, which has no public address (only this view serves it).
    assert default_storage.exists(name)


# --- Who gets the sheet ---------------------------------------------------------------------------


def test_only_whoever_pressed_gets_the_sheet(client, admin, director, outsider, people):
    client.force_login(admin)
    press(client, people)
    address = sheet_address(Job.objects.get())
    assert client.get(address).status_code == 200
    for other in (director, outsider):  # another manager, another organisation
        client.force_login(other)
        assert client.get(address).status_code == 404


def test_no_other_job_is_served_at_the_sheets_address(client, admin, people):
    """The address names a job: any job of the administrator's that is not a print is 404."""
    other = Job.objects.create(
        key="other", kind="invitations", title="Приглашения по e-mail: 1", started_by=admin,
        organisation=admin.organisation, status=Job.Status.DONE,
        task_args=[1, "http://testserver/", f"{SLIPS_FOLDER}/{'a' * 24}.pdf"],
    )  # fmt: skip
    default_storage.save(f"{SLIPS_FOLDER}/{'a' * 24}.pdf", ContentFile(b"%PDF-1.7"))
    client.force_login(admin)
    assert client.get(sheet_address(other)).status_code == 404


# --- Refusals -------------------------------------------------------------------------------------


def test_someone_out_of_reach_is_refused_recorded_and_nothing_is_queued(
    client, admin, organisation, people, queue_only
):
    manager = UserFactory(organisation=organisation, last_name="Завуч", roles=[Role.ADMIN])
    User.objects.filter(pk=manager.pk).update(password=make_password(None))
    client.force_login(admin)
    response = client.post(URL, {"people": [people[0].pk, manager.pk]}, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "может дать только тот, кто назначает все его роли" in response.content.decode()
    assert not Job.objects.exists() and queue_only == []
    assert not Invitation.objects.exists()
    refusal = AuditEntry.objects.get(action="invitation.refused")
    assert (refusal.actor_id, refusal.object_id) == (admin.pk, str(manager.pk))


def test_nobody_ticked_queues_nothing(client, admin, people, queue_only):
    client.force_login(admin)
    response = client.post(URL, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "Отметьте, кому напечатать приглашения." in response.content.decode()
    assert not Job.objects.exists() and queue_only == []


def test_a_role_given_before_the_job_runs_fails_it_and_issues_nothing(
    client, admin, people, queue_only
):
    client.force_login(admin)
    press(client, people)
    people[1].user_roles.create(role=Role.ADMIN)  # now out of the administrator's reach
    [task] = queue_only
    task.execute()
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED
    assert "может дать только тот, кто назначает все его роли" in job.message
    assert not Invitation.objects.exists()
    assert AuditEntry.objects.filter(action="invitation.refused").count() == 1
    page = client.get(sheet_address(job)).content.decode()
    assert "Приглашения не напечатаны: " in page and "data-slips-failed" in page


# --- Pressed twice, pressed later ---------------------------------------------------------------


def test_a_double_press_finds_the_same_job_and_a_later_press_prints_anew(client, admin, people):
    client.force_login(admin)
    first = press(client, people)
    again = press(client, people)
    assert first["Location"] == again["Location"]
    assert Job.objects.count() == 1 and Invitation.objects.count() == 3
    first_job = Job.objects.get()
    first_links = [invitation_url(i, BASE_URL) for i in Invitation.objects.all()]

    # Later than the double-press window: a new print, with new links; the first sheet's links
    # stop working (only a person's newest invitation does, as when one is printed alone).
    Job.objects.update(
        created_at=timezone.now() - dt.timedelta(seconds=SLIPS_DOUBLE_PRESS_SECONDS + 1)
    )
    later = press(client, people)
    second_job = Job.objects.exclude(pk=first_job.pk).get()
    assert later["Location"] == sheet_address(second_job)
    assert Invitation.objects.count() == 6
    for link in first_links:
        pk, token = link.rstrip("/").split("/")[-2:]
        with pytest.raises(PortalError, match="эта ссылка заменена новой"):
            invitation_for_link(int(pk), token)
    text = no_spaces(pdf_text(client.get(later["Location"]).content))
    assert not any(link in text for link in first_links)


def test_a_double_press_while_the_job_waits_queues_it_once(client, admin, people, queue_only):
    client.force_login(admin)
    assert press(client, people)["Location"] == press(client, people)["Location"]
    assert Job.objects.count() == 1 and len(queue_only) == 1


# --- Kept for an hour -----------------------------------------------------------------------------


def age(name: str, minutes: int) -> None:
    stamp = (timezone.now() - dt.timedelta(minutes=minutes)).timestamp()
    os.utime(default_storage.path(name), (stamp, stamp))


def test_the_chore_removes_sheets_older_than_an_hour_and_keeps_newer_ones(db):
    old = default_storage.save(f"{SLIPS_FOLDER}/{'o' * 24}.pdf", ContentFile(b"%PDF old"))
    new = default_storage.save(f"{SLIPS_FOLDER}/{'n' * 24}.pdf", ContentFile(b"%PDF new"))
    half_written = default_storage.save(f"{SLIPS_FOLDER}/.x.partial", ContentFile(b"%PDF"))
    age(old, 61)
    age(half_written, 61)
    age(new, 59)
    assert invitation_slips_remove_old() == [half_written, old]
    assert not default_storage.exists(old) and not default_storage.exists(half_written)
    assert default_storage.exists(new)
    assert invitation_slips_remove_old() == []  # nothing more to do
    # The periodic chore runs it (locked, as the others).
    age(new, 61)
    remove_old_invitation_slips.call_local()
    assert not default_storage.exists(new)


def test_after_an_hour_the_sheet_is_not_served_even_before_the_chore_runs(client, admin, people):
    client.force_login(admin)
    press(client, people)
    job = Job.objects.get()
    name = job.task_args[2]
    age(name, 61)
    response = client.get(sheet_address(job))
    assert (response.status_code, response["Content-Type"]) == (200, "text/html; charset=utf-8")
    page = response.content.decode()
    assert "Лист приглашений удалён: он хранится 60 минут" in page
    assert f'href="{URL}"' in page
    default_storage.delete(name)  # and once the chore has removed it, the same
    assert "Лист приглашений удалён" in client.get(sheet_address(job)).content.decode()


@pytest.mark.django_db(transaction=True)  # the backup copies the committed database
def test_a_backup_leaves_the_sheets_out(client, admin, people, settings, tmp_path):
    settings.BACKUP_AGE_RECIPIENT = []
    default_storage.save("registration/scans/скан.pdf", ContentFile(b"%PDF scan"))
    client.force_login(admin)
    press(client, people)
    name = stored_invitation_slips(Job.objects.get())
    archive = backups.write_archive(tmp_path)
    with tarfile.open(archive) as tar:
        members = tar.getnames()
    assert "media/registration/scans/скан.pdf" in members  # the media are in the archive
    assert f"media/{name}" not in members
    assert not [m for m in members if m.startswith(f"media/{SLIPS_FOLDER}/")]
    assert settings.BACKUP_MEDIA_LEFT_OUT == (SLIPS_FOLDER,)
