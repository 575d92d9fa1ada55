import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_signs_in_by_username_case_insensitively(client, teacher):
    response = login(client, "TEACHER")
    assert response.status_code == 302
    assert client.get(reverse("home"))["Location"] == reverse("teacher_home")


def test_it_signs_in_by_email(client, teacher):
    teacher.email = "s.ivanova@example.ru"
    teacher.save()
    response = login(client, "S.Ivanova@Example.ru")
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == teacher.pk


@pytest.mark.parametrize("username", ["teacher", "nobody-here"])
def test_wrong_password_gives_the_same_russian_message_for_known_and_unknown_people(
    client, teacher, username
):
    response = login(client, username, "wrong-password")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Неверное имя пользователя (e-mail) или пароль" in text
    assert "_auth_user_id" not in client.session


def test_a_deactivated_person_cannot_sign_in(client, teacher):
    teacher.is_active = False
    teacher.save()
    response = login(client, "teacher")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_login_keeps_the_page_asked_for(client, admin):
    response = client.post(
        reverse("login") + "?next=/people/",
        {"username": "admin", "password": PASSWORD, "next": "/people/"},
    )
    assert response["Location"] == "/people/"


def test_logout_is_a_post_and_ends_the_session(client, teacher):
    client.force_login(teacher)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_sends_a_russian_email_with_a_working_link(client, teacher):
    teacher.email = "teacher@example.ru"
    teacher.save()
    response = client.post(reverse("password_reset"), {"email": "Teacher@example.ru"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["teacher@example.ru"]
    assert "Восстановление пароля" in message.subject
    assert "Ваше имя пользователя: teacher" in message.body
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", message.body).group(1)

    page = client.get(link, follow=True)
    assert "Выберите новый пароль" in page.content.decode()
    new_password = "Sferum-2026-novyi"
    done = client.post(
        page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )
    assert done.status_code == 302
    teacher.refresh_from_db()
    assert teacher.check_password(new_password)


def test_password_reset_for_an_unknown_email_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.ru"}, follow=True)
    assert "Проверьте почту" in response.content.decode()
    assert mail.outbox == []


def test_password_change_applies_django_validators_in_russian(client, teacher):
    client.force_login(teacher)
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Введённый пароль слишком широко распространён" in text
    teacher.refresh_from_db()
    assert teacher.check_password(PASSWORD)


def test_password_change_with_a_good_password(client, teacher):
    client.force_login(teacher)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Sferum-2026-novyi",
            "new_password2": "Sferum-2026-novyi",
        },
    )
    assert response["Location"] == reverse("password_change_done")
    teacher.refresh_from_db()
    assert teacher.check_password("Sferum-2026-novyi")
