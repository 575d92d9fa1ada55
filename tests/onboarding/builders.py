"""Registration requests built through the services, as the portal builds them."""

import datetime as dt
import io

from PIL import Image
from pypdf import PdfWriter

from cdt_portal.audit import history
from cdt_portal.uploads import CheckedUpload
from onboarding.services import (
    request_mark_ready,
    request_prepare_letter,
    request_start,
    request_update_details,
)


def _image(fmt: str) -> bytes:
    """A real, tiny image: the scan check opens it, so a header alone no longer passes."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, fmt)
    return out.getvalue()


def _pdf() -> bytes:
    """A real one-page PDF, as a scanner's would be, minus the picture."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PNG_SCAN = _image("PNG")
JPEG_SCAN = _image("JPEG")
PDF_SCAN = _pdf()


# The letterhead's contacts a ready request needs (issue 13: no letter on a bare letterhead,
# no .eml without the organisation's e-mail to send it from).
LETTERHEAD = {
    "address": "г. Тюмень, ул. Примерная, д. 1",
    "phone": "+7 3452 12-34-56",
    "email": "cdt@example.ru",
}


def give_letterhead(organisation) -> None:
    """Fill in whichever letterhead contacts the organisation lacks, as its settings page would
    (test data: no audit entry)."""
    blank = [name for name in LETTERHEAD if not str(getattr(organisation, name) or "").strip()]
    for name in blank:
        setattr(organisation, name, LETTERHEAD[name])
    if blank:
        organisation.save(update_fields=blank)


def make_ready_request(organisation, actor):
    """A registration request with the letter signed and the scan attached, for any
    organisation (the `ready_request` fixture and the race tests build it the same way).
    The organisation gets the letterhead's contacts first, as it must before a letter."""
    give_letterhead(organisation)
    registration = request_start(organisation=organisation, actor=actor)
    request_update_details(
        request=registration,
        actor=actor,
        full_name=actor.full_name,
        position="педагог дополнительного образования",
        phone="+79123456789",
    )
    registration = request_prepare_letter(request=registration, actor=actor)
    return request_mark_ready(
        request=registration,
        actor=actor,
        scan=CheckedUpload(PNG_SCAN, "image/png", "png"),
        questionnaire_filled_on=dt.date(2026, 11, 20),
        letter=registration.letter_pdf.name,
    )


def request_states(registration) -> list[tuple[str, str]]:
    """The request's state changes, (from, to), oldest first, as its audit history tells."""
    return [
        (entry.data["from"], entry.data["to"])
        for entry in history(registration)
        if entry.action == f"request.{entry.data.get('to')}"
    ]
