"""A second factor for every powerful sign-in: besides the director and administrators, the
superuser (the Django admin signs in through the portal's own form and second factor) and a
department's specialist, under REQUIRE_2FA_FOR_MANAGERS. And no `next` makes a 500."""

import pytest
from django.test import Client

from signin.views import PENDING_KEY
from tests.factories import PASSWORD
from tests.signin.helpers import code_for, enrol

SETUP = "/accounts/two-factor/setup/"
VERIFY = "/accounts/two-factor/"


@pytest.fixture
def required(settings):
    settings.REQUIRE_2FA_FOR_MANAGERS = True


def sign_in(client, username, next_url=""):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post("/accounts/login/", data)


def test_the_admins_sign_in_is_the_portals_own(client, superuser):
    response = client.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/login/?next=/admin/")
    response = client.get("/admin/login/?next=/admin/cdt_portal/job/")
    assert (response.status_code, response["Location"]) == (
        302,
        "/accounts/login/?next=%2Fadmin%2Fcdt_portal%2Fjob%2F",
    )
    # Only a path of this site is carried along.
    response = client.get("/admin/login/?next=https://evil.example/")
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_the_superuser_enrols_a_second_factor_before_the_admin_opens(client, superuser, required):
    response = sign_in(client, "root", "/admin/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    response = client.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, f"{SETUP}?next=%2Fadmin%2F")
    assert client.get(SETUP).status_code == 200
    key = client.session[PENDING_KEY]
    enrolled = client.post(SETUP, {"code": code_for(key), "next": "/admin/"})
    assert enrolled["Location"] == "/accounts/two-factor/codes/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 200


def test_the_superuser_with_an_app_types_its_code_even_without_the_setting(superuser):
    device, _ = enrol(superuser)
    client = Client()
    sign_in(client, "root")
    response = client.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, f"{VERIFY}?next=%2Fadmin%2F")
    verified = client.post(VERIFY, {"code": code_for(device.key, ahead=1), "next": "/admin/"})
    assert (verified.status_code, verified["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_a_department_specialist_enrols_before_the_departments_pages(
    client, department_officer, required
):
    sign_in(client, "department")
    response = client.get("/department/")
    assert (response.status_code, response["Location"]) == (302, f"{SETUP}?next=%2Fdepartment%2F")
    key = (client.get(SETUP), client.session[PENDING_KEY])[1]
    client.post(SETUP, {"code": code_for(key)})
    assert client.get("/department/").status_code == 200


def test_without_the_setting_they_go_straight_in(client, superuser, department_officer):
    sign_in(client, "root")
    assert client.get("/admin/").status_code == 200
    other = Client()
    sign_in(other, "department")
    assert other.get("/department/").status_code == 200


def test_a_teacher_and_a_parent_are_never_asked(client, teacher, parent, required):
    for username, home in (("teacher", "/teacher/"), ("parent", "/my/")):
        person = Client()
        sign_in(person, username)
        assert person.get(home).status_code == 200
        assert person.get(SETUP).status_code == 403


@pytest.mark.parametrize("target", ["abc", "-1", "//evil.example/", "https://evil.example/", ""])
def test_a_next_that_is_not_a_local_path_goes_home_not_to_a_500(client, teacher, target):
    client.force_login(teacher)
    response = client.get(VERIFY, {"next": target})
    assert (response.status_code, response["Location"]) == (302, "/")


def test_superscript_digits_are_a_wrong_code_not_a_500(client, director):
    enrol(director)
    sign_in(client, "director")
    response = client.post(VERIFY, {"code": "²²²²²²"})
    assert response.status_code == 200
    assert "Код не подошёл" in response.content.decode()
