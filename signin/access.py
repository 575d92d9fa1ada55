"""Who may open the second-factor pages: whoever signs in with one (`needs_second_factor_role`:
the director, administrators, department specialists and the superuser)."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from .selectors import needs_second_factor_role


def second_factor_people(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not needs_second_factor_role(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapper.access_rule = "second_factor"  # type: ignore[attr-defined]
    return wrapper
