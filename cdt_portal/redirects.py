"""Where to send a person after an action: a `next` they brought along, only when it is a path
on this site (never another host, never a scheme), otherwise the page the view names."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, fallback: str, *args, **kwargs) -> str:
    """The request's `next` (from the form, or the query) if it is a local path, else the URL
    of `fallback` (a URL name with its arguments, or a path)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(fallback, *args, **kwargs)


def redirect_next(request: HttpRequest, fallback: str, *args, **kwargs) -> HttpResponseRedirect:
    return HttpResponseRedirect(safe_next(request, fallback, *args, **kwargs))
