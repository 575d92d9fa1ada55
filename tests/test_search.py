"""Every list is searchable: the q parameter narrows it, within the person's organisation."""

from django.urls import reverse

from tests.factories import StudyGroupFactory, UserFactory


def test_groups_are_searchable(client, admin, organisation, group):
    StudyGroupFactory(organisation=organisation, name="Робототехника")
    client.force_login(admin)
    page = client.get(reverse("group_list") + "?q=робот").content.decode()
    assert "Робототехника" in page and group.name not in page


def test_teacher_statuses_are_searchable(client, admin, teacher, organisation):
    UserFactory(organisation=organisation, last_name="Ёжикова", roles=["teacher"])
    client.force_login(admin)
    page = client.get(reverse("teacher_statuses") + "?q=Ёжик").content.decode()
    assert "Ёжикова" in page and teacher.full_name not in page


def test_consents_are_searchable(client, admin, student, organisation):
    UserFactory(
        organisation=organisation, last_name="Смирнов", first_name="Олег", roles=["student"]
    )
    client.force_login(admin)
    page = client.get(reverse("consents") + "?q=смирнов").content.decode()
    assert "Смирнов Олег" in page and student.full_name not in page


def test_people_search_needs_every_word(client, admin, teacher):
    client.force_login(admin)
    assert teacher.full_name in client.get(reverse("people") + "?q=Иванова Софья").content.decode()
    assert (
        teacher.full_name not in client.get(reverse("people") + "?q=Иванова Ольга").content.decode()
    )
