"""Every change in accounts writes exactly one audit entry; every refusal writes nothing."""

import csv
import datetime as dt
import inspect
import io

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db.models import Max
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from accounts import selectors, services
from accounts.models import (
    Guardianship,
    ImportBatch,
    Invitation,
    Messenger,
    Organisation,
    Role,
    StudyGroup,
    User,
)
from cdt_portal import throttle
from cdt_portal.audit import ACTION_LABELS
from cdt_portal.errors import PortalError
from cdt_portal.jobs import QUEUE_DOWN, jobs_recover
from cdt_portal.models import AuditEntry, Job
from tests.factories import PASSWORD, UserFactory

# Every public function of accounts/services.py that changes data, with the action it logs.
AUDITED_SERVICES = {
    "organisation_update": "organisation.updated",
    "profile_update": "profile.updated",
    "person_create": "person.created",
    "person_update": "person.updated",
    "user_set_roles": "person.roles.changed",
    "person_set_active": "person.deactivated",  # "person.activated" when switched back on
    "guardianship_link": "guardianship.linked",
    "guardianship_unlink": "guardianship.unlinked",
    "group_create": "group.created",
    "group_update": "group.updated",
    "group_set_link": "group.link_changed",
    "invitation_issue": "invitation.issued",
    # One "invitation.issued" per slip, or one "invitation.refused" for the whole refusal.
    "invitations_for_print": "invitation.issued",
    "invitation_accept": "invitation.accepted",
    "import_upload": "import.uploaded",
    # Its job adds the people and logs the one entry (at once in tests), as the person who
    # pressed «Добавить»; the job's work on its own is `import_apply_run`.
    "import_apply_start": "import.applied",
    "import_apply_run": "import.applied",
    "import_cancel": "import.cancelled",
    "login_unlock": "person.login_unlocked",
    "invitations_email_start": "invitation.mailing.started",
    "invitation_mailing_retry": "invitation.mailing.started",
    # One entry per letter: "invitation.issued" when it is claimed, then its outcome
    # ("invitation.email_failed", "invitation.email_unconfirmed" when not sent).
    "invitation_mailing_run": "invitation.emailed",
    "import_check": "import.checked",
    "import_expire_abandoned": "import.expired",
    # The code a manager proves the mailbox with: its sending (tests/trust/).
    "invitation_code_run": "invitation.code_sent",
    # Puts a batch back to pending; a new preview (the file has errors now) is recorded.
    "import_apply_failed": "import.checked",
    # The superuser's changes in the Django admin ("admin.added" for a new object).
    "admin_saved": "admin.changed",
}
# What a refused role change records, in a transaction of its own (the change is not made).
REFUSAL_ACTIONS = (
    "person.roles.refused",
    "person.activation.refused",
    "invitation.email_failed",
    "invitation.email_unconfirmed",
)
# Public functions there that only compute.
NOT_WRITING = (
    "transliterate",
    "username_base",
    "free_username",
    # Starts the job that writes (`invitation_code_run`).
    "invitation_code_start",
)

LINK = "https://sferum.ru/?invite=abc123"
BASE_URL = "http://testserver/"


def mark() -> int:
    return AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0


def entries_since(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(pk__gt=since).order_by("pk"))


def only_entry_since(since: int) -> AuditEntry:
    entries = entries_since(since)
    assert len(entries) == 1, [e.action for e in entries]
    return entries[0]


def assert_entry(entry, *, actor, action, obj, organisation, data) -> None:
    assert entry.action == action
    assert entry.actor_id == (actor.pk if actor else None)
    assert entry.content_type == ContentType.objects.get_for_model(obj)
    assert entry.object_id == str(obj.pk)
    assert entry.organisation_id == organisation.pk
    assert entry.data == data


def staff_csv(*names: str) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";").writerows([["Ф.И.О."], *[[name] for name in names]])
    return out.getvalue().encode()


@pytest.fixture
def newcomer(organisation):
    person = UserFactory(
        organisation=organisation,
        username="novikova.ap",
        last_name="Новикова",
        first_name="Анна",
        patronymic="Петровна",
        email="novikova@example.ru",
        roles=[Role.TEACHER],
    )
    person.set_unusable_password()
    person.save()
    return person


# --- The lists above are the whole module ----------------------------------------------------


