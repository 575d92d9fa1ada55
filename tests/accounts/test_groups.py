"""Groups with their Sferum chat invite links; who sees and edits what."""

import pytest
from django.urls import reverse

from accounts.models import StudyGroup
from tests.factories import GuardianshipFactory, StudyGroupFactory, UserFactory

LINK = "https://sferum.ru/?invite=abc123"


def test_a_teacher_keeps_their_groups_link(on_vk, client, teacher, group):
    client.force_login(teacher)
    response = client.post(
        reverse("group_edit", kwargs={"pk": group.pk}), {"chat_invite_link": LINK}
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert group.chat_invite_link == LINK
    page = client.get(reverse("group_detail", kwargs={"pk": group.pk})).content.decode()
    assert LINK in page
    assert f'<a href="{reverse("group_list")}">Мои объединения</a>' in page


@pytest.mark.parametrize(
    "link",
    ["http://sferum.ru/?invite=abc", "javascript:alert(1)", "ftp://sferum.ru/x", "не ссылка"],
)
def test_a_link_that_is_not_https_is_refused(client, on_vk, teacher, group, link):
    client.force_login(teacher)
    response = client.post(
        reverse("group_edit", kwargs={"pk": group.pk}), {"chat_invite_link": link}
    )
    assert "Не сохранено" in response.content.decode()
    [message] = response.context["form"].errors["chat_invite_link"]
    assert "https://" in message or "Введите правильный URL" in message
    group.refresh_from_db()
    assert group.chat_invite_link == ""


def test_a_teacher_editing_another_teachers_group_gets_404(client, teacher, organisation):
    other = StudyGroupFactory(organisation=organisation, name="Чужой кружок")
    client.force_login(teacher)
    url = reverse("group_edit", kwargs={"pk": other.pk})
    assert client.get(url).status_code == 404
    assert client.post(url, {"chat_invite_link": LINK}).status_code == 404
    other.refresh_from_db()
    assert other.chat_invite_link == ""


def test_a_teacher_changes_only_the_link(client, teacher, group, student):
    client.force_login(teacher)
    client.post(
        reverse("group_edit", kwargs={"pk": group.pk}),
        {"chat_invite_link": LINK, "name": "Переименовано", "students": []},
    )
    group.refresh_from_db()
    assert group.name == "Юный художник"
    assert list(group.students.all()) == [student]


def test_the_admin_creates_a_group_with_teachers_and_students(
    client, admin, teacher, student, outsider
):
    client.force_login(admin)
    response = client.post(
        reverse("group_new"),
        {
            "name": "Робототехника",
            "teachers": [teacher.pk],
            "students": [student.pk],
            "chat_invite_link": "",
        },
    )
    group = StudyGroup.objects.get(name="Робототехника")
    assert response["Location"] == reverse("group_detail", kwargs={"pk": group.pk})
    assert list(group.teachers.all()) == [teacher]
    # Someone of another organisation cannot be put into the group.
    response = client.post(
        reverse("group_new"), {"name": "Чужие", "teachers": [outsider.pk], "students": []}
    )
    assert "Выберите корректный вариант" in response.content.decode()
    assert not StudyGroup.objects.filter(name="Чужие").exists()


def test_the_group_list_shows_which_groups_have_a_chat(client, admin, group):
    client.force_login(admin)
    assert "нет ссылки" in client.get(reverse("group_list")).content.decode()
    group.chat_invite_link = LINK
    group.save()
    assert "есть ссылка" in client.get(reverse("group_list")).content.decode()


def test_a_student_sees_their_groups_link_and_a_parent_sees_each_childs(
    on_vk, client, organisation, group, student, parent
):
    group.chat_invite_link = LINK
    group.save()
    second_child = UserFactory(
        organisation=organisation, last_name="Кузнецова", first_name="Ева", roles=["student"]
    )
    GuardianshipFactory(parent=parent, student=second_child)
    other_group = StudyGroupFactory(
        organisation=organisation, name="Танцы", chat_invite_link="https://sferum.ru/?invite=dance"
    )
    other_group.students.add(second_child)
    stranger_group = StudyGroupFactory(
        organisation=organisation,
        name="Чужая группа",
        chat_invite_link="https://sferum.ru/?invite=secret",
    )

    client.force_login(student)
    page = client.get(reverse("family_home")).content.decode()
    assert LINK in page and "dance" not in page

    client.force_login(parent)
    page = client.get(reverse("family_home")).content.decode()
    assert LINK in page and "https://sferum.ru/?invite=dance" in page
    assert "secret" not in page and stranger_group.name not in page
    assert "VK Мессенджер" in page
    assert "должен отличаться от номера ребёнка" in page


def test_a_teaching_director_sees_another_teachers_group_but_may_not_change_its_link(
    client, organisation, group
):
    """The director sees every group; teaching a group of her own gives her its link only,
    not a colleague's (whose families follow the link)."""
    director = UserFactory(
        organisation=organisation, username="dir-teacher", roles=["director", "teacher"]
    )
    StudyGroupFactory(organisation=organisation, name="Её кружок").teachers.add(director)
    client.force_login(director)
    page = client.get(reverse("group_detail", kwargs={"pk": group.pk}))
    assert page.status_code == 200
    assert reverse("group_edit", kwargs={"pk": group.pk}) not in page.content.decode()
    url = reverse("group_edit", kwargs={"pk": group.pk})
    assert client.get(url).status_code == 403
    assert client.post(url, {"chat_invite_link": LINK}).status_code == 403
    group.refresh_from_db()
    assert (group.chat_invite_link, group.max_invite_link) == ("", "")


def test_the_service_refuses_a_link_from_anyone_but_the_groups_teacher_or_an_administrator(
    teacher, admin, director, group, organisation
):
    from accounts.services import group_set_link
    from cdt_portal.errors import PortalError
    from cdt_portal.models import AuditEntry

    colleague = UserFactory(organisation=organisation, username="colleague", roles=["teacher"])
    for actor in (colleague, director):
        with pytest.raises(PortalError, match="меняют его педагоги и администратор"):
            group_set_link(group=group, actor=actor, chat_invite_link=LINK)
    group.refresh_from_db()
    assert group.chat_invite_link == ""
    assert not AuditEntry.objects.filter(action="group.link_changed").exists()
    for actor in (teacher, admin):
        group_set_link(group=group, actor=actor, chat_invite_link=f"{LINK}&by={actor.username}")
    group.refresh_from_db()
    assert group.chat_invite_link == f"{LINK}&by={admin.username}"
    assert AuditEntry.objects.filter(action="group.link_changed").count() == 2


def test_the_teachers_button_adds_a_link_first_and_changes_it_after(client, on_vk, teacher, group):
    client.force_login(teacher)
    edit = reverse("group_edit", kwargs={"pk": group.pk})
    page = client.get(reverse("group_detail", kwargs={"pk": group.pk})).content.decode()
    assert f'href="{edit}">Добавить ссылку</a>' in page
    client.post(edit, {"chat_invite_link": LINK})
    page = client.get(reverse("group_detail", kwargs={"pk": group.pk})).content.decode()
    assert f'href="{edit}">Изменить ссылку</a>' in page


def test_a_teachers_groups_are_called_hers_and_the_families_page_leads_back(client, teacher, group):
    client.force_login(teacher)
    listing = client.get(reverse("group_list")).content.decode()
    assert '<h1 class="mb-0">Мои объединения</h1>' in listing
    families = client.get(reverse("group_families", kwargs={"pk": group.pk}))
    assert families.status_code == 200
    text = families.content.decode()
    assert f'<a href="{reverse("group_list")}">Мои объединения</a>' in text
    assert f'<a href="{reverse("group_detail", kwargs={"pk": group.pk})}">{group.name}</a>' in text
