"""E-mail from templates: `templates/emails/<name>_subject.txt`, `<name>.txt`, `<name>.html`."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


def build_templated(
    name: str,
    *,
    to: list[str],
    context: dict,
    attachments: list[tuple[str, bytes, str]] | None = None,
    from_email: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}.txt", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers,
    )
    try:
        message.attach_alternative(render_to_string(f"emails/{name}.html", context), "text/html")
    except TemplateDoesNotExist:
        pass
    for filename, content, mimetype in attachments or []:
        message.attach(filename, content, mimetype)
    return message


def send_templated(name: str, **kwargs) -> EmailMultiAlternatives:
    message = build_templated(name, **kwargs)
    message.send(fail_silently=False)
    return message
