import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class OrganisationTimezoneMiddleware:
    """Show times in the person's organisation's time zone (a deployment may span Russia),
    for this request only: the thread serves the next request, or a test goes on, in the
    deployment's zone. A streamed response is written after this returns, so it takes the
    zone with it (`cdt_portal.exports.csv_response`'s callers pass their rows the zone).
    Test: tests/accounts/test_time_zone_scope.py."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        organisation = getattr(user, "organisation", None) if user else None
        zone = organisation.time_zone if organisation is not None else None
        with timezone.override(zone):
            return self.get_response(request)


# Session keys: when the person signed in, and when they were last seen (seconds since epoch).
SIGNED_IN_AT = "portal_signed_in_at"
LAST_SEEN_AT = "portal_last_seen_at"
# The last-seen time is rewritten at most this often, so reading pages does not save the
# session on every request.
LAST_SEEN_STEP = 60

IDLE_MESSAGE = "Сеанс завершён: вы долго не работали в портале. Войдите снова."
MAX_AGE_MESSAGE = "Сеанс завершён: с момента входа прошло слишком много времени. Войдите снова."


def start_session_clocks(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """On `user_logged_in`: the session's clocks start at sign-in, in the same session save,
    so the first page after signing in writes nothing more (pages keep one query count)."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SIGNED_IN_AT] = now
        request.session[LAST_SEEN_AT] = now


class SessionTimeoutMiddleware:
    """Signs a person out after SESSION_IDLE_TIMEOUT seconds without a request, and
    SESSION_ABSOLUTE_TIMEOUT seconds after signing in (a shared school computer left signed in
    must not stay open for days). The expired session is flushed and the person is sent to the
    login page with a message. The regulation page keeps a reader's session alive with
    `static/js/keepalive.js`; the absolute limit still applies.

    Goes after the authentication and messages middleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        signed_in = bool(user is not None and user.is_authenticated)
        if signed_in:
            message = self._expired(request.session, int(time.time()))
            if message:
                logout(request)
                messages.warning(request, message)
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            self._touch(request.session, int(time.time()), new_sign_in=not signed_in)
        return response

    @staticmethod
    def _expired(session, now: int) -> str:
        last_seen = session.get(LAST_SEEN_AT)
        signed_in_at = session.get(SIGNED_IN_AT)
        if signed_in_at is not None and now - signed_in_at > settings.SESSION_ABSOLUTE_TIMEOUT:
            return MAX_AGE_MESSAGE
        if last_seen is not None and now - last_seen > settings.SESSION_IDLE_TIMEOUT:
            return IDLE_MESSAGE
        return ""

    @staticmethod
    def _touch(session, now: int, *, new_sign_in: bool) -> None:
        # A session signed in during this request starts its clocks now; one that has none
        # (opened before this middleware was installed) starts them at its first request.
        if new_sign_in or SIGNED_IN_AT not in session:
            session[SIGNED_IN_AT] = now
            session[LAST_SEEN_AT] = now
        elif now - session.get(LAST_SEEN_AT, 0) >= LAST_SEEN_STEP:
            session[LAST_SEEN_AT] = now
