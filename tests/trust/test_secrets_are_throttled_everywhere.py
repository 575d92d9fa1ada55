"""Every secret a form checks is counted where guessing it would pay: a login typed as one of
the throttle's own keys («otp:director») adds nothing to that key; an invitation's mailed code
is stopped across addresses, as the second factor's codes are; the password asked again on
the profile page and on a manager's contacts counts on the sign-in's counters (a session left
open on a shared computer is not a free guessing machine). Password reset letters to one
address stop across clients too, so many clients cannot fill a mailbox."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import invitation_issue
from tests.factories import PASSWORD
from tests.signin.helpers import code_for, enrol
from tests.trust.test_no_takeover_through_an_invitation import (  # noqa: F401 (a fixture)
    link_of,
    newcomers,
)

VERIFY = "/accounts/two-factor/"
NEW_PASSWORD = {"new_password1": "Ёлка-2026-зима", "new_password2": "Ёлка-2026-зима"}


def test_a_login_typed_as_a_throttle_key_does_not_lock_the_persons_second_factor(director):
    device, _ = enrol(director)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        anonymous = Client(REMOTE_ADDR=address)
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = anonymous.post(
                "/accounts/login/", {"username": "otp:director", "password": "x"}
            )
            assert response.status_code == 200
    own = Client(REMOTE_ADDR="198.51.100.9")
    signed = own.post("/accounts/login/", {"username": "director", "password": PASSWORD})
    assert (signed.status_code, signed["Location"]) == (302, "/")
    verified = own.post(VERIFY, {"code": code_for(device.key, ahead=1)})
    assert verified.status_code == 302


def test_an_invitations_code_guessed_from_many_addresses_is_stopped(
    superuser,
    newcomers,  # noqa: F811 (the fixture imported above)
):
    director = newcomers["director"]
    invitation = invitation_issue(
        user=director, actor=superuser, base_url="http://testserver/"
    ).invitation
    url = link_of(invitation)
    Client(REMOTE_ADDR="10.0.0.1").post(url, {"send_code": "1"})
    [letter] = mail.outbox
    code = re.search(r": (\d{6})\n", letter.body).group(1)
    wrong = "000000" if code != "000000" else "111111"
    limit = settings.OTP_USER_FAILURE_LIMIT
    statuses = []
    for n in range(4):  # four addresses, each under its own limit
        guesser = Client(REMOTE_ADDR=f"192.0.2.{n + 1}")
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            statuses.append(guesser.post(url, {**NEW_PASSWORD, "code": wrong}).status_code)
    assert statuses == [400] * limit + [429] * (16 - limit)
    # Even the right code waits now, from an address never seen before.
    late = Client(REMOTE_ADDR="192.0.2.200").post(url, {**NEW_PASSWORD, "code": code})
    assert late.status_code == 429
    assert not User.objects.get(pk=director.pk).has_usable_password()


def test_the_profiles_password_is_counted_on_the_sign_in_counters(client, director):
    director.email = "director@cdt.example"
    director.save(update_fields=["email"])
    client.force_login(director)
    data = {"email": "evil@example.ru", "phone": ""}
    statuses = [
        client.post(reverse("profile"), {**data, "password": f"guess-{n}"}).status_code
        for n in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert statuses == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429, 429]
    assert client.post(reverse("profile"), {**data, "password": PASSWORD}).status_code == 429
    director.refresh_from_db()
    assert director.email == "director@cdt.example"


def test_the_password_for_a_managers_contacts_is_counted_too(client, director, admin):
    client.force_login(director)
    data = {
        "last_name": admin.last_name, "first_name": admin.first_name,
        "patronymic": admin.patronymic, "position": "", "email": "evil@example.ru",
        "phone": "", "roles": sorted(admin.roles),
    }  # fmt: skip
    url = reverse("person_edit", kwargs={"pk": admin.pk})
    statuses = [
        client.post(url, {**data, "password": f"guess-{n}"}).status_code
        for n in range(settings.AXES_FAILURE_LIMIT + 1)
    ]
    assert statuses == [400] * (settings.AXES_FAILURE_LIMIT - 1) + [429, 429]
    assert client.post(url, {**data, "password": PASSWORD}).status_code == 429
    admin.refresh_from_db()
    assert admin.email != "evil@example.ru"


def test_reset_letters_to_one_address_stop_across_clients(teacher):
    teacher.email = "ivanova@cdt.example"
    teacher.save(update_fields=["email"])
    limit = settings.OTP_USER_FAILURE_LIMIT
    statuses = []
    for n in range(4):  # four clients, each under its own limit
        asker = Client(REMOTE_ADDR=f"192.0.2.{n + 1}")
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = asker.post("/accounts/password/reset/", {"email": "ivanova@cdt.example"})
            statuses.append(response.status_code)
    assert statuses == [302] * limit + [429] * (16 - limit)
    assert len(mail.outbox) == limit
