"""Finding 2: no sign-in throttle. After LOGIN_FAILURE_LIMIT failures that username from that
client waits, with a Russian message saying until when; other usernames and other addresses
are not affected; the administrator can unlock; the password reset form, the invitation page
and the confirm-with-password form are throttled the same way."""

import datetime
import zoneinfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Invitation
from cdt_portal.models import AuditEntry
from signin.lockout import when_text
from tests.factories import PASSWORD

LIMIT = settings.AXES_FAILURE_LIMIT


def sign_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_fifty_wrong_passwords_then_the_right_one_does_not_sign_in(client, teacher):
    """The reproduction of finding 2."""
    for _ in range(50):
        sign_in(client, "teacher", "wrong-password")
    response = sign_in(client, "teacher", PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)
    text = response.content.decode()
    assert "Слишком много неудачных попыток. Попробуйте снова после" in text
    until = response.context["until"]
    assert f"после {when_text(until, timezone.now())}." in text


def test_the_lockout_comes_after_exactly_the_configured_failures(client, teacher):
    for attempt in range(1, LIMIT):
        response = sign_in(client, "teacher", "wrong-password")
        assert response.status_code == 200, attempt
    assert sign_in(client, "teacher", PASSWORD).status_code == 302
    assert signed_in(client)

    client.post(reverse("logout"))
    # Success cleared the count: LIMIT - 1 more failures still leave the door open...
    for _ in range(LIMIT - 1):
        sign_in(client, "teacher", "wrong-password")
    # ...and the LIMIT-th failure shuts it.
    assert sign_in(client, "teacher", "wrong-password").status_code == 429
    assert sign_in(client, "teacher", PASSWORD).status_code == 429
    assert not signed_in(client)


@pytest.mark.parametrize("limit", [2, 3])
def test_the_limit_follows_the_setting(client, teacher, settings, limit):
    settings.AXES_FAILURE_LIMIT = limit
    for _ in range(limit - 1):
        assert sign_in(client, "teacher", "wrong").status_code == 200
    assert sign_in(client, "teacher", "wrong").status_code == 429


def test_case_and_e_mail_count_as_the_same_person(client, teacher):
    teacher.email = "s.ivanova@example.ru"
    teacher.save()
    for login in ["teacher", "TEACHER", "Teacher", "S.Ivanova@Example.ru", "teacher "][:LIMIT]:
        sign_in(client, login, "wrong")
    assert sign_in(client, "s.ivanova@example.ru", PASSWORD).status_code == 429


def test_the_same_client_can_still_sign_in_as_somebody_else(client, teacher, admin):
    for _ in range(LIMIT):
        sign_in(client, "teacher", "wrong")
    assert sign_in(client, "admin", PASSWORD).status_code == 302
    assert int(client.session["_auth_user_id"]) == admin.pk


def test_another_address_is_not_locked_out(teacher):
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(LIMIT + 3):
        sign_in(attacker, "teacher", "wrong")
    assert sign_in(attacker, "teacher", PASSWORD).status_code == 429

    colleague = Client(REMOTE_ADDR="198.51.100.20")
    assert sign_in(colleague, "teacher", PASSWORD).status_code == 302
    assert signed_in(colleague)


def test_the_lockout_is_audited_once_with_the_organisation(client, teacher):
    for _ in range(LIMIT + 3):
        sign_in(client, "teacher", "wrong")
    entries = AuditEntry.objects.filter(action="signin.locked_out")
    assert entries.count() == 1
    entry = entries.get()
    assert entry.organisation_id == teacher.organisation_id
    assert entry.object_id == str(teacher.pk)
    assert entry.data["key"] == "teacher"
    assert entry.data["failures"] == LIMIT
    assert entry.ip_address == "127.0.0.1"


def test_an_unknown_username_is_throttled_too_without_organisation(client, db):
    for _ in range(LIMIT):
        sign_in(client, "nobody", "wrong")
    assert sign_in(client, "nobody", "wrong").status_code == 429
    entry = AuditEntry.objects.get(action="signin.locked_out")
    assert entry.organisation_id is None