def test_every_public_service_is_listed_as_writing_or_not():
    public = {
        name
        for name, value in vars(services).items()
        if inspect.isfunction(value)
        and value.__module__ == services.__name__
        and not name.startswith("_")
    }
    assert public == set(AUDITED_SERVICES) | set(NOT_WRITING)
    assert not set(AUDITED_SERVICES) & set(NOT_WRITING)


def test_every_action_has_a_russian_label():
    actions = {*AUDITED_SERVICES.values(), "person.activated", *REFUSAL_ACTIONS}
    assert actions <= set(ACTION_LABELS)
    assert all(ACTION_LABELS[action] != action for action in actions)


# --- Organisation and profile ---------------------------------------------------------------


def test_organisation_update(admin, organisation):
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


def test_organisation_update_with_nothing_changed_writes_nothing(admin, organisation):
    since = mark()
    services.organisation_update(
        organisation=organisation, actor=admin, data={"short_name": organisation.short_name}
    )
    assert entries_since(since) == []


def test_organisation_update_refuses_an_unknown_time_zone(admin, organisation):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.organisation_update(
            organisation=organisation, actor=admin, data={"time_zone": "Mars/Olympus"}
        )
    assert info.value.field == "time_zone"
    assert entries_since(since) == []
    assert Organisation.objects.get(pk=organisation.pk).time_zone == "Europe/Moscow"


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


def test_profile_update_without_the_password_is_refused(teacher):
    for password in ("", "wrong-password"):
        since = mark()
        with pytest.raises(PortalError) as info:
            services.profile_update(
                user=teacher, email="ivanova@example.ru", phone="", password=password
            )
        assert info.value.field == "password"
        assert entries_since(since) == []
    assert User.objects.get(pk=teacher.pk).email == ""
    assert mail.outbox == []


def test_profile_update_refuses_a_taken_email(teacher, admin):
    admin.email = "shared@example.ru"
    admin.save()
    since = mark()
    with pytest.raises(PortalError):
        services.profile_update(user=teacher, email="SHARED@example.ru", phone="")
    assert entries_since(since) == []
    assert User.objects.get(pk=teacher.pk).email == ""


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


def test_person_create_refuses_a_taken_email_and_adds_nobody(admin, teacher, organisation):
    teacher.email = "taken@example.ru"
    teacher.save()
    since, people = mark(), User.objects.count()
    with pytest.raises(PortalError) as info:
        services.person_create(
            organisation=organisation,
            actor=admin,
            last_name="Новая",
            first_name="Анна",
            email="TAKEN@example.ru",
            roles={Role.TEACHER},
        )
    assert info.value.message == "Этот e-mail уже указан у другого пользователя."
    assert entries_since(since) == []
    assert User.objects.count() == people


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


def test_person_update_with_roles_only(admin, teacher, organisation):
    since = mark()
    services.person_update(
        person=teacher,
        actor=admin,
        last_name="Иванова",
        first_name="Софья",
        patronymic="Николаевна",
        roles={Role.STUDENT},
    )
    entry = only_entry_since(since)
    assert entry.data == {"roles": [["teacher"], ["student"]]}


def test_removing_ones_own_admin_role_is_refused_and_changes_nothing(admin):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_update(
            person=admin,
            actor=admin,
            last_name="Другая",
            first_name="Ольга",
            patronymic="Викторовна",
            roles={Role.TEACHER},
        )
    assert (info.value.message, info.value.field) == (
        "Нельзя снять с себя роль администратора.",
        "roles",
    )
    # Only the refusal is recorded; nothing of the change is.
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.roles.refused",
        obj=admin,
        organisation=admin.organisation,
        data={"roles": [["admin", "teacher"], ["teacher"]], "refused": ["admin"]},
    )
    fresh = User.objects.get(pk=admin.pk)
    assert fresh.roles == {Role.ADMIN, Role.TEACHER}
    assert fresh.last_name == "Захарова"


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


def test_nobody_sets_their_own_roles(director):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.user_set_roles(user=director, roles={Role.DIRECTOR, Role.ADMIN}, actor=director)
    assert (info.value.message, info.value.field) == ("Нельзя менять собственные роли.", "roles")
    assert_entry(
        only_entry_since(since),
        actor=director,
        action="person.roles.refused",
        obj=director,
        organisation=director.organisation,
        data={"roles": [["director"], ["admin", "director"]], "refused": ["admin"]},
    )
    assert User.objects.get(pk=director.pk).roles == {Role.DIRECTOR}


