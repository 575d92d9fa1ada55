"""Every change to documents and acknowledgements leaves its audit entry, and a refusal none.

Each writing service is walked here and its entries are checked field by field: who, what
action, about which object, in which organisation, with which data.
"""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from types import SimpleNamespace
from unittest import mock

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.urls import reverse
from django.utils import timezone

from acknowledgements.apps import ACTION_LABELS
from acknowledgements.models import (
    REGULATION_CODE,
    REGULATION_TITLE,
    Acknowledgement,
    Document,
    DocumentVersion,
    VersionStatus,
)
from acknowledgements.services import (
    acknowledgement_confirm,
    acknowledgement_record_paper,
    messenger_draft_create,
    reminders_due,
    reminders_retry_failed,
    reminders_start,
    version_approve,
    version_create,
    version_edit,
    version_set_deadline,
    versions,
)
from cdt_portal.audit import action_label
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests import audit_observer
from tests.acknowledgements.builders import (
    REGULATION_TEXT,
    approve_seed_regulation,
    make_act,
    make_agreement,
    make_version,
    move_to_max,
)
from tests.factories import PASSWORD

# Every public function of the services (the package acknowledgements/services/ and the sheet,
# acknowledgements/sheet.py) that writes, with the action of the entry it leaves on the object
# it changes; the last test here checks both lists against the calls above it
# (tests/audit_observer.py).
AUDITED_SERVICES = {
    "version_create": "version.created",
    "version_edit": "version.edited",
    # The request moves the draft to `approving`; the job stores the order and approves it
    # (or, when the order cannot be rendered, puts the draft back: version.approval_failed).
    "version_approve": "version.approval_started",
    "version_approval_run": "version.approved",
    "acknowledgement_confirm": "acknowledgement.confirmed",
    "acknowledgement_record_paper": "acknowledgement.paper_recorded",
    # A reminder run is logged once, when its job ends, with its counts (test_reminder_jobs.py).
    "reminders_start": "version.reminded",
    "reminders_retry_failed": "version.reminded",
    "reminders_due": "version.reminded",
    "reminders_run": "version.reminded",
    # The due date for reading a version (test_deadlines.py).
    "version_set_deadline": "version.deadline_set",
    # The approval job failed: the draft is back, with the reason (test_jobs.py).
    "version_approval_failed": "version.approval_failed",
    # The regulation's draft for the move to MAX, made by version_create
    # (test_messenger_draft.py).
    "messenger_draft_create": "version.created",
    # A new local act with its first draft (and its version.created entry), and the agreement
    # on the простая электронная подпись made from its default text the same way.
    "document_create": "document.created",
    "agreement_create": "document.created",
    "agreement_refuse": "agreement.refused",
}
# The sheet: its jobs store rendered files and keep their Job row up to date, and its cleanup
# removes files nothing serves; no change anyone made, so nothing for the audit log
# (tests/acknowledgements/test_jobs.py, test_sheet_key.py, test_sheet_cleanup.py).
NOT_AUDITED = {
    "default_agreement_text": "renders the default text for the form",
    "sheet_changed": "raises the version's sheet revision in the caller's transaction, "
    "whose own entry records the change",
    "sheet_lookup": "reads the stored sheet's key",
    "stored_content_key": "reads a stored file",
    "stored_sheet_name": "reads a stored file",
    "stored_sheet": "reads a stored file",
    "sheet_prepare": "starts the sheet's job, which stores files",
    "sheet_build": "plans the sheet and queues its parts",
    "sheet_plan": "reads every row the sheet prints",
    "sheet_part_store": "stores a rendered part",
    "render_part": "renders a PDF",
    "sheet_join": "stores the joined sheet and finishes its job",
    "remove_unreferenced_sheet_files": "removes stored files nothing serves again",
}


observed = audit_observer.observed_fixture("acknowledgements")


def last_pk() -> int:
    return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def entries_since(pk: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=pk).order_by("pk"))


def assert_entry(entry, *, actor, action, obj, organisation, data) -> None:
    assert entry.action == action
    assert entry.actor == actor
    assert entry.actor_name == actor.full_name
    assert entry.content_type == ContentType.objects.get_for_model(obj)
    assert entry.object_id == str(obj.pk)
    assert entry.object_repr == str(obj)
    assert entry.organisation_id == organisation.pk
    assert entry.data == data


