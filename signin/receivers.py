"""Signal receivers: the two moments other code announces and the sign-in layer must see.

- django-axes sends `user_locked_out` at the very failure that uses up a client's attempts
  (for the sign-in form and for every form throttled through cdt_portal.throttle); that is
  when the lockout is recorded in the audit log, once.
- Django sends `user_logged_in` for every way of signing in (the form, an accepted
  invitation, the Django admin); that is when the session learns whether this person owes a
  second factor, so pages need not ask the database on every request.
"""

from __future__ import annotations

from axes.helpers import get_failure_limit
from django.http import HttpRequest

from cdt_portal import throttle

from . import selectors, services

# Session key: whether the signed-in manager has a confirmed authenticator device.
HAS_DEVICE = "signin_has_device"


def on_locked_out(sender, request: HttpRequest | None = None, username=None, **kwargs) -> None:
    if request is None or not username:
        return
    failures = getattr(request, "axes_failures_since_start", None)
    credentials = getattr(request, "axes_credentials", None)
    # Axes also sends this signal for each refused try while the lockout lasts (then it has
    # counted nothing: no failure count); only the moment the limit is reached is recorded.
    if failures is None or failures != get_failure_limit(request, credentials):
        return
    services.lockout_record(
        key=username,
        person=selectors.person_for_throttle_key(username),
        until=throttle.locked_until(request, credentials),
        failures=failures,
    )


def on_logged_in(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    if request is None or user is None or not hasattr(request, "session"):
        return
    if selectors.needs_second_factor_role(user):
        request.session[HAS_DEVICE] = selectors.has_second_factor(user)
    else:
        request.session.pop(HAS_DEVICE, None)
