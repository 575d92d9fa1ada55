"""Who may open the department's pages: a person of a department holding the department role.
Everyone else signed in gets 403; anonymous people go to the login page."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.models import Role
from cdt_portal.access import View

DEPARTMENT = frozenset({Role.DEPARTMENT})


def department_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if user.department_id is None or not user.has_role(Role.DEPARTMENT):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapper.access_rule = DEPARTMENT  # type: ignore[attr-defined]
    return wrapper