def test_an_administrator_granting_a_role_she_may_not_grant_is_refused_and_recorded(
    admin, teacher, organisation
):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_update(
            person=teacher,
            actor=admin,
            last_name="Иванова-Петрова",
            first_name="Софья",
            patronymic="Николаевна",
            roles={Role.TEACHER, Role.DIRECTOR},
        )
    assert (info.value.message, info.value.field) == (
        "Вы не можете назначать или снимать роли: руководитель.",
        "roles",
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.roles.refused",
        obj=teacher,
        organisation=organisation,
        data={"roles": [["teacher"], ["director", "teacher"]], "refused": ["director"]},
    )
    fresh = User.objects.get(pk=teacher.pk)
    assert (fresh.last_name, fresh.roles) == ("Иванова", {Role.TEACHER})


def test_person_create_with_a_role_the_actor_may_not_grant_is_refused_and_recorded(
    admin, organisation
):
    since, people = mark(), User.objects.count()
    with pytest.raises(PortalError) as info:
        services.person_create(
            organisation=organisation,
            actor=admin,
            last_name="Новая",
            first_name="Анна",
            roles={Role.ADMIN, Role.TEACHER},
        )
    assert info.value.field == "roles"
    entry = only_entry_since(since)
    assert (entry.action, entry.actor_id, entry.content_type, entry.organisation_id) == (
        "person.roles.refused",
        admin.pk,
        None,
        organisation.pk,
    )
    assert entry.data == {
        "roles": [[], ["admin", "teacher"]],
        "refused": ["admin"],
        "person": "Новая Анна",
    }
    assert User.objects.count() == people


def test_an_administrator_cannot_touch_another_managers_roles(admin, director, organisation):
    colleague = UserFactory(organisation=organisation, roles=[Role.ADMIN, Role.TEACHER])
    for person, roles in ((colleague, {Role.ADMIN}), (director, {Role.DIRECTOR, Role.TEACHER})):
        since = mark()
        with pytest.raises(PortalError) as info:
            services.user_set_roles(user=person, roles=roles, actor=admin)
        assert info.value.message == (
            "Вы не можете менять роли этого человека: это делает руководитель."
        )
        assert [e.action for e in entries_since(since)] == ["person.roles.refused"]
    assert User.objects.get(pk=colleague.pk).roles == {Role.ADMIN, Role.TEACHER}
    assert User.objects.get(pk=director.pk).roles == {Role.DIRECTOR}


def test_the_director_appoints_and_removes_an_administrator_but_nothing_else(
    director, teacher, organisation
):
    services.user_set_roles(user=teacher, roles={Role.TEACHER, Role.ADMIN}, actor=director)
    services.user_set_roles(user=teacher, roles={Role.TEACHER}, actor=director)
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER}
    since = mark()
    with pytest.raises(PortalError) as info:
        services.user_set_roles(user=teacher, roles={Role.TEACHER, Role.PARENT}, actor=director)
    assert info.value.message == (
        "Вы не можете назначать или снимать роли: родитель (законный представитель)."
    )
    assert [e.action for e in entries_since(since)] == ["person.roles.refused"]


def test_an_administrator_cannot_change_a_managers_contacts(admin, director):
    director.email = "director@cdt.example"
    director.save()
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_update(
            person=director,
            actor=admin,
            last_name=director.last_name,
            first_name=director.first_name,
            patronymic=director.patronymic,
            email="zakharova@example.ru",
            roles={Role.DIRECTOR},
            password=PASSWORD,
        )
    assert (info.value.message, info.value.field) == (
        "E-mail и телефон этого человека меняет только он сам или тот, кто назначает все его "
        "роли (администратору — руководитель).",
        "email",
    )
    # The refusal guards an account: it stays in the log (its own transaction).
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.contacts.refused",
        obj=director,
        organisation=director.organisation,
        data={"fields": ["email"], "roles": ["director"]},
    )
    assert User.objects.get(pk=director.pk).email == "director@cdt.example"
    assert mail.outbox == []


