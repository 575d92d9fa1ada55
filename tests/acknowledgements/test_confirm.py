"""A staff member reads the regulation and confirms it online with their password."""

import pytest
from django.urls import reverse

from accounts.models import Role
from acknowledgements.models import AckMethod, Acknowledgement, VersionStatus
from acknowledgements.selectors import readers
from tests.acknowledgements.builders import make_version
from tests.factories import PASSWORD, UserFactory


def confirm(client, version, password=PASSWORD, read="on", **extra):
    data = {"password": password, **extra}
    if read:
        data["read"] = read
    return client.post(
        reverse("version_confirm", kwargs={"pk": version.pk}),
        data,
        HTTP_USER_AGENT="Mozilla/5.0 Тестовый браузер",
        REMOTE_ADDR="10.0.0.7",
    )


def test_the_teacher_is_asked_to_read_on_their_home_page(client, teacher, regulation):
    client.force_login(teacher)
    page = client.get(reverse("teacher_home")).content.decode()
    assert "Ознакомьтесь с Положением" in page
    assert "Приказ от 30.11.2023\u00a0г. №\u00a0201-О" in page  # kept whole on a phone


def test_the_regulation_page_shows_the_whole_text_and_the_form(client, teacher, regulation):
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert "<h2>1. Общие положения</h2>" in page
    assert "<h2>2. Регистрация на платформе</h2>" in page
    assert "С Положением ознакомлена" in page  # the teacher is Софья Николаевна
    assert 'type="password"' in page


def test_confirming_records_who_when_how_and_the_text_hash(client, teacher, regulation):
    client.force_login(teacher)
    response = confirm(client, regulation)
    assert response.status_code == 302
    ack = Acknowledgement.objects.get(version=regulation, person=teacher)
    assert ack.method == AckMethod.ONLINE
    assert ack.recorded_by == teacher
    assert ack.ip_address == "10.0.0.7"
    assert ack.user_agent == "Mozilla/5.0 Тестовый браузер"
    assert ack.text_sha256 == regulation.text_sha256 != ""

    page = client.get(reverse("regulation")).content.decode()
    local = ack.recorded_at.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Moscow"))
    assert teacher.gender_suffix in ("", "а")  # the patronymic tells the form
    assert f"Ознакомлен{teacher.gender_suffix} {local:%d.%m.%Y} в {local:%H:%M}" in page
    assert f"редакция {regulation.number}" in page
    assert 'type="password"' not in page


def test_it_requires_password(client, teacher, regulation):
    client.force_login(teacher)
    response = confirm(client, regulation, password="не-тот-пароль")
    # The form comes back with its message and a 400: nothing was recorded.
    assert response.status_code == 400
    assert "Неверный пароль. Ознакомление не записано." in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_it_requires_the_tick(client, teacher, regulation):
    client.force_login(teacher)
    response = confirm(client, regulation, read="")
    assert response.status_code == 400
    assert "Отметьте, что вы ознакомились с Положением." in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_confirming_twice_changes_nothing(client, teacher, regulation):
    client.force_login(teacher)
    confirm(client, regulation)
    first = Acknowledgement.objects.get()
    confirm(client, regulation)
    assert Acknowledgement.objects.get() == first
    assert Acknowledgement.objects.get().recorded_at == first.recorded_at


def test_confirming_a_draft_is_refused(client, teacher, draft_version):
    client.force_login(teacher)
    assert confirm(client, draft_version).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_confirming_a_superseded_version_is_refused(client, teacher, director, regulation):
    newer = make_version(regulation.document.organisation, director, approve=True)
    regulation.refresh_from_db()
    assert regulation.status == VersionStatus.SUPERSEDED
    client.force_login(teacher)
    assert confirm(client, regulation).status_code == 403
    assert not Acknowledgement.objects.exists()
    assert confirm(client, newer).status_code == 302
    assert Acknowledgement.objects.get().version == newer


def test_a_version_of_another_organisation_is_404(client, outsider, regulation):
    client.force_login(outsider)
    assert confirm(client, regulation).status_code == 404
    assert not Acknowledgement.objects.exists()


def test_nobody_confirms_for_someone_else(client, teacher, admin, regulation):
    client.force_login(teacher)
    confirm(client, regulation, person=admin.pk, person_id=admin.pk)
    assert list(Acknowledgement.objects.values_list("person", flat=True)) == [teacher.pk]


@pytest.mark.parametrize("role", ["student", "parent"])
def test_students_and_parents_see_none_of_it(client, regulation, role, request):
    person = request.getfixturevalue(role)
    client.force_login(person)
    assert client.get(reverse("regulation")).status_code == 403
    assert confirm(client, regulation).status_code == 403
    assert not Acknowledgement.objects.exists()


def test_a_new_approved_version_asks_everyone_again(client, teacher, director, regulation):
    client.force_login(teacher)
    confirm(client, regulation)
    assert "Ознакомьтесь с Положением" not in client.get(reverse("teacher_home")).content.decode()
    make_version(regulation.document.organisation, director, approve=True, number_text="15-О")
    page = client.get(reverse("teacher_home")).content.decode()
    assert "Ознакомьтесь с Положением" in page
    assert "№\u00a015-О" in page


def test_the_director_reads_but_is_not_on_the_sheet(client, director, regulation):
    client.force_login(director)
    page = client.get(reverse("regulation")).content.decode()
    assert "Вас нет в листе ознакомления" in page
    response = confirm(client, regulation)
    assert "Вас нет в списке сотрудников" in response.content.decode()
    assert not Acknowledgement.objects.exists()


def test_a_deactivated_teacher_is_no_longer_asked(organisation, regulation):
    gone = UserFactory(organisation=organisation, roles=["teacher"], is_active=False)
    assert gone not in readers(regulation.document)


def test_the_tick_speaks_in_the_readers_gender(client, organisation, regulation):
    """«С Положением ознакомлен» for Пётр Ильич, «ознакомлена» for Софья Николаевна, and
    «(а)» only where the patronymic does not tell."""
    for patronymic, label in (
        ("Ильич", "С Положением ознакомлен<"),
        ("Николаевна", "С Положением ознакомлена<"),
        ("", "С Положением ознакомлен(а)<"),
    ):
        reader = UserFactory(organisation=organisation, patronymic=patronymic, roles=[Role.TEACHER])
        client.force_login(reader)
        page = client.get("/regulation/").content.decode()
        assert label in page, patronymic
