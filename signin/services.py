"""Every write of signing in: second-factor devices, recovery codes, lockouts and unlocks.

Codes are checked with django-otp's own TOTP implementation (`django_otp.oath.TOTP`) against
the stored device, inside a transaction that locks the device row, so one code is accepted
once even when two requests race. A wrong code writes nothing: the portal's throttle
(cdt_portal.throttle) counts it, not django-otp's per-device back-off, which would both write
on every refusal and let anyone who knows the password lock the owner out of their device.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from cdt_portal import throttle
from cdt_portal.audit import log_action
from cdt_portal.errors import PortalError

from .selectors import otp_key

RECOVERY_CODES = 10
WRONG_CODE = (
    "Код не подошёл. Введите шесть цифр, которые приложение показывает сейчас "
    "(проверьте, что время на телефоне точное), или один из кодов восстановления."
)
WRONG_FIRST_CODE = (
    "Код не подошёл. Проверьте, что в приложении добавлен этот ключ и время на телефоне "
    "точное, и введите шесть цифр, которые приложение показывает сейчас."
)


def _totp_step(device: TOTPDevice, code: str) -> int | None:
    """The time step `code` belongs to, if it is the device's current code (within its
    tolerance) and newer than the last code accepted; otherwise None."""
    # ASCII digits only: «²²²²²²» passes str.isdigit() and then breaks int().
    if not (code.isascii() and code.isdigit() and len(code) == device.digits):
        return None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.verify(int(code), device.tolerance, device.last_t + 1):
        return totp.t()
    return None


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _new_recovery_codes(device: StaticDevice) -> list[str]:
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def second_factor_enrol(*, person: User, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Connects the authenticator app whose secret is `key`, once the person typed its first
    code; returns the device and ten one-time recovery codes, shown once."""
    device = TOTPDevice(user=person, key=key, name="Приложение-аутентификатор", confirmed=True)
    try:
        device.full_clean(exclude=["user"])
    except Exception as exc:
        raise PortalError("Ключ устарел: откройте страницу подключения заново.") from exc
    step = _totp_step(device, _normalise(code))
    if step is None:
        raise PortalError(WRONG_FIRST_CODE, field="code")
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=person.pk).first()
        if TOTPDevice.objects.filter(user=person, confirmed=True).exists():
            raise PortalError("Приложение уже подключено.")
        # Codes left over from an earlier device go with it.
        StaticDevice.objects.filter(user=person).delete()
        device.last_t = step
        device.save()
        static = StaticDevice.objects.create(
            user=person, name="Коды восстановления", confirmed=True
        )
        codes = _new_recovery_codes(static)
        log_action(
            person,
            person,
            "signin.second_factor.enabled",
            {"device": "totp", "recovery_codes": len(codes)},
        )
    return device, codes


def second_factor_verify(*, person: User, code: str) -> Device:
    """The device that accepts `code`: the app's current code, or a recovery code, which is
    used up (and the use audited). A wrong code raises PortalError and writes nothing."""
    code = _normalise(code)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=person, confirmed=True).first()
        if device is not None:
            step = _totp_step(device, code)
            if step is not None:
                TOTPDevice.objects.filter(pk=device.pk).update(
                    last_t=step, last_used_at=timezone.now()
                )
                return device
        token = (
            StaticToken.objects.select_for_update(of=("self",))
            .select_related("device")
            .filter(device__user=person, device__confirmed=True, token=code)
            .first()
            if code
            else None
        )
        if token is not None:
            static = token.device
            token.delete()
            left = StaticToken.objects.filter(device=static).count()
            log_action(person, person, "signin.recovery_code.used", {"codes_left": left})
            return static
    raise PortalError(WRONG_CODE, field="code")


def recovery_codes_renew(*, person: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    with transaction.atomic():
        if not TOTPDevice.objects.filter(user=person, confirmed=True).exists():
            raise PortalError("Сначала подключите приложение-аутентификатор.")
        static = StaticDevice.objects.select_for_update().filter(user=person).first()
        if static is None:
            static = StaticDevice.objects.create(
                user=person, name="Коды восстановления", confirmed=True
            )
        static.token_set.all().delete()
        codes = _new_recovery_codes(static)
        log_action(person, person, "signin.recovery_codes.renewed", {"recovery_codes": len(codes)})
    return codes


def second_factor_remove(*, person: User, password: str) -> None:
    """Disconnects the app and its recovery codes, after the password is entered again."""
    if not person.check_password(password):
        raise PortalError("Неверный пароль. Приложение не отключено.", field="password")
    with transaction.atomic():
        if not TOTPDevice.objects.filter(user=person).exists():
            raise PortalError("Приложение не подключено.")
        TOTPDevice.objects.filter(user=person).delete()
        StaticDevice.objects.filter(user=person).delete()
        log_action(person, person, "signin.second_factor.disabled", {"device": "totp"})


def lockout_record(
    *, key: str, person: User | None, until: dt.datetime | None, failures: int
) -> None:
    """A client used up its attempts for `key` (the address comes with the request)."""
    with transaction.atomic():
        log_action(
            None,
            person,
            "signin.locked_out",
            {
                "key": key,
                "failures": failures,
                "until": until.isoformat() if until else None,
            },
        )


def password_reset_recorded(*, person: User) -> None:
    """A password chosen by the e-mailed reset link: recorded, and every failure counted
    against the person forgotten (sign-in, second-factor codes, from every address). Someone
    else's guesses must not keep the person out once they have proved their mailbox; whoever
    guessed now faces a password they do not know."""
    with transaction.atomic():
        cleared = sum(throttle.reset(key) for key in (person.username, otp_key(person)))
        log_action(person, person, "signin.password_reset", {"attempts_cleared": cleared})


def password_change_recorded(*, person: User) -> None:
    """The person changed their password (the old one typed again)."""
    with transaction.atomic():
        log_action(person, person, "signin.password_changed", {})