def test_the_director_changes_an_administrators_email_with_her_password(director, admin):
    admin.email = "old@example.ru"
    admin.save()
    details = {
        "last_name": admin.last_name,
        "first_name": admin.first_name,
        "patronymic": admin.patronymic,
        "email": "new@example.ru",
        "roles": {Role.ADMIN, Role.TEACHER},
    }
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_update(person=admin, actor=director, password="wrong", **details)
    assert info.value.field == "password"
    assert entries_since(since) == []
    assert mail.outbox == []

    services.person_update(person=admin, actor=director, password=PASSWORD, **details)
    assert_entry(
        only_entry_since(since),
        actor=director,
        action="person.updated",
        obj=admin,
        organisation=admin.organisation,
        data={"email": ["old@example.ru", "new@example.ru"]},
    )
    [message] = mail.outbox
    assert message.subject == "Ваш e-mail изменён — Портал МКУ ДО «ЦДТ» по внедрению «Сферума»"
    assert message.to == ["old@example.ru", "new@example.ru"]
    assert "это сделал(а) Денисенко О. Б." in message.body
    assert "old@example.ru → new@example.ru" in message.body


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


def test_deactivating_oneself_is_refused_and_changes_nothing(admin):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_set_active(person=admin, actor=admin, active=False)
    assert (info.value.message, info.value.field) == (
        "Нельзя отключить собственную учётную запись.",
        "active",
    )
    assert entries_since(since) == []
    assert User.objects.get(pk=admin.pk).is_active


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


def test_guardianship_across_organisations_is_refused(admin, student, outsider):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.guardianship_link(parent=outsider, student=student, actor=admin)
    assert info.value.field == "parent"
    assert entries_since(since) == []
    assert not Guardianship.objects.filter(parent=outsider).exists()


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


def test_a_second_group_of_the_same_name_is_refused(admin, group, organisation):
    since, groups = mark(), StudyGroup.objects.count()
    with pytest.raises(PortalError) as info:
        services.group_create(organisation=organisation, actor=admin, name=group.name)
    assert info.value.message == "Объединение с таким названием уже есть."
    assert entries_since(since) == []
    assert StudyGroup.objects.count() == groups


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


def test_a_link_that_is_not_https_is_refused(teacher, group):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.group_set_link(group=group, actor=teacher, chat_invite_link="http://sferum.ru/")
    assert info.value.field == "chat_invite_link"
    assert entries_since(since) == []
    assert StudyGroup.objects.get(pk=group.pk).chat_invite_link == ""


# --- Invitations ----------------------------------------------------------------------------


def test_invitation_issue_by_email_and_on_paper(admin, newcomer, organisation):
    since = mark()
    issued = services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="invitation.issued",
        obj=newcomer,
        organisation=organisation,
        data={"invitation": issued.invitation.pk, "emailed_to": "novikova@example.ru"},
    )
    assert len(mail.outbox) == 1
    since = mark()
    printed = services.invitation_issue(
        user=newcomer, actor=admin, base_url=BASE_URL, send_email=False
    )
    assert only_entry_since(since).data == {"invitation": printed.invitation.pk, "emailed_to": ""}
    assert len(mail.outbox) == 1


def test_inviting_a_deactivated_person_is_refused(admin, newcomer):
    newcomer.is_active = False
    newcomer.save()
    since = mark()
    with pytest.raises(PortalError) as info:
        services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    assert info.value.message == "Учётная запись отключена: сначала включите её."
    assert entries_since(since) == []
    assert not Invitation.objects.filter(user=newcomer).exists()


def test_a_refused_email_records_no_invitation(admin, newcomer, monkeypatch):
    def refuse(self, messages):
        raise ConnectionRefusedError("Connection refused by smtp.example.ru")

    monkeypatch.setattr(EmailBackend, "send_messages", refuse)
    since = mark()
    with pytest.raises(PortalError) as info:
        services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    assert info.value.message.startswith("Письмо не отправлено: Connection refused")
    assert entries_since(since) == []
    assert not Invitation.objects.filter(user=newcomer).exists()


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


def upload(admin, content: bytes, role=Role.TEACHER) -> ImportBatch:
    return services.import_upload(
        organisation=admin.organisation,
        actor=admin,
        filename="staff.csv",
        content=content,
        role=role,
    )


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


@pytest.mark.parametrize(
    ("content", "role", "message"),
    [
        (b"", Role.TEACHER, "Файл пустой."),
        (b"x" * (services.IMPORT_MAX_BYTES + 1), Role.TEACHER, "Файл больше 5 МБ"),
        (staff_csv("Ёлкина Алёна Петровна"), Role.ADMIN, "Выберите, кого добавляет список."),
    ],
)
def test_a_refused_upload_stores_nothing(admin, content, role, message):
    since = mark()
    with pytest.raises(PortalError) as info:
        upload(admin, content, role=role)
    assert info.value.message.startswith(message)
    assert entries_since(since) == []
    assert not ImportBatch.objects.exists()


