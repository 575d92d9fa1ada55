"""Finding 1: an administrator made herself director through her own edit form, and took over
the director's account by changing her e-mail and asking for a password reset. Each step is
tried again here and fails; the director can still appoint an administrator."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts import services
from accounts.models import Role, User
from cdt_portal.errors import PortalError
from cdt_portal.models import AuditEntry
from tests.factories import PASSWORD, UserFactory

ATTACKER_EMAIL = "zakharova.private@example.ru"


def person_data(person, **overrides):
    data = {
        "last_name": person.last_name,
        "first_name": person.first_name,
        "patronymic": person.patronymic,
        "position": person.position,
        "email": person.email,
        "phone": str(person.phone or ""),
        "roles": sorted(person.roles),
    }
    data.update(overrides)
    return data


def role_checkboxes(page: str) -> set[str]:
    return set(re.findall(r'<input type="checkbox"[^>]* name="roles" value="(\w+)"', page))


def test_her_own_edit_form_offers_no_role_and_a_forged_director_role_is_refused_and_recorded(
    client, admin, draft_version
):
    client.force_login(admin)
    url = reverse("person_edit", kwargs={"pk": admin.pk})
    page = client.get(url).content.decode()
    assert role_checkboxes(page) == set()
    assert "Эти роли меняете не вы." in page

    before = AuditEntry.objects.count()
    response = client.post(url, person_data(admin, roles=["admin", "teacher", "director"]))
    assert response.status_code == 400
    assert "Нельзя менять собственные роли." in response.content.decode()
    assert User.objects.get(pk=admin.pk).roles == {Role.ADMIN, Role.TEACHER}
    [entry] = AuditEntry.objects.order_by("pk")[before:]
    assert (entry.action, entry.actor_id, entry.object_id) == (
        "person.roles.refused",
        admin.pk,
        str(admin.pk),
    )
    assert entry.data == {
        "roles": [["admin", "teacher"], ["admin", "director", "teacher"]],
        "refused": ["director"],
    }
    # The director-only approval page stays closed to her.
    approve = reverse("version_approve", kwargs={"pk": draft_version.pk})
    assert client.get(approve).status_code == 403


def test_saving_her_own_details_keeps_her_roles(client, admin):
    client.force_login(admin)
    url = reverse("person_edit", kwargs={"pk": admin.pk})
    response = client.post(url, person_data(admin, position="методист"))
    assert response.status_code == 302
    fresh = User.objects.get(pk=admin.pk)
    assert (fresh.position, fresh.roles) == ("методист", {Role.ADMIN, Role.TEACHER})


def test_the_administrators_form_offers_only_teacher_student_and_parent(client, admin, teacher):
    client.force_login(admin)
    page = client.get(reverse("person_edit", kwargs={"pk": teacher.pk})).content.decode()
    assert role_checkboxes(page) == {Role.TEACHER, Role.STUDENT, Role.PARENT}
    page = client.get(reverse("person_new")).content.decode()
    assert role_checkboxes(page) == {Role.TEACHER, Role.STUDENT, Role.PARENT}


def test_a_forged_administrator_role_for_a_teacher_is_refused(client, admin, teacher):
    client.force_login(admin)
    response = client.post(
        reverse("person_edit", kwargs={"pk": teacher.pk}),
        person_data(teacher, roles=["teacher", "admin"]),
    )
    assert (
        "Вы не можете назначать или снимать роли: администратор ИКОП «Сферум»."
        in response.content.decode()
    )
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER}
    assert AuditEntry.objects.filter(action="person.roles.refused", actor=admin).count() == 1


def test_the_administrator_cannot_edit_the_directors_or_another_administrators_roles(
    client, admin, director, organisation
):
    colleague = UserFactory(organisation=organisation, roles=[Role.ADMIN, Role.TEACHER])
    client.force_login(admin)
    for person in (director, colleague):
        url = reverse("person_edit", kwargs={"pk": person.pk})
        assert role_checkboxes(client.get(url).content.decode()) == set()
        response = client.post(url, person_data(person, roles=["teacher"]))
        assert "Вы не можете менять роли этого человека" in response.content.decode()
    assert User.objects.get(pk=director.pk).roles == {Role.DIRECTOR}
    assert User.objects.get(pk=colleague.pk).roles == {Role.ADMIN, Role.TEACHER}


def test_the_director_appoints_and_removes_an_administrator(client, director, teacher):
    client.force_login(director)
    detail = client.get(reverse("person_detail", kwargs={"pk": teacher.pk})).content.decode()
    url = reverse("person_edit", kwargs={"pk": teacher.pk})
    assert url in detail
    page = client.get(url).content.decode()
    assert role_checkboxes(page) == {Role.ADMIN}
    assert "Эти роли меняете не вы: педагог." in page

    response = client.post(url, person_data(teacher, roles=["teacher", "admin"]))
    assert response["Location"] == reverse("person_detail", kwargs={"pk": teacher.pk})
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER, Role.ADMIN}
    entry = AuditEntry.objects.latest("pk")
    assert (entry.action, entry.actor_id, entry.data) == (
        "person.updated",
        director.pk,
        {"roles": [["teacher"], ["admin", "teacher"]]},
    )

    response = client.post(url, person_data(teacher, roles=["teacher"]))
    assert response.status_code == 302
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER}


def test_the_director_cannot_give_herself_or_anyone_the_director_role(client, director, teacher):
    client.force_login(director)
    own = reverse("person_edit", kwargs={"pk": director.pk})
    response = client.post(own, person_data(director, roles=["director", "admin"]))
    assert "Нельзя менять собственные роли." in response.content.decode()
    response = client.post(
        reverse("person_edit", kwargs={"pk": teacher.pk}),
        person_data(teacher, roles=["teacher", "director"]),
    )
    assert "Вы не можете назначать или снимать роли: руководитель." in response.content.decode()
    assert User.objects.get(pk=director.pk).roles == {Role.DIRECTOR}
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER}


# --- Account takeover: the director's e-mail, then a password reset ---------------------------


def test_the_administrator_cannot_take_over_the_directors_account(client, admin, director):
    director.email = "director@cdt.example"
    director.save()
    client.force_login(admin)
    url = reverse("person_edit", kwargs={"pk": director.pk})
    page = client.get(url).content.decode()
    # The contact fields are shown but cannot be changed (Django ignores a disabled field).
    assert 'name="email" value="director@cdt.example"' in page
    assert page.count(" disabled") >= 2

    # (b) The form: the e-mail posted for the director is ignored.
    client.post(url, person_data(director, email=ATTACKER_EMAIL))
    assert User.objects.get(pk=director.pk).email == "director@cdt.example"
    # The service refuses it too, even with her own password.
    with pytest.raises(PortalError):
        services.person_update(
            person=director,
            actor=admin,
            last_name=director.last_name,
            first_name=director.first_name,
            patronymic=director.patronymic,
            email=ATTACKER_EMAIL,
            roles={Role.DIRECTOR},
            password=PASSWORD,
        )
    assert User.objects.get(pk=director.pk).email == "director@cdt.example"
    assert mail.outbox == []

    # (c) A password reset for her address finds nobody: no mail reaches her.
    client.logout()
    response = client.post(reverse("password_reset"), {"email": ATTACKER_EMAIL})
    assert response.status_code == 302
    assert mail.outbox == []


def test_the_director_changes_an_administrators_email_after_her_password(client, director, admin):
    admin.email = "zakharova@cdt.example"
    admin.save()
    client.force_login(director)
    url = reverse("person_edit", kwargs={"pk": admin.pk})
    assert 'name="password"' in client.get(url).content.decode()

    response = client.post(url, person_data(admin, email="o.zakharova@cdt.example"))
    assert "Неверный пароль" in response.content.decode()
    assert User.objects.get(pk=admin.pk).email == "zakharova@cdt.example"

    response = client.post(
        url, person_data(admin, email="o.zakharova@cdt.example", password=PASSWORD)
    )
    assert response.status_code == 302
    assert User.objects.get(pk=admin.pk).email == "o.zakharova@cdt.example"
    [message] = mail.outbox
    assert message.subject.startswith("Ваш e-mail изменён")
    assert message.to == ["zakharova@cdt.example", "o.zakharova@cdt.example"]


def test_the_administrator_changes_a_teachers_contacts_without_a_password(client, admin, teacher):
    client.force_login(admin)
    url = reverse("person_edit", kwargs={"pk": teacher.pk})
    assert 'name="password"' not in client.get(url).content.decode()
    client.post(url, person_data(teacher, email="ivanova@cdt.example"))
    assert User.objects.get(pk=teacher.pk).email == "ivanova@cdt.example"
    # The teacher is told all the same.
    assert [m.to for m in mail.outbox] == [["ivanova@cdt.example"]]


# --- Own profile -------------------------------------------------------------------------------


def test_changing_ones_own_email_asks_the_password_and_tells_both_addresses(client, director):
    director.email = "director@cdt.example"
    director.save()
    client.force_login(director)
    response = client.post(reverse("profile"), {"email": ATTACKER_EMAIL, "phone": ""})
    assert response.status_code == 400
    assert "Неверный пароль" in response.content.decode()
    assert User.objects.get(pk=director.pk).email == "director@cdt.example"
    assert mail.outbox == []

    response = client.post(
        reverse("profile"), {"email": "denisenko@cdt.example", "phone": "", "password": PASSWORD}
    )
    assert response["Location"] == reverse("profile")
    assert User.objects.get(pk=director.pk).email == "denisenko@cdt.example"
    [message] = mail.outbox
    assert message.subject.startswith("Ваш e-mail изменён")
    assert message.to == ["director@cdt.example", "denisenko@cdt.example"]
    assert "director@cdt.example → denisenko@cdt.example" in message.body
    assert "это сделал(а)" not in message.body


def test_a_new_phone_is_told_by_email(client, teacher):
    teacher.email = "ivanova@cdt.example"
    teacher.save()
    client.force_login(teacher)
    client.post(
        reverse("profile"),
        {"email": "ivanova@cdt.example", "phone": "+79123456789", "password": PASSWORD},
    )
    [message] = mail.outbox
    assert message.subject.startswith("Ваш телефон изменён")
    assert message.to == ["ivanova@cdt.example"]


# --- Django admin: the platform superuser's alone ----------------------------------------------


def test_an_organisations_administrator_gets_the_admin_login_for_every_admin_page(
    client, admin, director
):
    client.force_login(admin)
    urls = [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/add/",
        f"/admin/accounts/user/{director.pk}/change/",
        f"/admin/accounts/user/{director.pk}/password/",
        f"/admin/accounts/user/{admin.pk}/change/",
    ]
    for url in urls:
        for response in (client.get(url), client.post(url, {"is_superuser": "on"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith("/admin/login/?next="), url
    fresh = User.objects.get(pk=admin.pk)
    assert not (fresh.is_staff or fresh.is_superuser)
