"""Bad input in any form: the field's message in Russian, nothing saved."""

import pytest
from django.urls import reverse

from accounts.models import Messenger, Organisation, User
from tests.factories import PASSWORD


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("12345", "Введите корректный номер телефона"),
        ("+7 727 123-45-67", "Введите российский номер мобильного телефона"),  # Kazakhstan
        ("+7 495 123-45-67", "Введите российский номер мобильного телефона"),  # a landline
        ("+44 7700 900123", "Введите российский номер мобильного телефона"),
    ],
)
def test_a_bad_mobile_phone_is_refused_with_a_russian_message(client, teacher, phone, message):
    client.force_login(teacher)
    response = client.post(reverse("profile"), {"email": "", "phone": phone})
    assert response.status_code == 400
    assert message in response.content.decode()
    teacher.refresh_from_db()
    assert teacher.phone == ""


@pytest.mark.parametrize("phone", ["8 (912) 345-67-89", "+7 912 345 67 89", "89123456789"])
def test_a_russian_mobile_is_stored_in_e164(client, teacher, phone):
    client.force_login(teacher)
    # A new phone is confirmed with the person's password (tests/trust/test_roles_*).
    response = client.post(reverse("profile"), {"email": "", "phone": phone, "password": PASSWORD})
    assert response.status_code == 302
    teacher.refresh_from_db()
    assert teacher.phone.as_e164 == "+79123456789"
    stored = User.objects.filter(pk=teacher.pk).extra(select={"raw": "phone"}).values("raw")
    assert stored[0]["raw"] == "+79123456789"


def test_a_bad_email_is_refused_and_nothing_is_saved(client, teacher):
    client.force_login(teacher)
    response = client.post(reverse("profile"), {"email": "не почта", "phone": "+79123456789"})
    assert "Введите правильный адрес электронной почты" in response.content.decode()
    teacher.refresh_from_db()
    assert (teacher.email, teacher.phone) == ("", "")


def test_an_email_taken_by_someone_else_is_refused_whatever_its_case(client, teacher, admin):
    admin.email = "shared@example.ru"
    admin.save()
    client.force_login(teacher)
    response = client.post(reverse("profile"), {"email": "SHARED@example.ru", "phone": ""})
    assert "Этот e-mail уже указан у другого пользователя" in response.content.decode()
    teacher.refresh_from_db()
    assert teacher.email == ""


def test_many_people_may_have_no_email(organisation, teacher, admin, student):
    assert User.objects.filter(email="").count() == 3


def test_organisation_settings_refuse_a_bad_phone_and_email(on_vk, client, admin, organisation):
    client.force_login(admin)
    data = {
        "full_name": "Другое название",
        "short_name": organisation.short_name,
        "head_position": "Директор",
        "head_name": "О.Б. Денисенко",
        "email": "bad@",
        "phone": "abc",
        "time_zone": "Europe/Moscow",
        "messenger": Messenger.MAX,
    }
    response = client.post(reverse("organisation_settings"), data)
    text = response.content.decode()
    assert "Введите правильный адрес электронной почты" in text
    assert "Введите корректный номер телефона" in text
    assert "изменения не сохранены" in text
    fresh = Organisation.objects.get(pk=organisation.pk)
    assert fresh.full_name == organisation.full_name
    assert fresh.messenger == Messenger.VK


def test_organisation_settings_change_the_messenger_everywhere(client, admin, organisation):
    client.force_login(admin)
    data = {
        "full_name": organisation.full_name,
        "short_name": organisation.short_name,
        "head_position": "Директор",
        "head_name": "О.Б. Денисенко",
        "email": "cdt@example.ru",
        "phone": "+7 (3452) 12-34-56",
        "time_zone": "Asia/Yekaterinburg",
        "messenger": Messenger.MAX,
    }
    response = client.post(reverse("organisation_settings"), data)
    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.messenger == Messenger.MAX
    assert organisation.phone.as_e164 == "+73452123456"
    client.logout()
    public = client.get(reverse("join", kwargs={"slug": organisation.slug})).content.decode()
    assert "Установите MAX" in public
    assert "VK Мессенджер" not in public


def test_a_time_zone_outside_the_list_is_refused(client, admin, organisation):
    client.force_login(admin)
    response = client.post(
        reverse("organisation_settings"),
        {
            "full_name": organisation.full_name,
            "short_name": organisation.short_name,
            "head_position": "Директор",
            "head_name": "О.Б. Денисенко",
            "time_zone": "Mars/Olympus",
            "messenger": Messenger.VK,
        },
    )
    assert "Выберите корректный вариант" in response.content.decode()
    organisation.refresh_from_db()
    assert organisation.time_zone == "Europe/Moscow"


def test_the_messenger_is_named_in_the_right_case(on_vk, client, organisation):
    page = client.get(reverse("join", kwargs={"slug": organisation.slug})).content.decode()
    assert "Установите VK Мессенджер." in page
    assert "доступен в VK Мессенджере" in page
    organisation.messenger = Messenger.MAX
    organisation.save()
    page = client.get(reverse("join", kwargs={"slug": organisation.slug})).content.decode()
    assert "Установите MAX." in page and "доступен в MAX" in page
