"""Every change in accounts writes exactly one audit entry; every refusal writes nothing.

Here, by topic, a real call of every declared service and the entry it writes, then (last) the
check of the whole declaration against those calls (tests/audit_observer.py): this module's
calls alone prove it, wherever the others run. The declarations, helpers and fixtures are in
audit_support.py; the refusals and the other cases in test_audit_refusals.py,
test_audit_roles.py and test_audit_imports.py."""

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone

from accounts import selectors, services
from accounts.models import (
    Guardianship,
    ImportBatch,
    Invitation,
    InvitationMailing,
    Messenger,
    Role,
    StudyGroup,
    User,
)
from cdt_portal.audit import ACTION_LABELS
from cdt_portal.errors import PortalError
from cdt_portal.models import Delivery
from tests import audit_observer
from tests.accounts import audit_support
from tests.accounts.audit_support import (
    AUDITED_SERVICES,
    BASE_URL,
    LINK,
    NOT_AUDITED,
    REFUSAL_ACTIONS,
    assert_entry,
    emailed_list,
    entries_since,
    fail_sign_in,
    mark,
    only_entry_since,
    staff_csv,
    upload,
)
from tests.factories import PASSWORD, UserFactory

newcomer = audit_support.newcomer

# --- The lists (audit_support.py) are the whole services module -----------------------------


observed = audit_observer.observed_fixture("accounts")


def test_every_action_has_a_russian_label():
    actions = {*AUDITED_SERVICES.values(), "person.activated", *REFUSAL_ACTIONS}
    assert actions <= set(ACTION_LABELS)
    assert all(ACTION_LABELS[action] != action for action in actions)


# --- Organisation and profile ---------------------------------------------------------------


def test_organisation_update(on_vk, admin, organisation):
    since = mark()
    services.organisation_update(
        organisation=organisation,
        actor=admin,
        data={"messenger": Messenger.MAX, "region": "Тюменская область"},
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="organisation.updated",
        obj=organisation,
        organisation=organisation,
        data={"messenger": ["vk", "max"], "region": ["", "Тюменская область"]},
    )
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.MAX


def test_profile_update(teacher, organisation):
    since = mark()
    services.profile_update(
        user=teacher, email=" Ivanova@Example.ru ", phone="+79123456789", password=PASSWORD
    )
    assert_entry(
        only_entry_since(since),
        actor=teacher,
        action="profile.updated",
        obj=teacher,
        organisation=organisation,
        data={"email": ["", "ivanova@example.ru"], "phone": ["", "+7 912 345-67-89"]},
    )
    # Told at the new address (there was no old one).
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (
            "Ваши e-mail и телефон изменены — Портал МКУ ДО «ЦДТ» по внедрению «Сферума»",
            ["ivanova@example.ru"],
        )
    ]
    since = mark()
    services.profile_update(user=teacher, email="ivanova@example.ru", phone="+79123456789")
    assert entries_since(since) == []  # nothing changed: no password needed, nothing written


# --- People ---------------------------------------------------------------------------------


def test_person_create(admin, organisation):
    since = mark()
    person = services.person_create(
        organisation=organisation,
        actor=admin,
        last_name="Сапёлкина",
        first_name="Марина",
        patronymic="Леонидовна",
        position="педагог",
        email="Sapelkina@Example.ru",
        phone="+79120001122",
        roles={Role.TEACHER},
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.created",
        obj=person,
        organisation=organisation,
        data={
            "username": "sapelkina.ml",
            "last_name": "Сапёлкина",
            "first_name": "Марина",
            "patronymic": "Леонидовна",
            "position": "педагог",
            "email": "sapelkina@example.ru",
            "phone": "+7 912 000-11-22",  # as the portal shows numbers
            "roles": ["teacher"],
        },
    )


