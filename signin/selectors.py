"""What the sign-in pages read."""

from __future__ import annotations

from base64 import b32encode
from binascii import unhexlify

import segno
from django.conf import settings
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from accounts.models import Invitation, Role, User
from cdt_portal.inputs import parse_id

# The roles that sign in with a second factor (where the setting asks, or once enrolled): the
# institution's managers and the department's specialists; the superuser too (below).
SECOND_FACTOR_ROLES = (Role.DIRECTOR, Role.ADMIN, Role.DEPARTMENT)


def person_for_throttle_key(key: str) -> User | None:
    """The person a throttle key is about, when there is one: a username or e-mail typed into
    the sign-in form (found the way the sign-in backend finds it), `otp:<username>`,
    `reset:<e-mail>`, or `invite:`, `invite-code:` (codes sent) and `invite-guess:` (wrong
    codes) with an invitation id."""
    kind, _, value = key.partition(":") if ":" in key else ("", "", key)
    if kind in ("invite", "invite-code", "invite-guess"):
        invitation = (
            Invitation.objects.select_related("user__organisation")
            .filter(pk=parse_id(value) or 0)
            .first()
        )
        return invitation.user if invitation else None
    if kind == "reset":
        return (
            User.objects.select_related("organisation").by_email(value).first() if value else None
        )
    return person_by_login(value)


def person_by_login(login: str) -> User | None:
    """The person a sign-in form's username-or-e-mail means, as the sign-in backend finds it."""
    if not login:
        return None
    return User.objects.select_related("organisation").by_login(login).first()


def otp_key(person: User) -> str:
    """The throttle key of second-factor codes: its own, so that signing in again with the
    password (which clears the password's failures) does not give more guesses at the code."""
    return f"otp:{person.username}"


def needs_second_factor_role(person: User) -> bool:
    """Whoever can see or change much: the director, the administrators, a department's
    specialist (every institution's numbers) and the superuser (every organisation's data in
    the Django admin)."""
    return person.is_authenticated and (
        person.is_superuser or person.has_role(*SECOND_FACTOR_ROLES)
    )


def totp_device(person: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=person, confirmed=True).first()


def has_second_factor(person: User) -> bool:
    return TOTPDevice.objects.filter(user=person, confirmed=True).exists()


def recovery_codes_left(person: User) -> int:
    return StaticToken.objects.filter(device__user=person, device__confirmed=True).count()


def new_totp_key() -> str:
    """A fresh secret (hex, as django-otp stores it), kept in the session until confirmed."""
    return default_key()


def enrolment(person: User, key: str) -> dict:
    """What the enrolment page shows for `key`: the QR code as a data URI (CSP allows data:
    images) and the secret in groups of four for typing by hand."""
    device = TOTPDevice(user=person, key=key, name="Приложение")
    secret = b32encode(unhexlify(key.encode())).decode()
    return {
        "qr": segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2),
        "secret": secret,
        "secret_grouped": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "issuer": settings.OTP_TOTP_ISSUER,
    }
