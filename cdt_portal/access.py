"""Access rules that need no roles: public pages and any signed-in person's own pages.

Every view of the project carries an `access_rule` attribute (these two decorators here, or
`accounts.permissions.roles_required`); the access-matrix test refuses a view without one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def public(view: View) -> View:
    """Marks a view that anybody may open (the access test reads this mark)."""
    view.access_rule = "public"  # type: ignore[attr-defined]
    return view


def login_only(view: View) -> View:
    """Any signed-in person, with or without an organisation (their own account pages)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.access_rule = "login"  # type: ignore[attr-defined]
    return wrapper
