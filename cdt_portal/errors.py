"""The one error every service raises when it refuses a change."""

from __future__ import annotations


class PortalError(Exception):
    """A refused change. `message` is shown to the person as it is (in Russian); `field`, when
    given, names the form field the refusal is about, so a view can put it beside that field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Gone(PortalError):
    """What the change is about was removed meanwhile (a second click, another person): the
    request answers 404 with the message (`cdt_portal.middleware.GoneMiddleware`)."""
