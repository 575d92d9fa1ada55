"""The appointment letter (plain-data context, then the project's PDF renderer)."""

from __future__ import annotations

import re

from cdt_portal.pdf import render_pdf

from .models import RegistrationRequest


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
