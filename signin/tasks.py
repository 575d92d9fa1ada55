"""Background tasks of the sign-in pages."""

from __future__ import annotations

import logging

from django.core.mail import EmailMultiAlternatives, get_connection
from huey.contrib.djhuey import task

logger = logging.getLogger(__name__)


@task()
def send_reset_email(
    subject: str, body: str, html: str | None, from_email: str, to_email: str, discard: bool
) -> None:
    """Send a password-reset message prepared by the request, or discard it when it was made
    for an address nobody has. The SMTP conversation happens here, in the worker, so the
    request does the same work for a known and an unknown address (no timing difference)."""
    connection = get_connection("django.core.mail.backends.dummy.EmailBackend") if discard else None
    message = EmailMultiAlternatives(subject, body, from_email, [to_email], connection=connection)
    if html is not None:
        message.attach_alternative(html, "text/html")
    try:
        message.send()
    except Exception:
        # Logged for whoever runs the portal; the person was told to check their mail either way.
        logger.exception("Failed to send a password reset e-mail")