def version_fields(**overrides) -> dict:
    fields = {
        "title": "Положение по использованию ИКОП «Сферум»",
        "text": REGULATION_TEXT,
        "order_number": "12-О",
        "order_date": dt.date(2024, 3, 1),
        "approver_position": "Директор",
        "approver_name": "О.Б. Денисенко",
    }
    return {**fields, **overrides}


# --- versions --------------------------------------------------------------------------------


def test_the_first_version_creates_the_document_and_both_are_logged(organisation, director):
    since = last_pk()
    version = version_create(organisation=organisation, actor=director, **version_fields())
    document = Document.objects.get(organisation=organisation, code=REGULATION_CODE)
    assert version.document == document and document.title == REGULATION_TITLE
    created_document, created_version = entries_since(since)
    assert_entry(
        created_document, actor=director, action="document.created", obj=document,
        organisation=organisation, data={"code": REGULATION_CODE, "title": REGULATION_TITLE},
    )  # fmt: skip
    assert_entry(
        created_version, actor=director, action="version.created", obj=version,
        organisation=organisation, data={"number": 1},
    )  # fmt: skip


def test_a_later_version_is_numbered_on_and_logged_alone(organisation, admin, regulation):
    since = last_pk()
    version = version_create(organisation=organisation, actor=admin, **version_fields())
    assert version.document == regulation.document and version.number == 2
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.created", obj=version, organisation=organisation,
        data={"number": 2},
    )  # fmt: skip


def test_an_edit_logs_each_changed_field_with_its_old_and_new_value(
    organisation, admin, draft_version
):
    since = last_pk()
    version_edit(
        version=draft_version,
        actor=admin,
        **version_fields(
            title=draft_version.title,
            text="Новый текст.",
            order_number="8-О",
            order_date=dt.date(2024, 1, 10),
        ),
    )
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.edited", obj=draft_version,
        organisation=organisation,
        data={
            "text": [REGULATION_TEXT, "Новый текст."],
            "order_number": ["7-О", "8-О"],
            "order_date": ["2023-11-30", "2024-01-10"],
        },
    )  # fmt: skip
    draft_version.refresh_from_db()
    assert (draft_version.text, draft_version.order_number) == ("Новый текст.", "8-О")


def test_saving_a_draft_unchanged_writes_nothing(admin, draft_version):
    since = last_pk()
    title = draft_version.title
    version_edit(version=draft_version, actor=admin, title=title, text=REGULATION_TEXT)
    assert entries_since(since) == []


def test_approving_logs_the_approval_and_the_superseding_one_entry_each(
    organisation, director, regulation, draft_version
):
    since = last_pk()
    approved = version_approve(version=draft_version, actor=director)  # the job runs at once
    started, superseded, entry = entries_since(since)
    assert_entry(
        started, actor=director, action="version.approval_started", obj=draft_version,
        organisation=organisation, data={"order_label": "Приказ от 30.11.2023 г. № 7-О"},
    )  # fmt: skip
    assert_entry(
        superseded, actor=director, action="version.superseded", obj=regulation,
        organisation=organisation, data={"by_version": draft_version.number},
    )  # fmt: skip
    assert_entry(
        entry, actor=director, action="version.approved", obj=draft_version,
        organisation=organisation,
        data={"order_label": "Приказ от 30.11.2023 г. № 7-О", "text_sha256": approved.text_sha256},
    )  # fmt: skip
    assert approved.text_sha256 != ""


def test_approving_the_first_version_logs_only_its_approval(organisation, director):
    draft = make_version(organisation, director, approve=False)
    since = last_pk()
    version_approve(version=draft, actor=director)
    assert [entry.action for entry in entries_since(since)] == [
        "version.approval_started",
        "version.approved",
    ]


# --- acknowledgements ------------------------------------------------------------------------


def test_an_online_confirmation_is_logged_by_the_person_once(organisation, teacher, regulation):
    since = last_pk()
    ack, created = acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    assert created
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=teacher, action="acknowledgement.confirmed", obj=ack,
        organisation=organisation,
        data={
            "person": teacher.pk, "version": regulation.pk,
            "text_sha256": regulation.text_sha256,
        },
    )  # fmt: skip

    since = last_pk()
    again, created = acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    assert (again, created) == (ack, False)
    assert entries_since(since) == []  # confirming again changes nothing, so logs nothing


