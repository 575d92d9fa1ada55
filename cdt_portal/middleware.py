from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

from .errors import Gone

# Strict from day one: templates carry no inline scripts or styles, so nothing here
# needs 'unsafe-inline'.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
ADMIN_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Every answer, the Django admin's included. The admin's own scripts (jQuery, the date
        # and time pickers) insert inline styles, so its pages alone allow inline *styles*;
        # inline scripts stay refused there too (tests/e2e/test_admin_csp.py walks its pages
        # in a browser and sees no violation).
        response = self.get_response(request)
        policy = ADMIN_POLICY if request.path.startswith("/admin/") else CONTENT_SECURITY_POLICY
        response.setdefault("Content-Security-Policy", policy)
        return response


class PrivateCacheMiddleware:
    """`Cache-Control: private, no-store` on every answer to a signed-in person and on every
    download (anything with a Content-Disposition: PDFs, the scan, CSV, .eml), so a shared
    school computer's browser, or a proxy in between, keeps no copy of private pages.
    Static files (answered by WhiteNoise before the session is read) and public pages for
    anonymous visitors stay cacheable.

    Sits outside the authentication middleware: by the time the answer comes back, it has
    set `request.user`, and a static file never gets that far.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or response.has_header("Content-Disposition"):
            patch_cache_control(response, private=True, no_store=True)
        return response


class GoneMiddleware:
    """A service that finds its row gone raises `errors.Gone`: the person gets the 404 page
    with the service's message, not a 500 (ten simultaneous «убрать» once gave one)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, Gone):
            return render(request, "404.html", {"message": exception.message}, status=404)
        return None
