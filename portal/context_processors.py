from functools import partial

from django.conf import settings
from django.http import HttpRequest
from django.shortcuts import resolve_url

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
        # The frame's addresses, for the pages of lower layers that point to them (the sign-in
        # page is signin's, the home page the top's): given from above, as Django's own
        # LOGIN_URL is, so no lower template names a higher layer's URL
        # (tests/test_url_layers.py).
        "login_url": resolve_url(settings.LOGIN_URL),
        "home_url": resolve_url(settings.LOGIN_REDIRECT_URL),
        # A callable, which the template calls only where the frame shows the messages (a
        # page that sets `show_department_messages`: the dashboard), so no other page even
        # builds the query; only an institution's administrator gets any.
        "department_messages": partial(unread_messages, user) if user.is_authenticated else (),
    }
