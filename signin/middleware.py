"""The second factor, enforced on every page; and the lockout page for throttled forms."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from cdt_portal.throttle import Throttled

from .lockout import lockout_response
from .receivers import HAS_DEVICE
from .selectors import has_second_factor, needs_second_factor_role


def second_factor_due(request: HttpRequest) -> str | None:
    """ "verify" when the signed-in person must type a code before anything else, "enrol" when
    they must first connect an app, None when nothing is owed. Owed by a director or an
    administrator who has connected an app (whatever the setting) and, where
    REQUIRE_2FA_FOR_MANAGERS is on, by every one of them."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_verified():
        return None
    if not needs_second_factor_role(user):
        return None
    has_device = request.session.get(HAS_DEVICE)
    if has_device is None:
        # A session from before this check existed: asked once, then remembered.
        has_device = request.session[HAS_DEVICE] = has_second_factor(user)
    if has_device:
        return "verify"
    if settings.REQUIRE_2FA_FOR_MANAGERS:
        return "enrol"
    return None


class SecondFactorMiddleware:
    """After the password, a manager who owes a second factor sees only the code page (or the
    enrolment page) and can sign out; every other address sends them there and back after."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        due = second_factor_due(request)
        if due is not None:
            target = reverse("two_factor_verify" if due == "verify" else "two_factor_setup")
            allowed = {target, reverse("logout")}
            if request.path not in allowed and not request.path.startswith(
                (settings.STATIC_URL, "/healthz")
            ):
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{target}?{query}")
        return self.get_response(request)


class ThrottleMiddleware:
    """Answers cdt_portal.throttle.Throttled, raised by any view, with the lockout page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, Throttled):
            return lockout_response(request, None, exception.credentials)
        return None
