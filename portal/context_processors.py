from django.http import HttpRequest

from accounts.selectors import public_organisations
from departments.selectors import unread_messages

from .navigation import nav_for


def portal(request: HttpRequest) -> dict:
    user = request.user
    if user.is_authenticated:
        organisation = user.organisation
    else:
        # A deployment for one institution carries its name on every public page.
        only = public_organisations()
        organisation = only[0] if len(only) == 1 else None
    return {
        "current_organisation": organisation,
        "nav_items": nav_for(user),
        # Lazy: queried only where a template shows it (the dashboard), and only for an
        # institution's administrator.
        "department_messages": unread_messages(user) if user.is_authenticated else (),
    }
