"""Two-factor sign-in for the director and administrators (django-otp: TOTP and one-time
recovery codes)."""

import pytest
from django.test import Client
from django.urls import reverse

from cdt_portal.models import AuditEntry
from signin.views import PENDING_KEY
from tests.factories import PASSWORD

from .helpers import code_for, enrol, spent_code

SETUP = "/accounts/two-factor/setup/"
VERIFY = "/accounts/two-factor/"


def sign_in(client, username):
    return client.post(reverse("login"), {"username": username, "password": PASSWORD})


@pytest.fixture
def required(settings):
    settings.REQUIRE_2FA_FOR_MANAGERS = True


def test_with_the_setting_a_manager_without_an_app_is_sent_to_enrolment(client, director, required):
    sign_in(client, "director")
    response = client.get("/dashboard/")
    assert (response.status_code, response["Location"]) == (302, f"{SETUP}?next=%2Fdashboard%2F")
    page = client.get(SETUP)
    assert page.status_code == 200
    text = page.content.decode()
    assert 'src="data:image/svg+xml' in text
    assert "Ключ для ввода вручную" in text


def test_a_teacher_is_never_asked(client, teacher, required):
    sign_in(client, "teacher")
    assert client.get("/teacher/").status_code == 200


def test_without_the_setting_a_manager_without_an_app_goes_straight_in(client, director):
    sign_in(client, "director")
    assert client.get("/dashboard/").status_code == 200


def test_enrolment_confirms_with_a_first_code_and_shows_ten_recovery_codes(
    client, director, required
):
    sign_in(client, "director")
    client.get(SETUP)
    key = client.session[PENDING_KEY]
    wrong = client.post(SETUP, {"code": "000000" if code_for(key) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert "Код не подошёл" in wrong.content.decode()
    response = client.post(SETUP, {"code": code_for(key), "next": "/dashboard/"})
    assert response["Location"] == "/accounts/two-factor/codes/?next=%2Fdashboard%2F"
    codes_page = client.get(response["Location"])
    codes = codes_page.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # Shown once.
    assert client.get("/accounts/two-factor/codes/")["Location"] == SETUP
    # The session passed the second factor: the pages open.
    assert client.get("/dashboard/").status_code == 200
    entry = AuditEntry.objects.get(action="signin.second_factor.enabled")
    assert (entry.actor_id, entry.object_id) == (director.pk, str(director.pk))


def test_signing_in_again_asks_for_the_code_and_accepts_a_fresh_one(director, required):
    device, _ = enrol(director)
    client = Client()
    sign_in(client, "director")
    response = client.get("/dashboard/")
    assert response["Location"] == f"{VERIFY}?next=%2Fdashboard%2F"
    # The enrolment page cannot be used to replace the app without the code.
    assert client.get(SETUP)["Location"].startswith(VERIFY)
    # The code used at enrolment is spent; the next one works.
    assert client.post(VERIFY, {"code": spent_code(device)}).status_code == 200
    response = client.post(VERIFY, {"code": code_for(device.key, ahead=1), "next": "/dashboard/"})
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_an_app_connected_without_the_setting_is_asked_for_too(director):
    enrol(director)
    client = Client()
    sign_in(client, "director")
    assert client.get("/dashboard/")["Location"].startswith(VERIFY)


def test_a_recovery_code_works_once(director, required):
    _, codes = enrol(director)
    first = Client()
    sign_in(first, "director")
    assert first.post(VERIFY, {"code": codes[0].upper()})["Location"] == "/"
    entry = AuditEntry.objects.get(action="signin.recovery_code.used")
    assert entry.data == {"codes_left": 9}

    second = Client()
    sign_in(second, "director")
    response = second.post(VERIFY, {"code": codes[0]})
    assert response.status_code == 200
    assert "Код не подошёл" in response.content.decode()
    assert second.get("/dashboard/").status_code == 302


def test_wrong_codes_count_towards_the_throttle(director, settings, required):
    enrol(director)
    client = Client()
    sign_in(client, "director")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post(VERIFY, {"code": "12345678"}).status_code == 200
    assert client.post(VERIFY, {"code": "12345678"}).status_code == 429
    assert AuditEntry.objects.filter(action="signin.locked_out").get().data["key"] == "otp:director"
    # Signing in again with the password does not give more guesses at the code.
    sign_in(client, "director")
    assert client.post(VERIFY, {"code": "12345678"}).status_code == 429


def test_an_unverified_manager_can_sign_out(client, director, required):
    enrol(director)
    sign_in(client, "director")
    assert client.post(reverse("logout")).status_code == 302
    assert "_auth_user_id" not in client.session


def test_removing_the_app_asks_for_the_password(client, director):
    device, _ = enrol(director)
    sign_in(client, "director")
    client.post(VERIFY, {"code": code_for(device.key, ahead=1)})
    refused = client.post("/accounts/two-factor/remove/", {"password": "wrong"}, follow=True)
    assert "Неверный пароль" in refused.content.decode()
    assert not AuditEntry.objects.filter(action="signin.second_factor.disabled").exists()
    client.post("/accounts/two-factor/remove/", {"password": PASSWORD})
    assert AuditEntry.objects.filter(action="signin.second_factor.disabled").count() == 1
    assert client.get("/dashboard/").status_code == 200
