"""The administrator adds, edits and deactivates people by hand."""

import pytest
from django.urls import reverse

from accounts.models import Role, User
from acknowledgements.models import Acknowledgement
from acknowledgements.services import acknowledgement_confirm
from tests.factories import PASSWORD


def person_data(**overrides):
    data = {
        "last_name": "Сапёлкина-О'Нил",
        "first_name": "Марина",
        "patronymic": "Леонидовна",
        "position": "педагог дополнительного образования",
        "email": "Sapelkina@Example.ru",
        "phone": "+7 912 000-11-22",
        "roles": ["teacher"],
    }
    data.update(overrides)
    return data


def test_the_admin_adds_a_person_without_a_password(client, admin):
    client.force_login(admin)
    response = client.post(reverse("person_new"), person_data())
    person = User.objects.get(last_name="Сапёлкина-О'Нил")
    assert response["Location"] == reverse("person_detail", kwargs={"pk": person.pk})
    assert person.organisation == admin.organisation
    assert person.email == "sapelkina@example.ru"
    assert person.phone.as_e164 == "+79120001122"
    assert person.roles == {Role.TEACHER}
    assert not person.has_usable_password()
    assert person.username == "sapelkinaonil.ml"


def test_bad_input_when_adding_changes_nothing(client, admin, teacher):
    teacher.email = "taken@example.ru"
    teacher.save()
    client.force_login(admin)
    before = User.objects.count()
    response = client.post(
        reverse("person_new"),
        person_data(last_name="", email="TAKEN@example.ru", phone="12345", roles=[]),
    )
    text = response.content.decode()
    assert "Обязательное поле." in text
    assert "Введите корректный номер телефона" in text
    assert "Отметьте хотя бы одну роль." in text
    assert User.objects.count() == before
    response = client.post(reverse("person_new"), person_data(email="TAKEN@example.ru"))
    assert "Этот e-mail уже указан у другого пользователя." in response.content.decode()
    assert User.objects.count() == before


def test_the_admin_edits_a_person_and_their_roles(client, admin, teacher):
    client.force_login(admin)
    client.post(
        reverse("person_edit", kwargs={"pk": teacher.pk}),
        person_data(last_name="Иванова-Петрова", roles=["teacher", "parent"]),
    )
    teacher.refresh_from_db()
    assert teacher.last_name == "Иванова-Петрова"
    assert User.objects.get(pk=teacher.pk).roles == {Role.TEACHER, Role.PARENT}


def test_the_admin_cannot_remove_their_own_admin_role(client, admin):
    client.force_login(admin)
    response = client.post(
        reverse("person_edit", kwargs={"pk": admin.pk}), person_data(roles=["teacher"])
    )
    assert "Нельзя снять с себя роль администратора." in response.content.decode()
    assert Role.ADMIN in User.objects.get(pk=admin.pk).roles


def test_a_deactivated_person_cannot_sign_in_and_keeps_their_records(
    client, admin, teacher, regulation
):
    acknowledgement_confirm(
        version=regulation, person=teacher, password=PASSWORD, ip_address=None, user_agent=""
    )
    client.force_login(admin)
    page = client.get(reverse("person_active", kwargs={"pk": teacher.pk})).content.decode()
    assert "Отключить учётную запись?" in page
    client.post(reverse("person_active", kwargs={"pk": teacher.pk}), {"active": "0"})
    teacher.refresh_from_db()
    assert not teacher.is_active
    assert Acknowledgement.objects.filter(person=teacher).exists()

    client.logout()
    client.post(reverse("login"), {"username": "teacher", "password": PASSWORD})
    assert "_auth_user_id" not in client.session

    client.force_login(admin)
    client.post(reverse("person_active", kwargs={"pk": teacher.pk}), {"active": "1"})
    teacher.refresh_from_db()
    assert teacher.is_active


def test_a_signed_in_person_is_signed_out_once_deactivated(client, teacher):
    client.force_login(teacher)
    assert client.get(reverse("teacher_home")).status_code == 200
    User.objects.filter(pk=teacher.pk).update(is_active=False)
    response = client.get(reverse("teacher_home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_admin_cannot_deactivate_themselves(client, admin):
    client.force_login(admin)
    response = client.post(
        reverse("person_active", kwargs={"pk": admin.pk}), {"active": "0"}, follow=True
    )
    assert "Нельзя отключить собственную учётную запись." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_another_organisations_people_are_404(client, outsider, teacher):
    client.force_login(outsider)
    for name in ("person_edit", "person_active", "person_parents"):
        assert client.get(reverse(name, kwargs={"pk": teacher.pk})).status_code == 404
    assert (
        client.post(reverse("person_edit", kwargs={"pk": teacher.pk}), person_data()).status_code
        == 404
    )
    teacher.refresh_from_db()
    assert teacher.last_name == "Иванова"


def test_the_admin_links_a_parent_to_a_student(client, admin, student, organisation):
    from tests.factories import UserFactory

    mother = UserFactory(organisation=organisation, last_name="Мамина", roles=["parent"])
    client.force_login(admin)
    client.post(reverse("person_parents", kwargs={"pk": student.pk}), {"parent": mother.pk})
    assert student.parent_links.filter(parent=mother).exists()
    client.post(reverse("person_parents", kwargs={"pk": student.pk}), {"unlink": mother.pk})
    assert not student.parent_links.filter(parent=mother).exists()


def test_a_parent_is_linked_to_a_student_only(client, admin, director, teacher, parent):
    """A parent linked to the director or a teacher would act for them on the family's pages
    (a consent in their name): their «Родители» page is 404, and the service refuses."""
    from accounts.models import Guardianship
    from accounts.services import guardianship_link
    from cdt_portal.errors import PortalError

    client.force_login(admin)
    for person in (director, teacher):
        url = reverse("person_parents", kwargs={"pk": person.pk})
        assert client.get(url).status_code == 404
        assert client.post(url, {"parent": parent.pk}).status_code == 404
        with pytest.raises(PortalError, match="только к обучающемуся"):
            guardianship_link(parent=parent, student=person, actor=admin)
    assert not Guardianship.objects.filter(student__in=[director, teacher]).exists()


def test_a_parent_is_never_linked_to_someone_who_is_not_a_parent(admin, student, teacher):
    from accounts.models import Guardianship
    from accounts.services import guardianship_link
    from cdt_portal.errors import PortalError

    with pytest.raises(PortalError, match="Выберите родителя из списка"):
        guardianship_link(parent=teacher, student=student, actor=admin)
    assert not Guardianship.objects.filter(student=student, parent=teacher).exists()


def test_a_former_students_parent_can_still_be_unlinked(client, admin, student, parent):
    """The student role taken away later: the page still opens, so the old link can go."""
    from accounts.models import Guardianship, UserRole

    assert Guardianship.objects.filter(student=student, parent=parent).exists()  # the fixture's
    UserRole.objects.filter(user=student, role="student").delete()
    client.force_login(admin)
    url = reverse("person_parents", kwargs={"pk": student.pk})
    assert client.get(url).status_code == 200
    response = client.post(url, {"unlink": parent.pk})
    assert (response.status_code, response["Location"]) == (302, f"/people/{student.pk}/")
    assert not Guardianship.objects.filter(student=student).exists()