def test_person_update_changes_details_and_roles_in_one_entry(admin, teacher, organisation):
    since = mark()
    services.person_update(
        person=teacher,
        actor=admin,
        last_name="Иванова-Петрова",
        first_name="Софья",
        patronymic="Николаевна",
        roles={Role.TEACHER, Role.PARENT},
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.updated",
        obj=teacher,
        organisation=organisation,
        data={
            "last_name": ["Иванова", "Иванова-Петрова"],
            "roles": [["teacher"], ["parent", "teacher"]],
        },
    )
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER, Role.PARENT}


def test_user_set_roles_by_a_person_and_by_the_system(director, teacher, organisation):
    since = mark()
    services.user_set_roles(user=teacher, roles={Role.TEACHER, Role.ADMIN}, actor=director)
    assert_entry(
        only_entry_since(since),
        actor=director,
        action="person.roles.changed",
        obj=teacher,
        organisation=organisation,
        data={"roles": [["teacher"], ["admin", "teacher"]]},
    )
    since = mark()
    services.user_set_roles(user=teacher, roles={Role.TEACHER})
    assert_entry(
        only_entry_since(since),
        actor=None,
        action="person.roles.changed",
        obj=teacher,
        organisation=organisation,
        data={"roles": [["admin", "teacher"], ["teacher"]]},
    )
    since = mark()
    services.user_set_roles(user=teacher, roles={Role.TEACHER})
    assert entries_since(since) == []


def test_person_set_active(admin, teacher, organisation):
    since = mark()
    services.person_set_active(person=teacher, actor=admin, active=False)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.deactivated",
        obj=teacher,
        organisation=organisation,
        data={},
    )
    since = mark()
    services.person_set_active(person=teacher, actor=admin, active=True)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.activated",
        obj=teacher,
        organisation=organisation,
        data={},
    )
    assert User.objects.get(pk=teacher.pk).is_active


def test_guardianship_link_and_unlink(admin, student, organisation):
    mother = UserFactory(
        organisation=organisation, last_name="Мамина", first_name="Ирина", roles=[Role.PARENT]
    )
    since = mark()
    services.guardianship_link(parent=mother, student=student, actor=admin)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="guardianship.linked",
        obj=student,
        organisation=organisation,
        data={"parent": [mother.pk, "Мамина Ирина Сергеевна"]},
    )
    since = mark()
    services.guardianship_link(parent=mother, student=student, actor=admin)
    assert entries_since(since) == []  # already linked: nothing changed

    since = mark()
    services.guardianship_unlink(student=student, parent_id=mother.pk, actor=admin)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="guardianship.unlinked",
        obj=student,
        organisation=organisation,
        data={"parent": [mother.pk, "Мамина Ирина Сергеевна"]},
    )
    assert not Guardianship.objects.filter(parent=mother).exists()
    since = mark()
    services.guardianship_unlink(student=student, parent_id=mother.pk, actor=admin)
    assert entries_since(since) == []


# --- Groups ---------------------------------------------------------------------------------


def test_group_create(admin, teacher, student, organisation):
    since = mark()
    group = services.group_create(
        organisation=organisation,
        actor=admin,
        name="Робототехника",
        teachers=[teacher],
        students=[student],
        chat_invite_link=LINK,
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="group.created",
        obj=group,
        organisation=organisation,
        data={
            "name": "Робототехника",
            "teachers": [teacher.pk],
            "students": [student.pk],
            "chat_invite_link": LINK,
        },
    )


def test_group_update(admin, teacher, student, group, organisation):
    since = mark()
    services.group_update(
        group=group,
        actor=admin,
        name="Юный художник",
        teachers=[teacher, admin],
        students=[],
        chat_invite_link=LINK,
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="group.updated",
        obj=group,
        organisation=organisation,
        data={
            "chat_invite_link": ["", LINK],
            "teachers": [[teacher.pk], sorted([teacher.pk, admin.pk])],
            "students": [[student.pk], []],
        },
    )
    assert list(StudyGroup.objects.get(pk=group.pk).students.all()) == []


def test_group_set_link(teacher, group, organisation):
    since = mark()
    services.group_set_link(group=group, actor=teacher, chat_invite_link=LINK)
    assert_entry(
        only_entry_since(since),
        actor=teacher,
        action="group.link_changed",
        obj=group,
        organisation=organisation,
        data={"chat_invite_link": ["", LINK]},
    )