def test_applying_a_list_with_bad_rows_or_twice_is_refused(admin):
    bad = upload(admin, staff_csv("Ёлкина Алёна Петровна", "Петров"))
    people, since = User.objects.count(), mark()
    with pytest.raises(PortalError) as info:
        services.import_apply_start(batch=bad, actor=admin)
    assert "Ничего не добавлено" in info.value.message
    assert entries_since(since) == []
    assert User.objects.count() == people
    assert ImportBatch.objects.get(pk=bad.pk).status == ImportBatch.Status.PENDING
    assert not Job.objects.filter(key=f"import-apply:{bad.pk}").exists()

    good = upload(admin, staff_csv("Ёлкина Алёна Петровна"))
    services.import_apply_start(batch=good, actor=admin)
    people, since = User.objects.count(), mark()
    for refused in (
        lambda: services.import_apply_start(batch=good, actor=admin),
        lambda: services.import_cancel(batch=good, actor=admin),
    ):
        with pytest.raises(PortalError) as info:
            refused()
        assert info.value.message == "Этот список уже загружен или отменён."
    assert entries_since(since) == []
    assert User.objects.count() == people
    assert ImportBatch.objects.get(pk=good.pk).status == ImportBatch.Status.APPLIED


@pytest.fixture
def queue_only(monkeypatch):
    """The queue takes the task but no worker runs it (yet)."""
    queued = []
    monkeypatch.setattr(HUEY, "enqueue", queued.append)
    return queued


def emailed_list() -> bytes:
    return "Ф.И.О.;E-mail\nЁлкина Алёна Петровна;elkina@example.ru\nО'Коннор Патрик;\n".encode()


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


def test_an_email_taken_while_the_job_adds_people_adds_nobody_and_can_be_retried(
    admin, organisation, other_organisation, monkeypatch
):
    batch = upload(admin, emailed_list())
    read = services.preview_staff_import

    def read_then_taken(**kwargs):
        preview = read(**kwargs)
        UserFactory(organisation=other_organisation, username="taker", email="elkina@example.ru")
        return preview

    monkeypatch.setattr(services, "preview_staff_import", read_then_taken)
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert (job.status, job.message) == ("failed", services.IMPORT_EMAIL_TAKEN)
    assert User.objects.count() == people  # nobody, not even the one taken meanwhile
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.PENDING
    assert entries_since(since) == []

    monkeypatch.setattr(services, "preview_staff_import", read)
    again = services.import_apply_start(batch=batch, actor=admin)  # the failed job, queued again
    assert (again.pk, again.status) == (job.pk, "done")
    assert User.objects.count() == people + 2
    assert [e.action for e in entries_since(since)] == ["import.applied"]


def test_queue_down_applying_fails_the_job_and_puts_the_batch_back(admin, monkeypatch):
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна"))

    def refuse(task):
        raise OSError("unable to open database file")

    monkeypatch.setattr(HUEY, "enqueue", refuse)
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    job.refresh_from_db()
    assert (job.status, job.message) == ("failed", QUEUE_DOWN)
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.PENDING
    assert entries_since(since) == [] and User.objects.count() == people


def test_while_the_people_are_being_added_pressing_again_finds_the_job_and_cancel_is_refused(
    admin, organisation, queue_only
):
    batch = upload(admin, staff_csv("Ёлкина Алёна Петровна"))
    services.import_check(job_id=0, batch_id=batch.pk)  # the worker read the list
    queue_only.clear()
    people, since = User.objects.count(), mark()
    job = services.import_apply_start(batch=batch, actor=admin)
    assert services.import_apply_start(batch=batch, actor=admin).pk == job.pk
    assert len(queue_only) == 1 and job.kind == "import"
    assert ImportBatch.objects.get(pk=batch.pk).status == ImportBatch.Status.APPLYING
    with pytest.raises(PortalError) as info:
        services.import_cancel(batch=batch, actor=admin)
    assert info.value.message == services.IMPORT_APPLYING
    assert entries_since(since) == [] and User.objects.count() == people

    # The worker stopped while adding them: the job is queued again, once, and runs once.
    long_ago = timezone.now() - dt.timedelta(minutes=10)
    Job.objects.filter(pk=job.pk).update(status="running", heartbeat_at=long_ago)
    assert jobs_recover() == [job.pk]
    assert jobs_recover() == []  # queued now, its task waiting
    assert [t.name for t in queue_only] == ["apply_import", "apply_import"]
    assert queue_only[-1].args == (job.pk, 2, batch.pk)
    resumed = only_entry_since(since)
    assert (resumed.action, resumed.object_id) == ("job.requeued", str(job.pk))
    since = mark()
    for _ in range(2):
        url = services.import_apply_run(job_id=job.pk, batch_id=batch.pk)
        assert url == f"/people/import/{batch.pk}/"
    assert User.objects.count() == people + 1
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="import.applied",
        obj=batch,
        organisation=organisation,
        data={"filename": "staff.csv", "role": "teacher", "count": 1},
    )


