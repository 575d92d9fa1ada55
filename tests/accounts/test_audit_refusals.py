"""A refused change in accounts writes no audit entry and changes nothing: organisation and
profile, people, groups, invitations, the sign-in lock (the declarations, helpers and fixtures:
audit_support.py)."""

import pytest
from django.core import mail

from accounts import selectors, services
from accounts.models import Guardianship, Invitation, Organisation, Role, StudyGroup, User
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.accounts import audit_support
from tests.accounts.audit_support import BASE_URL, entries_since, fail_sign_in, mark

observed = audit_support.observed
newcomer = audit_support.newcomer


# --- Organisation and profile ---------------------------------------------------------------


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


def test_guardianship_across_organisations_is_refused(admin, student, outsider):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.guardianship_link(parent=outsider, student=student, actor=admin)
    assert info.value.field == "parent"
    assert entries_since(since) == []
    assert not Guardianship.objects.filter(parent=outsider).exists()


# --- Groups ---------------------------------------------------------------------------------


def test_a_second_group_of_the_same_name_is_refused(admin, group, organisation):
    since, groups = mark(), StudyGroup.objects.count()
    with pytest.raises(PortalError) as info:
        services.group_create(organisation=organisation, actor=admin, name=group.name)
    assert info.value.message == "Объединение с таким названием уже есть."
    assert entries_since(since) == []
    assert StudyGroup.objects.count() == groups


def test_a_link_that_is_not_https_is_refused(teacher, group):
    since = mark()
    with pytest.raises(PortalError) as info:
        services.group_set_link(group=group, actor=teacher, chat_invite_link="http://sferum.ru/")
    assert info.value.field == "chat_invite_link"
    assert entries_since(since) == []
    assert StudyGroup.objects.get(pk=group.pk).chat_invite_link == ""


# --- Invitations ----------------------------------------------------------------------------


def test_inviting_a_deactivated_person_is_refused(admin, newcomer):
    newcomer.is_active = False
    newcomer.save()
    since = mark()
    with pytest.raises(PortalError) as info:
        services.invitation_issue(user=newcomer, actor=admin, base_url=BASE_URL)
    assert info.value.message == "Учётная запись отключена: сначала включите её."
    assert entries_since(since) == []
    assert not Invitation.objects.filter(user=newcomer).exists()


# --- Signing in -----------------------------------------------------------------------------


def test_login_unlock_refusals_write_nothing(admin, teacher, outsider):
    since = mark()
    with pytest.raises(PortalError):
        services.login_unlock(person=teacher, actor=admin)  # nothing to unlock
    fail_sign_in("teacher", 1)
    with pytest.raises(PortalError):
        services.login_unlock(person=teacher, actor=outsider)
    assert AuditEntry.objects.filter(pk__gt=since).count() == 0
    assert selectors.login_failures(teacher) == 1