# --- Invitations ----------------------------------------------------------------------------


def test_invitation_issue_records_a_printed_link(admin, newcomer, organisation):
    since = mark()
    printed = services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="invitation.issued",
        obj=newcomer,
        organisation=organisation,
        data={"invitation": printed.invitation.pk, "emailed_to": ""},
    )
    assert mail.outbox == []


def test_invitation_accept(admin, newcomer, organisation):
    issued = services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    since = mark()
    services.invitation_accept(invitation=issued.invitation, password="Sferum-2026-novyi")
    assert_entry(
        only_entry_since(since),
        actor=newcomer,
        action="invitation.accepted",
        obj=newcomer,
        organisation=organisation,
        data={"invitation": issued.invitation.pk},
    )
    since = mark()
    with pytest.raises(PortalError) as info:
        services.invitation_accept(invitation=issued.invitation, password="Another-Pass-2026")
    assert info.value.message == "Эта ссылка уже использована: пароль по ней выбран."
    assert entries_since(since) == []
    assert User.objects.get(pk=newcomer.pk).check_password("Sferum-2026-novyi")


# --- Staff import ---------------------------------------------------------------------------


def test_import_upload_apply_and_cancel(admin, organisation):
    since = mark()
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна", "О'Коннор Патрик"))
    # The upload, then (tests run jobs at once) the parse job's stored preview, by the system.
    uploaded, checked = entries_since(since)
    assert_entry(
        uploaded,
        actor=admin,
        action="import.uploaded",
        obj=batch,
        organisation=organisation,
        data={"filename": "staff.csv", "role": "teacher"},
    )
    assert_entry(
        checked,
        actor=None,
        action="import.checked",
        obj=batch,
        organisation=organisation,
        data={"error": "", "to_add": 2, "matches": 0, "errors": 0},
    )
    since, people = mark(), User.objects.count()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert (job.status, job.done, job.total) == ("done", 2, 2)
    assert User.objects.count() == people + 2
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="import.applied",
        obj=batch,
        organisation=organisation,
        data={"filename": "staff.csv", "role": "teacher", "count": 2},
    )
    since = mark()
    # The job delivered again (a worker stopped after it committed): nothing more.
    services.import_apply_run(job_id=job.pk, batch_id=batch.pk)
    assert entries_since(since) == []
    assert User.objects.count() == people + 2

    other = upload(admin, staff_csv("Римская-Корсакова Мария Ивановна"), role=Role.PARENT)
    since = mark()
    services.import_check(job_id=0, batch_id=other.pk)  # checked again: the same, nothing new
    assert entries_since(since) == []
    services.import_cancel(batch=other, actor=admin)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="import.cancelled",
        obj=other,
        organisation=organisation,
        data={"filename": "staff.csv"},
    )
    since = mark()
    services.import_cancel(batch=other, actor=admin)  # cancelled already: nothing to do
    assert entries_since(since) == []


def test_a_list_with_errors_by_the_time_the_job_reads_it_adds_nobody(
    admin, organisation, other_organisation
):
    batch = upload(admin, emailed_list())
    # Since the preview, another organisation's person got one of the list's e-mails.
    UserFactory(organisation=other_organisation, username="taker", email="elkina@example.ru")
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert (job.status, job.message) == ("failed", services.IMPORT_ROWS_WITH_ERRORS)
    assert User.objects.count() == people
    batch.refresh_from_db()
    # Pending again, its preview showing the row that is wrong now, recorded as a check.
    assert batch.status == ImportBatch.Status.PENDING
    assert (batch.preview["to_add"], batch.preview["errors"]) == (1, 1)
    assert_entry(
        only_entry_since(since),
        actor=None,
        action="import.checked",
        obj=batch,
        organisation=organisation,
        data={"error": "", "to_add": 1, "matches": 0, "errors": 1},
    )
    since = mark()
    with pytest.raises(PortalError) as info:
        services.import_apply_start(batch=batch, actor=admin)
    assert info.value.message == services.IMPORT_ROWS_WITH_ERRORS
    assert entries_since(since) == [] and User.objects.count() == people


