"""Throttling that counts what attackers do: besides a username from an address (django-axes),
one address across many usernames (password spraying) and one person's second-factor codes
across many addresses. A person locked out by someone else's guesses still resets the password
by e-mail, and the reset forgives the failures."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import mail
from django.test import Client

from cdt_portal.models import AuditEntry
from tests.factories import PASSWORD
from tests.signin.helpers import code_for, enrol

VERIFY = "/accounts/two-factor/"


def sign_in(client, username, password, address):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def test_one_wrong_password_for_each_of_fifty_usernames_is_stopped(client, teacher):
    limit = settings.LOGIN_ADDRESS_FAILURE_LIMIT
    statuses = [
        sign_in(client, f"user{n:02d}", "wrong-password", "203.0.113.7").status_code
        for n in range(50)
    ]
    assert statuses == [200] * limit + [429] * (50 - limit)
    # The right password from that address waits too; another address is not affected.
    assert sign_in(client, "teacher", PASSWORD, "203.0.113.7").status_code == 429
    other = Client()
    response = sign_in(other, "teacher", PASSWORD, "198.51.100.4")
    assert (response.status_code, response["Location"]) == (302, "/")


def test_second_factor_codes_from_many_addresses_are_counted_for_the_person(director):
    device, _ = enrol(director)
    wrong = "000000" if code_for(device.key) != "000000" else "111111"
    limit = settings.OTP_USER_FAILURE_LIMIT
    statuses = []
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"):
        attacker = Client(REMOTE_ADDR=address)
        sign_in(attacker, "director", PASSWORD, address)
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):  # under each address's own limit
            statuses.append(attacker.post(VERIFY, {"code": wrong}).status_code)
    assert statuses == [200] * limit + [429] * (16 - limit)
    # A fifth address, even with the right code, waits as well.
    fifth = Client(REMOTE_ADDR="192.0.2.5")
    sign_in(fifth, "director", PASSWORD, "192.0.2.5")
    assert fifth.post(VERIFY, {"code": code_for(device.key, ahead=1)}).status_code == 429


def test_the_person_locked_by_others_resets_the_password_by_email_and_is_forgiven(director):
    director.email = "director@cdt.example"
    director.save()
    device, _ = enrol(director)
    wrong = "000000" if code_for(device.key) != "000000" else "111111"
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        attacker = Client(REMOTE_ADDR=address)
        sign_in(attacker, "director", PASSWORD, address)
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            attacker.post(VERIFY, {"code": wrong})
    own = Client(REMOTE_ADDR="198.51.100.9")
    asked = own.post("/accounts/password/reset/", {"email": "director@cdt.example"})
    assert (asked.status_code, asked["Location"]) == (302, "/accounts/password/reset/done/")
    [letter] = mail.outbox
    link = re.search(r"http://testserver(/accounts/reset/\S+/)", letter.body).group(1)
    form = own.get(link, follow=True)
    new = {"new_password1": "Снег-на-крыше-2026", "new_password2": "Снег-на-крыше-2026"}
    done = own.post(form.redirect_chain[-1][0], new)
    assert (done.status_code, done["Location"]) == (302, "/accounts/reset/done/")
    entry = AuditEntry.objects.get(action="signin.password_reset")
    assert entry.actor == director and entry.data["attempts_cleared"] >= 3
    # The new password and her own code let her in.
    sign_in(own, "director", "Снег-на-крыше-2026", "198.51.100.9")
    verified = own.post(VERIFY, {"code": code_for(device.key, ahead=1), "next": "/dashboard/"})
    assert (verified.status_code, verified["Location"]) == (302, "/dashboard/")