def test_the_entry_of_a_confirmation_in_the_portal_has_the_clients_address(
    client, teacher, regulation
):
    client.force_login(teacher)
    response = client.post(
        reverse("version_confirm", kwargs={"pk": regulation.pk}),
        {"read": "on", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.7",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="acknowledgement.confirmed")
    assert entry.ip_address == "10.0.0.7"


def test_a_paper_record_is_logged_by_who_recorded_it(organisation, admin, teacher, regulation):
    since = last_pk()
    ack = acknowledgement_record_paper(
        version=regulation, person=teacher, paper_date=dt.date(2023, 12, 4), recorded_by=admin
    )
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="acknowledgement.paper_recorded", obj=ack,
        organisation=organisation,
        data={"person": teacher.pk, "paper_date": "2023-12-04", "recorded_by": admin.pk},
    )  # fmt: skip


def test_reminders_are_logged_with_their_counts(organisation, admin, teacher, regulation):
    admin.email = "admin@example.ru"
    admin.save()
    since = last_pk()
    run = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    assert sorted(run.deliveries.values_list("person_id", "status")) == sorted(
        [(admin.pk, "sent"), (teacher.pk, "no_email")]
    )
    assert len(mail.outbox) == 1
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.reminded", obj=regulation,
        organisation=organisation,
        data={"run": 1, "sent": 1, "without_email": 1, "failed": 0, "unconfirmed": 0},
    )  # fmt: skip


def test_a_failed_approval_puts_the_draft_back_and_logs_why(organisation, director, draft_version):
    since = last_pk()
    with mock.patch.object(versions, "render_order", side_effect=OSError("нет шрифтов")):
        version_approve(version=draft_version, actor=director)  # the job runs at once, and fails
    started, failed = entries_since(since)
    assert started.action == "version.approval_started"
    assert_entry(
        failed, actor=director, action="version.approval_failed", obj=draft_version,
        organisation=organisation,
        data={"reason": "Приказ не удалось сформировать: нет шрифтов"},
    )  # fmt: skip


def test_a_due_date_is_logged_with_its_old_and_new_value(organisation, admin, regulation):
    read_by = timezone.localdate() + dt.timedelta(days=7)
    since = last_pk()
    version_set_deadline(version=regulation, actor=admin, read_by=read_by)
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.deadline_set", obj=regulation,
        organisation=organisation, data={"read_by": [None, read_by.isoformat()]},
    )  # fmt: skip


def test_the_messenger_draft_is_one_entry_of_the_new_version(organisation, admin, director):
    approve_seed_regulation(organisation, director)  # it names VK Мессенджер
    move_to_max(organisation, admin)
    since = last_pk()
    draft = messenger_draft_create(organisation=organisation, actor=admin)
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.created", obj=draft, organisation=organisation,
        data={"number": 2},
    )  # fmt: skip


def test_a_retry_of_the_unsent_reminders_is_a_run_logged_with_its_counts(
    organisation, admin, teacher, regulation, monkeypatch
):
    admin.email = "admin@example.ru"
    admin.save()

    def refused(self, messages):
        raise smtplib.SMTPRecipientsRefused({"admin@example.ru": (550, b"no such user")})

    with monkeypatch.context() as smtp:
        smtp.setattr(EmailBackend, "send_messages", refused)
        first = reminders_start(version=regulation, actor=admin, base_url="http://testserver/")
    first.refresh_from_db()  # finished by its job
    since = last_pk()
    reminders_retry_failed(run=first, actor=admin, base_url="http://testserver/")
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="version.reminded", obj=regulation,
        organisation=organisation,
        data={"run": 2, "sent": 1, "without_email": 0, "failed": 0, "unconfirmed": 0},
    )  # fmt: skip


def test_the_daily_reminders_are_logged_by_nobody(organisation, admin, teacher, regulation):
    admin.email = "admin@example.ru"
    admin.save()
    since = last_pk()
    assert len(reminders_due(base_url="http://portal.example/")) == 1
    (entry,) = entries_since(since)
    assert (entry.action, entry.actor, entry.organisation_id) == (
        "version.reminded", None, organisation.pk,
    )  # fmt: skip
    assert entry.object_id == str(regulation.pk)
    assert entry.data == {"run": 1, "sent": 1, "without_email": 1, "failed": 0, "unconfirmed": 0}


