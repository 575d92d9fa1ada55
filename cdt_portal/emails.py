"""E-mail from templates: `templates/emails/<name>_subject.txt`, `<name>.txt`, `<name>.html`.

Every letter is written for the organisation it comes from: its dates and times are in the
organisation's time zone (a worker has no request to take it from), and the portal calls
itself by the organisation's name («Портал МКУ ДО «ЦДТ» по внедрению «Сферума»»), never
plain «Сферум», which a parent could take for the official platform.
"""

from __future__ import annotations

import zoneinfo
from email.header import Header
from email.message import Message
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

# Without an organisation (a superuser's or a department's letter), the portal's generic name:
# one deployment serves many institutions, so it names none of them (as the pages' title does).
GENERIC_PORTAL_NAME = "Портал по внедрению «Сферума»"


def portal_name(organisation=None, *, word: str = "Портал") -> str:
    """The portal's name for people of `organisation`: «Портал МКУ ДО «ЦДТ» по внедрению
    «Сферума»». `word` is «Портал» in the case the sentence needs («в портале …»)."""
    short_name = (getattr(organisation, "short_name", "") or "").strip()
    return (
        f"{word} {short_name} по внедрению «Сферума»"
        if short_name
        else f"{word} по внедрению «Сферума»"
    )


def organisation_of(context: dict):
    """The organisation a letter is written for, found in its context: `organisation`, or the
    organisation of the `version` it is about (one for a whole run of reminders, read once),
    or of the `person` / `user` it is addressed to."""
    if context.get("organisation") is not None:
        return context["organisation"]
    document = getattr(context.get("version"), "document", None)
    if getattr(document, "organisation", None) is not None:
        return document.organisation
    for key in ("person", "user"):
        organisation = getattr(context.get(key), "organisation", None)
        if organisation is not None:
            return organisation
    return None


def _time_zone(organisation) -> zoneinfo.ZoneInfo:
    name = getattr(organisation, "time_zone", "") or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def sender(organisation=None) -> str:
    """DEFAULT_FROM_EMAIL with the portal's name shown as the sender, unless the setting names
    a sender of its own («Портал ЦДТ <portal@cdt.ru>»)."""
    display, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if display or not address:
        return settings.DEFAULT_FROM_EMAIL
    # One line whatever is stored: a line break in a header is refused by Django.
    name = " ".join(portal_name(organisation).split())
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


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
    organisation = organisation_of(context)
    # Dates and times in the organisation's zone and in Russian, in a request or in a worker.
    with timezone.override(_time_zone(organisation)), translation.override("ru"):
        subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
        body = render_to_string(f"emails/{name}.txt", context)
        try:
            html = render_to_string(f"emails/{name}.html", context)
        except TemplateDoesNotExist:
            html = None
    message = PortalEmail(
        subject=subject,
        body=body,
        from_email=from_email or sender(organisation),
        to=to,
        headers=headers,
    )
    if html is not None:
        message.attach_alternative(html, "text/html")
    for filename, content, mimetype in attachments or []:
        message.attach(filename, content, mimetype)
    return message


def send_templated(name: str, **kwargs) -> PortalEmail:
    message = build_templated(name, **kwargs)
    message.send(fail_silently=False)
    return message
