from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class OrganisationTimezoneMiddleware:
    """Show times in the person's organisation's time zone (a deployment may span Russia)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        organisation = getattr(user, "organisation", None) if user else None
        if organisation is not None:
            timezone.activate(organisation.time_zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
