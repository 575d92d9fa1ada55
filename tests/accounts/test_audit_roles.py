"""Who may change whose roles, contacts and account in accounts: each change writes one audit
entry, each refusal of a role, a manager's contacts or an account's switch is recorded on its
own (the change is not made) (the declarations, helpers and fixtures: audit_support.py)."""

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Role, User
from cdt_portal.errors import PortalError
from tests.accounts import audit_support
from tests.accounts.audit_support import assert_entry, entries_since, mark, only_entry_since
from tests.factories import PASSWORD, UserFactory

observed = audit_support.observed


# --- Roles ----------------------------------------------------------------------------------


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


# --- A manager's contacts -------------------------------------------------------------------


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


# --- Switching an account off and on, and where people see it -------------------------------


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