# --- Signing in -----------------------------------------------------------------------------


def test_login_unlock(admin, teacher, organisation, settings):
    fail_sign_in("teacher", settings.AXES_FAILURE_LIMIT)
    since = mark()
    assert services.login_unlock(person=teacher, actor=admin) == 1
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.login_unlocked",
        obj=teacher,
        organisation=organisation,
        data={"attempts_cleared": 1},
    )
    assert selectors.login_failures(teacher) == 0


# --- Invitations by e-mail and for print, the manager's code, the admin, expiry ------------


def test_a_print_job_issues_one_entry_per_slip(admin, organisation, newcomer, tmp_path):
    since = mark()
    job = services.invitation_slips_start(actor=admin, people=[newcomer], base_url=BASE_URL)
    invitation = Invitation.objects.get(user=newcomer)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="invitation.issued",
        obj=newcomer,
        organisation=organisation,
        data={"invitation": invitation.pk, "emailed_to": ""},
    )
    # Run again (a requeued job) after the sheet was stored: it only finishes.
    since = mark()
    services.invitation_slips_run(
        job_id=job.pk, people_ids=[newcomer.pk], base_url=BASE_URL, name=job.task_args[2]
    )
    assert entries_since(since) == []
    # The chore and the look-up change no row.
    assert services.stored_invitation_slips(job) == job.task_args[2]
    assert services.invitation_slips_remove_old() == []
    assert entries_since(since) == []


def test_a_mailing_records_its_start_and_each_letter_and_a_retry_starts_anew(
    admin, organisation, newcomer, monkeypatch
):
    since = mark()
    services.invitations_email_start(
        organisation=organisation, people=[newcomer], actor=admin, base_url=BASE_URL
    )
    actions = [entry.action for entry in entries_since(since)]
    assert actions == ["invitation.mailing.started", "invitation.issued", "invitation.emailed"]
    mailing = InvitationMailing.objects.get()
    # The letter did not go (the server refused it): a retry is a new mailing of its own.
    delivery = mailing.deliveries.get()
    delivery.status = Delivery.Status.FAILED
    delivery.save(update_fields=["status"])
    since = mark()
    services.invitation_mailing_retry(mailing=mailing, actor=admin)
    assert [entry.action for entry in entries_since(since)] == [
        "invitation.mailing.started",
        "invitation.issued",
        "invitation.emailed",
    ]


def test_a_managers_code_is_recorded_where_it_was_sent(director, organisation):
    manager = UserFactory(
        organisation=organisation, username="admin2", email="admin2@example.ru",
        roles=[Role.ADMIN],
    )  # fmt: skip
    invitation = services.invitation_issue(
        user=manager, actor=director, base_url=BASE_URL
    ).invitation
    since = mark()
    services.invitation_code_start(invitation=invitation)
    assert_entry(
        only_entry_since(since),
        actor=None,
        action="invitation.code_sent",
        obj=manager,
        organisation=organisation,
        data={"invitation": invitation.pk, "email": "admin2@example.ru"},
    )


def test_the_superusers_admin_change_is_recorded(superuser, organisation):
    since = mark()
    services.admin_saved(actor=superuser, obj=organisation, added=False, fields=["region"])
    entry = only_entry_since(since)
    assert (entry.action, entry.actor, entry.object_id) == (
        "admin.changed",
        superuser,
        str(organisation.pk),
    )


def test_an_abandoned_list_expires_by_the_system(admin, organisation):
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна"))
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    since = mark()
    assert services.import_expire_abandoned() == [batch.pk]
    entry = only_entry_since(since)
    assert (entry.action, entry.actor, entry.object_id) == ("import.expired", None, str(batch.pk))


def test_every_service_wrote_what_it_declares(observed, db):
    """Last in this module, after every call above (tests/audit_observer.py)."""
    audit_observer.assert_declarations_hold(observed, AUDITED_SERVICES, NOT_AUDITED)
