"""E-mail from templates: `templates/emails/<name>_subject.txt`, `<name>.txt`, `<name>.html`."""

from __future__ import annotations

from email.header import Header
from email.message import Message

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string


class PortalEmail(EmailMultiAlternatives):
    """Django folds a long Cyrillic subject with a line break right after «Subject:», which
    mail readers decode with a leading space. Sferum filters on the exact subject
    «СФЕРУМ:Регистрация организации», so the subject is encoded knowing its header name."""

    def message(self):
        msg = super().message()
        del msg["Subject"]
        Message.__setitem__(msg, "Subject", Header(self.subject, "utf-8", header_name="Subject"))
        return msg


def build_templated(
    name: str,
    *,
    to: list[str],
    context: dict,
    attachments: list[tuple[str, bytes, str]] | None = None,
    from_email: str | None = None,
    headers: dict[str, str] | None = None,
) -> PortalEmail:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    body = render_to_string(f"emails/{name}.txt", context)
    message = PortalEmail(
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


def send_templated(name: str, **kwargs) -> PortalEmail:
    message = build_templated(name, **kwargs)
    message.send(fail_silently=False)
    return message
