"""The client's address, from one place."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from. Behind a reverse proxy this is the proxy's own
    address: the portal does not read X-Forwarded-For yet, so a forged header cannot put a
    false address into the audit log or an acknowledgement."""
    return request.META.get("REMOTE_ADDR") or None
