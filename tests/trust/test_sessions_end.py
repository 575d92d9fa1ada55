"""Finding 3: sessions lasted 14 days with no idle timeout, and a deactivated person's old
session worked again after reactivation. Sessions now end after a while without requests, a
while after signing in, and on deactivation, password change and role removal."""

import time

from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.middleware import IDLE_MESSAGE, LAST_SEEN_AT, MAX_AGE_MESSAGE, SIGNED_IN_AT
from accounts.models import Role
from tests.factories import PASSWORD


def signed_in(person) -> Client:
    client = Client()
    client.force_login(person)
    assert client.get(reverse("profile")).status_code == 200  # starts the session's clocks
    return client


def set_clock(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[{"signed_in": SIGNED_IN_AT, "last_seen": LAST_SEEN_AT}[key]] = now - ago
    session.save()


def assert_signed_out(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session


# --- Idle timeout and absolute lifetime ---------------------------------------------------------


def test_a_session_idle_longer_than_the_setting_ends_with_a_russian_message(settings, teacher):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    client = signed_in(teacher)
    set_clock(client, last_seen=31 * 60)
    response = client.get(reverse("teacher_home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={reverse('teacher_home')}"
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert IDLE_MESSAGE in page
    assert IDLE_MESSAGE == "Сеанс завершён: вы долго не работали в портале. Войдите снова."


def test_a_session_in_use_stays_open(settings, teacher):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    client = signed_in(teacher)
    set_clock(client, last_seen=29 * 60)
    assert client.get(reverse("teacher_home")).status_code == 200
    # The request counted as activity: the clock starts again.
    assert int(time.time()) - client.session[LAST_SEEN_AT] < 5


def test_a_session_ends_after_its_absolute_lifetime_however_busy(settings, teacher):
    settings.SESSION_ABSOLUTE_TIMEOUT = 12 * 3600
    client = signed_in(teacher)
    set_clock(client, signed_in=12 * 3600 + 60, last_seen=10)
    response = client.get(reverse("teacher_home"))
    assert response.status_code == 302
    assert MAX_AGE_MESSAGE in client.get(response["Location"]).content.decode()


def test_signing_in_starts_both_clocks(client, teacher):
    response = client.post(reverse("login"), {"username": "teacher", "password": PASSWORD})
    assert response.status_code == 302
    now = int(time.time())
    assert now - client.session[SIGNED_IN_AT] < 5
    assert now - client.session[LAST_SEEN_AT] < 5


def test_the_session_cookie_lives_no_longer_than_the_absolute_lifetime(settings):
    assert settings.SESSION_COOKIE_AGE <= settings.SESSION_ABSOLUTE_TIMEOUT
    assert settings.SESSION_IDLE_TIMEOUT == 30 * 60


# --- The regulation page keeps a reader signed in ---------------------------------------------


def test_the_keepalive_ping_counts_as_activity(settings, teacher):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    client = signed_in(teacher)
    set_clock(client, last_seen=25 * 60)
    response = client.get(reverse("keepalive"))
    assert response.status_code == 204
    assert int(time.time()) - client.session[LAST_SEEN_AT] < 5
    assert client.post(reverse("keepalive")).status_code == 405


def test_the_keepalive_ping_does_not_revive_an_expired_session(settings, teacher):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    client = signed_in(teacher)
    set_clock(client, last_seen=31 * 60)
    assert_signed_out(client, reverse("keepalive"))


def test_the_regulation_page_loads_the_keepalive_script(client, teacher, regulation):
    client.force_login(teacher)
    page = client.get(reverse("regulation")).content.decode()
    assert (
        '<script src="/static/js/keepalive.js" data-url="/accounts/keepalive/" '
        'data-interval-seconds="120" defer></script>'
    ) in page
    assert finders.find("js/keepalive.js")
    assert client.get("/static/js/keepalive.js").status_code == 200


# --- Deactivation, role removal, password change ------------------------------------------------


def test_a_deactivated_persons_old_session_does_not_come_back_after_reactivation(admin, teacher):
    """The finding's exact reproduction."""
    old = signed_in(teacher)
    services.person_set_active(person=teacher, actor=admin, active=False)
    services.person_set_active(person=teacher, actor=admin, active=True)
    assert_signed_out(old, reverse("teacher_home"))
    # Signing in again works as before.
    fresh = Client()
    fresh.post(reverse("login"), {"username": "teacher", "password": PASSWORD})
    assert fresh.get(reverse("teacher_home")).status_code == 200


def test_removing_a_role_ends_the_persons_sessions(director, admin):
    session = signed_in(admin)
    services.user_set_roles(user=admin, roles={Role.TEACHER}, actor=director)
    assert_signed_out(session, reverse("teacher_home"))


def test_adding_a_role_keeps_the_persons_sessions(admin, teacher):
    session = signed_in(teacher)
    services.user_set_roles(user=teacher, roles={Role.TEACHER, Role.PARENT}, actor=admin)
    assert session.get(reverse("teacher_home")).status_code == 200


def test_the_actors_own_session_survives_the_role_change_she_makes(client, director, admin):
    client.force_login(director)
    client.post(
        reverse("person_edit", kwargs={"pk": admin.pk}),
        {
            "last_name": admin.last_name,
            "first_name": admin.first_name,
            "patronymic": admin.patronymic,
            "roles": ["teacher"],
        },
    )
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_password_change_ends_every_other_session(teacher):
    here, elsewhere = signed_in(teacher), signed_in(teacher)
    response = here.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "Novyi-parol-2025",
            "new_password2": "Novyi-parol-2025",
        },
    )
    assert response["Location"] == reverse("password_change_done")
    assert here.get(reverse("teacher_home")).status_code == 200
    assert_signed_out(elsewhere, reverse("teacher_home"))