def test_a_new_act_logs_the_document_with_its_audience_and_its_first_draft(
    organisation, admin, group, teacher
):
    since = last_pk()
    version = make_act(
        organisation, admin, approve=False, audience="groups", audience_groups=[group],
        new_staff_days=14, read_by=timezone.localdate() + dt.timedelta(days=10),
    )  # fmt: skip
    document = version.document
    created_document, created_version = entries_since(since)
    assert_entry(
        created_document, actor=admin, action="document.created", obj=document,
        organisation=organisation,
        data={
            "code": document.code, "title": "Правила внутреннего трудового распорядка",
            "kind": "rules", "audience": "groups", "audience_roles": [],
            "audience_groups": [group.pk], "audience_people": [], "new_staff_days": 14,
            "read_by": (timezone.localdate() + dt.timedelta(days=10)).isoformat(),
            "source_pdf": None,
        },
    )  # fmt: skip
    assert_entry(
        created_version, actor=admin, action="version.created", obj=version,
        organisation=organisation, data={"number": 1},
    )  # fmt: skip


def test_the_agreement_its_acceptance_and_a_refusal_are_logged(
    organisation, director, admin, teacher, regulation
):
    since = last_pk()
    draft = make_agreement(organisation, director, approve=False)
    created_document, _ = entries_since(since)
    assert created_document.action == "document.created"
    assert created_document.data["kind"] == "agreement"
    agreement = version_approve(version=draft, actor=director)

    since = last_pk()
    from acknowledgements.services import agreement_refuse

    mark = agreement_refuse(person=admin, actor=admin)
    (entry,) = entries_since(since)
    assert_entry(
        entry, actor=admin, action="agreement.refused", obj=admin, organisation=organisation,
        data={"person": admin.pk, "agreement": agreement.pk},
    )  # fmt: skip
    assert mark.person == admin
    since = last_pk()
    agreement_refuse(person=admin, actor=admin)
    assert entries_since(since) == []  # refusing again changes nothing

    # Accepting it is an online confirmation of the agreement; the next confirmation rests
    # on it and says so.
    since = last_pk()
    acknowledgement_confirm(
        version=agreement, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    (entry,) = entries_since(since)
    assert entry.data == {
        "person": teacher.pk, "version": agreement.pk,
        "text_sha256": agreement.text_sha256, "paper_only_ended": False,
    }  # fmt: skip
    since = last_pk()
    ack, _ = acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    (entry,) = entries_since(since)
    assert entry.data == {
        "person": teacher.pk, "version": regulation.pk,
        "text_sha256": regulation.text_sha256, "agreement": agreement.pk,
    }  # fmt: skip
    assert ack.agreement == agreement


def test_every_action_written_here_has_a_russian_label():
    written = {
        *(set(AUDITED_SERVICES.values()) - {"job.resumed"}),
        "document.created",
        "version.superseded",
        "version.approval_failed",
    }
    assert written == set(ACTION_LABELS)
    for action in written:
        assert action_label(action) == ACTION_LABELS[action] != action


# --- refusals write nothing ------------------------------------------------------------------


def world_state() -> tuple:
    return (
        list(AuditEntry.objects.order_by("pk").values_list("pk", flat=True)),
        list(Acknowledgement.objects.order_by("pk").values_list()),
        list(DocumentVersion.objects.order_by("pk").values_list()),
        list(Document.objects.order_by("pk").values_list()),
    )


@pytest.fixture
def setting(organisation, director, admin, teacher, outsider, regulation, draft_version):
    return SimpleNamespace(
        organisation=organisation, director=director, admin=admin, teacher=teacher,
        outsider=outsider, regulation=regulation, draft=draft_version,
    )  # fmt: skip


REFUSALS = {
    "edit an approved version": (
        lambda s: version_edit(version=s.regulation, actor=s.admin, text="Подмена."),
        "Утверждённую редакцию изменить нельзя",
        None,
    ),
    "approve an approved version": (
        lambda s: version_approve(version=s.regulation, actor=s.director),
        "уже утверждена или заменена",
        None,
    ),
    "confirm with a wrong password": (
        lambda s: acknowledgement_confirm(
            version=s.regulation,
            person=s.teacher,
            password="не тот",
            ip_address=None,
            user_agent="",
        ),
        "Неверный пароль. Ознакомление не записано.",
        "password",
    ),
    "confirm as someone not on the sheet": (
        lambda s: acknowledgement_confirm(
            version=s.regulation,
            person=s.director,
            password=PASSWORD,
            ip_address=None,
            user_agent="",
        ),
        "Вас нет в списке сотрудников",
        None,
    ),
    "confirm a draft": (
        lambda s: acknowledgement_confirm(
            version=s.draft, person=s.teacher, password=PASSWORD, ip_address=None, user_agent=""
        ),
        "знакомиться не нужно",
        None,
    ),
    "paper dated tomorrow": (
        lambda s: acknowledgement_record_paper(
            version=s.regulation,
            person=s.teacher,
            paper_date=timezone.localdate() + dt.timedelta(days=1),
            recorded_by=s.admin,
        ),
        "не может быть позже сегодняшней",
        "paper_date",
    ),
    "paper dated before the order": (
        lambda s: acknowledgement_record_paper(
            version=s.regulation,
            person=s.teacher,
            paper_date=dt.date(2023, 11, 29),
            recorded_by=s.admin,
        ),
        "не может быть раньше даты приказа (30.11.2023)",
        "paper_date",
    ),
    "paper for another organisation's person": (
        lambda s: acknowledgement_record_paper(
            version=s.regulation,
            person=s.outsider,
            paper_date=dt.date(2023, 12, 4),
            recorded_by=s.admin,
        ),
        "не работает в вашей организации",
        "person",
    ),
    "paper for someone not on the sheet": (
        lambda s: acknowledgement_record_paper(
            version=s.regulation,
            person=s.director,
            paper_date=dt.date(2023, 12, 4),
            recorded_by=s.admin,
        ),
        "нет в списке сотрудников",
        "person",
    ),
    "paper for a draft": (
        lambda s: acknowledgement_record_paper(
            version=s.draft,
            person=s.teacher,
            paper_date=dt.date(2023, 12, 4),
            recorded_by=s.admin,
        ),
        "знакомиться не нужно",
        None,
    ),
    "reminders for a draft": (
        lambda s: reminders_start(version=s.draft, actor=s.admin, base_url="http://testserver/"),
        "знакомиться не нужно",
        None,
    ),
}


@pytest.mark.parametrize("refusal", REFUSALS)
def test_a_refusal_writes_nothing(setting, refusal):
    call, message, field = REFUSALS[refusal]
    before = world_state()
    with pytest.raises(PortalError, match=re.escape(message)) as refused:
        call(setting)
    assert refused.value.field == field
    assert world_state() == before
    assert mail.outbox == []


def test_paper_for_someone_who_already_confirmed_writes_nothing(admin, teacher, regulation):
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    before = world_state()
    with pytest.raises(PortalError, match="уже ознакомлен") as refused:
        acknowledgement_record_paper(
            version=regulation, person=teacher, paper_date=dt.date(2023, 12, 4), recorded_by=admin
        )
    assert refused.value.field == "person"
    assert world_state() == before


def test_approving_a_draft_dated_in_the_future_writes_nothing(organisation, director, regulation):
    draft = make_version(organisation, director, approve=False, number_text="9-О")
    DocumentVersion.objects.filter(pk=draft.pk).update(
        order_date=timezone.localdate() + dt.timedelta(days=1)
    )
    draft.refresh_from_db()
    before = world_state()
    with pytest.raises(PortalError, match="Дата приказа не может быть позже сегодняшней"):
        version_approve(version=draft, actor=director)
    assert world_state() == before
    regulation.refresh_from_db()
    assert regulation.status == VersionStatus.APPROVED


# --- the version's history page reads the audit log ------------------------------------------


def test_the_history_page_shows_the_logged_changes(client, director, admin, draft_version):
    edited = version_edit(version=draft_version, actor=admin, text="Исправленный текст.")
    version_approve(version=edited, actor=director)
    client.force_login(director)
    page = client.get(reverse("version_detail", kwargs={"pk": draft_version.pk})).content.decode()
    created = page.index(f"редакция создана, {director.short_name}")
    edited = page.index(f"черновик редакции изменён, {admin.short_name}")
    approved = page.index(f"редакция утверждена, {director.short_name}")
    assert created < edited < approved  # oldest first
    assert "изменено: текст" in page
    assert "Приказ от 30.11.2023 г. № 7-О</span>" in page


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py). It asks for `db`
    as they do: pytest-django runs the tests without a database after all the others, which
    would be after this module's `observed` has ended."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