# --- Where people see it --------------------------------------------------------------------


def test_the_person_page_shows_their_history(client, admin, teacher):
    services.person_set_active(person=teacher, actor=admin, active=False)
    services.person_set_active(person=teacher, actor=admin, active=True)
    client.force_login(admin)
    page = client.get(reverse("person_detail", kwargs={"pk": teacher.pk})).content.decode()
    assert "История" in page
    assert "Учётная запись отключена" in page and "Учётная запись включена" in page
    assert page.index("Учётная запись включена") < page.index("Учётная запись отключена")
    assert "Захарова Ольга Викторовна" in page


@pytest.mark.parametrize("target", ["director", "other_admin"])
def test_an_administrator_cannot_switch_off_the_director_or_another_administrator(
    request, admin, organisation, target
):
    from tests.factories import UserFactory

    if target == "director":
        person = request.getfixturevalue("director")
    else:
        person = UserFactory(organisation=organisation, roles=[Role.ADMIN])
    since = mark()
    with pytest.raises(PortalError) as info:
        services.person_set_active(person=person, actor=admin, active=False)
    assert info.value.message == (
        "Отключать и включать учётную запись руководителя или администратора может только "
        "руководитель."
    )
    assert_entry(
        only_entry_since(since),
        actor=admin,
        action="person.activation.refused",
        obj=person,
        organisation=organisation,
        data={"active": False},
    )
    assert User.objects.get(pk=person.pk).is_active


def test_the_director_switches_an_administrator_off_and_on(director, admin, organisation):
    since = mark()
    services.person_set_active(person=admin, actor=director, active=False)
    assert_entry(
        only_entry_since(since),
        actor=director,
        action="person.deactivated",
        obj=admin,
        organisation=organisation,
        data={},
    )
    assert not User.objects.get(pk=admin.pk).is_active
    since = mark()
    services.person_set_active(person=admin, actor=director, active=True)
    assert_entry(
        only_entry_since(since),
        actor=director,
        action="person.activated",
        obj=admin,
        organisation=organisation,
        data={},
    )
    assert User.objects.get(pk=admin.pk).is_active


def test_the_deactivation_page_refuses_an_administrator_for_the_director(client, admin, director):
    client.force_login(admin)
    response = client.post(f"/people/{director.pk}/active/", {"active": "0"})
    assert (response.status_code, response["Location"]) == (302, f"/people/{director.pk}/")
    assert User.objects.get(pk=director.pk).is_active
    client.force_login(director)
    response = client.post(f"/people/{admin.pk}/active/", {"active": "0"})
    assert (response.status_code, response["Location"]) == (302, f"/people/{admin.pk}/")
    assert not User.objects.get(pk=admin.pk).is_active


def _fail_sign_in(username: str, times: int) -> None:
    for _ in range(times):
        try:
            throttle.failed(RequestFactory().post("/accounts/login/"), username)
        except throttle.Throttled:
            pass


def test_login_unlock(admin, teacher, organisation, settings):
    _fail_sign_in("teacher", settings.AXES_FAILURE_LIMIT)
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


def test_login_unlock_refusals_write_nothing(admin, teacher, outsider):
    since = mark()
    with pytest.raises(PortalError):
        services.login_unlock(person=teacher, actor=admin)  # nothing to unlock
    _fail_sign_in("teacher", 1)
    with pytest.raises(PortalError):
        services.login_unlock(person=teacher, actor=outsider)
    assert AuditEntry.objects.filter(pk__gt=since).count() == 0
    assert selectors.login_failures(teacher) == 1
