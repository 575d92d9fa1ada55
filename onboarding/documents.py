"""What the request sends: the appointment letter (plain-data context, then the project's PDF
renderer) and the registration e-mail to Sferum."""

from __future__ import annotations

import re
from email.utils import make_msgid

from django.conf import settings

from accounts.gender import gendered
from cdt_portal.emails import PortalEmail, build_templated
from cdt_portal.errors import PortalError
from cdt_portal.pdf import render_pdf

from .models import RegistrationRequest

REGISTRATION_SUBJECT = "СФЕРУМ:Регистрация организации"


def letter_context(request: RegistrationRequest) -> dict:
    organisation = request.organisation
    return {
        "organisation": {
            "full_name": organisation.full_name,
            # A name in «ёлочки» is not broken across lines on the letterhead.
            "full_name_unbroken": re.sub(
                r"«[^»]*»", lambda m: m.group(0).replace(" ", "\u00a0"), organisation.full_name
            ),
            "short_name": organisation.short_name,
            "address": organisation.address,
            "phone": organisation.phone.as_international if organisation.phone else "",
            "email": organisation.email,
            "head_position": organisation.head_position,
            "head_name": organisation.head_name,
        },
        "admin": {
            "full_name": request.admin_full_name,
            # «назначен» / «назначена» as the patronymic tells, «назначен(а)» where it does not.
            "appointed": gendered("назначен", request.admin_full_name),
            "position": request.admin_position,
            "phone": request.admin_phone.as_international if request.admin_phone else "",
        },
    }


def letter_filename(request: RegistrationRequest) -> str:
    return f"Письмо о назначении администратора ИКОП Сферум — {request.organisation.short_name}.pdf"


def render_letter(request: RegistrationRequest) -> tuple[str, bytes]:
    return render_pdf(
        "pdf/appointment_letter.html", letter_context(request), filename=letter_filename(request)
    )


def scan_filename(request: RegistrationRequest) -> str:
    extension = request.scan.name.rsplit(".", 1)[-1] if request.scan else "pdf"
    return f"Письмо о назначении администратора (подписано).{extension}"


def new_message_id() -> str:
    """A Message-ID in the portal's mail domain. A request gets one when it becomes ready, so
    the message sent from the portal and the .eml downloaded for the institution's own mailbox
    carry the same ID, and a later confirmation names that message."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


def build_registration_email(request: RegistrationRequest) -> PortalEmail:
    """The e-mail to Sferum. The portal's sending and the .eml download both come from here,
    so they cannot differ."""
    if not request.scan:
        raise PortalError("Сначала приложите скан подписанного письма.")
    with request.scan.open("rb") as stored:
        content = stored.read()
    return build_templated(
        "registration_request",
        to=[settings.SFERUM_REGISTRATION_EMAIL],
        context={"request": request, "organisation": request.organisation},
        attachments=[(scan_filename(request), content, request.scan_content_type)],
        from_email=request.organisation.email or settings.DEFAULT_FROM_EMAIL,
        headers={
            "Message-ID": request.message_id or new_message_id(),
            "Reply-To": request.organisation.email or settings.DEFAULT_FROM_EMAIL,
        },
    )


def portal_can_send() -> bool:
    """Whether EMAIL_URL points at a real mail server (not files or the console)."""
    return not settings.EMAIL_BACKEND.endswith(
        ("filebased.EmailBackend", "console.EmailBackend", "dummy.EmailBackend")
    )
