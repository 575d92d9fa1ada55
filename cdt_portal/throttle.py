"""Throttling every form that checks a secret, on the same counters as signing in.

django-axes counts failed sign-ins per (username, client address). The other forms that check
something secret (the password again on the confirm form, a second-factor code, an invitation
link) or that send mail to an address (password reset) count their failures on the same
table under a key of their own (`"otp:teacher"`, `"invite:12"`, `"reset:a@b.ru"`; a plain
username for the forms that check the sign-in password, so guessing it on any form counts
once). After AXES_FAILURE_LIMIT failures that key from that address waits AXES_COOLOFF_TIME;
other addresses and other keys are not affected, so nobody can lock everyone out.

    throttle.check(request, key)      # before checking anything: raises Throttled
    throttle.failed(request, key)     # after a wrong secret: raises Throttled on the last one
    throttle.spent(request, key)      # one use of a limited action (a reset e-mail)
    throttle.succeeded(request, key)  # the right secret: the address starts again from zero

`Throttled` is not a PortalError on purpose: a view's `except PortalError` must not turn it
into an ordinary form error. `signin.middleware.ThrottleMiddleware` answers it with the
lockout page (429, «Попробуйте снова после 14:35»), the same page django-axes shows on the
sign-in form. Counters are bookkeeping, like the session table: they are written on a
failure even though the failed request changes nothing else.
"""

from __future__ import annotations

import datetime as dt

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.utils import timezone

# Marks credentials built here, so the username callable (signin.lockout.client_username)
# takes the key as it is instead of looking a person up by it.
KEY_FLAG = "portal_throttle_key"
# AccessAttempt.username is 255 characters long.
MAX_KEY_LENGTH = 255
# A refusal counted over several counters says itself when it ends.
UNTIL = "portal_throttle_until"


class Throttled(Exception):
    """Too many failures for this key from this client address."""

    def __init__(self, credentials: dict) -> None:
        super().__init__("Слишком много неудачных попыток.")
        self.credentials = credentials


def credentials(key: str) -> dict:
    return {"username": key.strip().lower()[:MAX_KEY_LENGTH], KEY_FLAG: True}


def check(request: HttpRequest, key: str) -> None:
    """Refuses (raises Throttled) when this client has used up its attempts for `key`."""
    creds = credentials(key)
    if not AxesProxyHandler.is_allowed(request, creds):
        raise Throttled(creds)


def failed(request: HttpRequest, key: str) -> None:
    """Counts one failure; the failure that uses up the last attempt is answered with the
    lockout page at once, as the sign-in form does."""
    creds = credentials(key)
    AxesProxyHandler.user_login_failed(__name__, creds, request)
    if getattr(request, "axes_locked_out", False):
        raise Throttled(creds)


def spent(request: HttpRequest, key: str) -> None:
    """Counts one use of a limited action; this use still goes through, the next check after
    the limit refuses."""
    AxesProxyHandler.user_login_failed(__name__, credentials(key), request)
    # Axes marks the request locked out when the limit is reached, which would make its
    # middleware replace this (allowed) answer with the lockout page.
    request.axes_locked_out = False


def succeeded(request: HttpRequest, key: str) -> None:
    creds = credentials(key)
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.reset_attempts(
        username=get_client_username(request, creds), ip_address=request.axes_ip_address
    )


def reset(key: str) -> int:
    """Forgets every failure for `key`, from every address (the administrator's unlock).
    Returns how many counters were cleared."""
    return AxesProxyHandler.reset_attempts(username=credentials(key)["username"])


def failures(keys: list[str]) -> int:
    """Failures counted under any of `keys`, from every address (what an unlock would clear)."""
    names = [credentials(key)["username"] for key in keys]
    return sum(
        AccessAttempt.objects.filter(username__in=names).values_list(
            "failures_since_start", flat=True
        )
    )


# What an attacker does beyond guessing one person's password from one address: one wrong
# password for each of many usernames from one address (spraying), or second-factor codes for
# one person from many addresses. Counted over the same table, within the cool-off.


def _recent(attempts, request: HttpRequest):
    cool_off = get_cool_off(request)
    return attempts.filter(attempt_time__gte=timezone.now() - cool_off) if cool_off else attempts


def _refuse_over(attempts, request: HttpRequest, limit: int, key: str) -> None:
    totals = _recent(attempts, request).aggregate(
        failures=Sum("failures_since_start"), last=Max("attempt_time")
    )
    if (totals["failures"] or 0) >= limit:
        cool_off = get_cool_off(request)
        until = totals["last"] + cool_off if cool_off and totals["last"] else None
        raise Throttled({**credentials(key), UNTIL: until})


def check_address(request: HttpRequest, limit: int) -> None:
    """Refuses the sign-in from an address that failed `limit` times across all usernames
    (the other forms' keys, which carry a prefix, are not sign-in passwords: not counted)."""
    AxesProxyHandler.update_request(request)
    attempts = AccessAttempt.objects.filter(ip_address=request.axes_ip_address).exclude(
        username__contains=":"
    )
    _refuse_over(attempts, request, limit, f"address:{request.axes_ip_address}")


def check_everywhere(request: HttpRequest, key: str, limit: int) -> None:
    """Refuses `key` once it failed `limit` times from all addresses together (a person's
    second-factor codes guessed from many addresses)."""
    attempts = AccessAttempt.objects.filter(username=credentials(key)["username"])
    _refuse_over(attempts, request, limit, key)


def locked_until(request: HttpRequest, creds: dict | None) -> dt.datetime | None:
    """When the client may try again: the cool-off after its last counted failure (None when
    lockouts never end)."""
    if creds and UNTIL in creds:
        return creds[UNTIL]
    cool_off = get_cool_off(request)
    if cool_off is None:
        return None
    AxesProxyHandler.update_request(request)
    last = AccessAttempt.objects.filter(
        username=get_client_username(request, creds), ip_address=request.axes_ip_address
    ).aggregate(last=Max("attempt_time"))["last"]
    return (last or timezone.now()) + cool_off