def test_the_time_is_given_in_the_organisations_time_zone(client, teacher, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    teacher.organisation.time_zone = "Asia/Vladivostok"
    teacher.organisation.save()
    for _ in range(LIMIT):
        response = sign_in(client, "teacher", "wrong")
    until = response.context["until"]
    assert str(until.tzinfo) == "Asia/Vladivostok"
    expected = timezone.localtime(timezone.now(), until.tzinfo) + timezone.timedelta(
        minutes=settings.AXES_COOLOFF_TIME * 60
    )
    assert abs((until - expected).total_seconds()) < 60
    assert f"после {when_text(until, timezone.now())}." in response.content.decode()


def test_a_lock_that_ends_after_midnight_names_the_day():
    """The page says the date when the lock ends on another day in the organisation's zone."""
    zone = zoneinfo.ZoneInfo("Asia/Vladivostok")
    now = datetime.datetime(2026, 12, 6, 13, 50, tzinfo=datetime.UTC)  # 23:50 in Vladivostok
    assert when_text(now.astimezone(zone) + datetime.timedelta(minutes=9), now) == "23:59"
    assert (
        when_text(now.astimezone(zone) + datetime.timedelta(minutes=15), now) == "07.12.2026 00:05"
    )


def locked_out(username: str) -> Client:
    """A client that guessed the person's password wrong until locked out."""
    guesser = Client()
    for _ in range(LIMIT):
        sign_in(guesser, username, "wrong")
    assert sign_in(guesser, username, PASSWORD).status_code == 429
    return guesser


def test_an_administrator_unlocks_a_person(client, teacher, admin):
    victim = locked_out("teacher")

    client.force_login(admin)
    page = client.get(f"/people/{teacher.pk}/").content.decode()
    assert f"Неудачных попыток входа: {LIMIT}." in page
    assert f'action="/people/{teacher.pk}/unlock/"' in page
    response = client.post(reverse("login_unlock", args=[teacher.pk]), follow=True)
    assert response.redirect_chain[-1][0] == f"/people/{teacher.pk}/"
    assert "разблокирован" in response.content.decode()
    entry = AuditEntry.objects.get(action="person.login_unlocked")
    assert (entry.actor_id, entry.object_id) == (admin.pk, str(teacher.pk))

    assert sign_in(victim, "teacher", PASSWORD).status_code == 302
    assert "Неудачных попыток входа" not in client.get(f"/people/{teacher.pk}/").content.decode()


def test_unlocking_somebody_of_another_organisation_is_404(client, teacher, outsider):
    client.force_login(outsider)
    assert client.post(reverse("login_unlock", args=[teacher.pk])).status_code == 404


def test_a_teacher_cannot_unlock(client, teacher, admin):
    client.force_login(teacher)
    assert client.post(reverse("login_unlock", args=[admin.pk])).status_code == 403


# The other forms ------------------------------------------------------------------------------


def test_the_password_reset_form_is_throttled_per_address_and_client(client, teacher):
    teacher.email = "teacher@example.ru"
    teacher.save()
    for _ in range(LIMIT):
        response = client.post(reverse("password_reset"), {"email": "teacher@example.ru"})
        assert response.status_code == 302
    assert len(mail.outbox) == LIMIT
    response = client.post(reverse("password_reset"), {"email": "teacher@example.ru"})
    assert response.status_code == 429
    assert "Слишком много неудачных попыток" in response.content.decode()
    assert len(mail.outbox) == LIMIT
    # Another client, or another address from this client, is not affected.
    assert (
        Client(REMOTE_ADDR="198.51.100.20")
        .post(reverse("password_reset"), {"email": "teacher@example.ru"})
        .status_code
        == 302
    )
    assert client.post(reverse("password_reset"), {"email": "x@example.ru"}).status_code == 302


def test_the_invitation_page_is_throttled(client, teacher, admin):
    from accounts.invitations import make_token
    from accounts.services import invitation_issue

    teacher.set_unusable_password()
    teacher.save()
    issued = invitation_issue(user=teacher, actor=admin, base_url="http://testserver/")
    invitation = Invitation.objects.get(user=teacher)
    url = reverse("invitation_accept", args=[invitation.pk, "0" * 40])
    new = {"new_password1": "Sferum-2026-novyi", "new_password2": "Sferum-2026-novyi"}
    for _ in range(50):
        client.post(url, new)
    good = reverse("invitation_accept", args=[invitation.pk, make_token(invitation)])
    response = client.post(good, new)
    assert response.status_code == 429
    assert not signed_in(client)
    teacher.refresh_from_db()
    assert not teacher.has_usable_password()
    assert issued is not None


def test_the_confirm_form_is_throttled(client, teacher, regulation):
    client.force_login(teacher)
    url = reverse("version_confirm", args=[regulation.pk])
    for _ in range(LIMIT - 1):
        # Refused with the form's message and a 400, until the throttle answers 429.
        assert client.post(url, {"read": "on", "password": "wrong"}).status_code == 400
    assert client.post(url, {"read": "on", "password": "wrong"}).status_code == 429
    assert client.post(url, {"read": "on", "password": PASSWORD}).status_code == 429
    assert not regulation.acknowledgements.filter(person=teacher).exists()
    assert AuditEntry.objects.filter(action="signin.locked_out").count() == 1


def test_only_whoever_stands_above_the_person_unlocks_them(client, admin, director):
    """An administrator who could clear the director's lock could go on guessing her password
    between two batches of guesses: the administrator is refused (and the refusal recorded),
    the page offers her no button, and the director's lock holds."""
    guesser = locked_out("director")

    client.force_login(admin)
    page = client.get(f"/people/{director.pk}/").content.decode()
    assert f"Неудачных попыток входа: {LIMIT}." in page
    assert f'action="/people/{director.pk}/unlock/"' not in page
    assert "data-unlock-not-yours" in page
    response = client.post(reverse("login_unlock", args=[director.pk]), follow=True)
    assert response.redirect_chain == [(f"/people/{director.pk}/", 302)]
    assert "Снять блокировку входа руководителя или администратора" in (response.content.decode())
    assert not AuditEntry.objects.filter(action="person.login_unlocked").exists()
    refusal = AuditEntry.objects.get(action="person.login_unlock.refused")
    assert (refusal.actor_id, refusal.object_id) == (admin.pk, str(director.pk))
    assert sign_in(guesser, "director", PASSWORD).status_code == 429


def test_the_director_unlocks_an_administrator(client, admin, director):
    guesser = locked_out("admin")
    client.force_login(director)
    assert (
        f'action="/people/{admin.pk}/unlock/"'
        in client.get(f"/people/{admin.pk}/").content.decode()
    )
    response = client.post(reverse("login_unlock", args=[admin.pk]))
    assert (response.status_code, response["Location"]) == (302, f"/people/{admin.pk}/")
    entry = AuditEntry.objects.get(action="person.login_unlocked")
    assert (entry.actor_id, entry.object_id) == (director.pk, str(admin.pk))
    assert sign_in(guesser, "admin", PASSWORD).status_code == 302
