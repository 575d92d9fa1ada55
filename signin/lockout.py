"""django-axes hooks (named in settings): whose failures a request counts, and the page a
locked-out client sees."""

from __future__ import annotations

import zoneinfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cdt_portal import throttle

from .selectors import person_by_login, person_for_throttle_key


def client_username(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE. The sign-in form takes a username or an e-mail in any letter
    case; all of them count as the one person's failures, otherwise «Teacher», «TEACHER» and
    the e-mail address would each get their own attempts. Keys from cdt_portal.throttle are
    taken as they are."""
    if credentials and credentials.get(throttle.KEY_FLAG):
        return credentials["username"]
    typed = (credentials or {}).get("username")
    if typed is None and request is not None:
        typed = request.POST.get("username")
    if not typed:
        return None
    typed = str(typed).strip()
    # Axes asks several times per request; one look-up is enough.
    known = getattr(request, "_signin_usernames", None)
    if known is None:
        known = {}
        if request is not None:
            request._signin_usernames = known
    if typed not in known:
        person = person_by_login(typed)
        # A login that names nobody counts as typed, but never under one of the throttle's
        # own keys: «otp:director» typed here must not add to the director's second-factor
        # failures. No username or e-mail address holds a colon, so it is escaped.
        name = person.username if person else typed.replace(":", "%3a")
        known[typed] = name.lower()[: throttle.MAX_KEY_LENGTH]
    return known[typed]


def when_text(until, now) -> str:
    """«14:05» when the lock ends today in until's zone, «07.12.2026 00:05» when it ends on
    another day there (a lock taken at 23:50 ends after midnight). Formatted here, in the
    chosen zone: a template would convert it to the active one."""
    same_day = until.date() == timezone.localtime(now, until.tzinfo).date()
    return f"{until:%H:%M}" if same_day else f"{until:%d.%m.%Y %H:%M}"


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials=None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE, and the answer to cdt_portal.throttle.Throttled: 429 and when to
    try again, in the person's organisation's time zone (the deployment's when unknown)."""
    cached = getattr(request, "_signin_lockout_response", None)
    if cached is not None:
        # The throttle middleware answered already; axes' own middleware asks again.
        return cached
    until = throttle.locked_until(request, credentials)
    key = client_username(request, credentials)
    person = person_for_throttle_key(key) if key else None
    organisation = getattr(person, "organisation", None) or getattr(
        getattr(request, "user", None), "organisation", None
    )
    if until is not None and organisation is not None:
        until = timezone.localtime(until, timezone=zoneinfo.ZoneInfo(organisation.time_zone))
    elif until is not None:
        until = timezone.localtime(until)
    until_text = "" if until is None else when_text(until, timezone.now())
    response = render(
        request,
        "signin/locked_out.html",
        {"until": until, "until_text": until_text},
        status=429,
    )
    if until is not None:
        response["Retry-After"] = str(max(0, int((until - timezone.now()).total_seconds())))
    request._signin_lockout_response = response
    return response
