from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

# Strict from day one: templates carry no inline scripts or styles, so nothing here
# needs 'unsafe-inline'. Django's own admin keeps a few inline styles, so it is left out.
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


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):
            response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
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
