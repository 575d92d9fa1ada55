from django.http import HttpRequest

from .navigation import nav_for


def portal(request: HttpRequest) -> dict:
    user = request.user
    organisation = getattr(user, "organisation", None) if user.is_authenticated else None
    return {
        "current_organisation": organisation,
        "nav_items": nav_for(user),
    }
