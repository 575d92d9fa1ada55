"""Finding 9: the signed scan was judged by its first bytes, so a PDF/JPEG polyglot and HTML
behind `%PDF-` were accepted. Now the file is opened for real (pypdf, Pillow) and must be one
clean document; a refusal is audited in its own transaction and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cdt_portal.models import AuditEntry
from onboarding.models import RegistrationRequest, RequestStatus
from tests.onboarding.builders import JPEG_SCAN, PDF_SCAN, PNG_SCAN, give_letterhead

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def jpeg_with_pdf_in_a_comment() -> bytes:
    # A JPEG that ends properly, carrying a whole PDF in a COM segment: both readers open it.
    segment = PDF_SCAN[:65000]
    return (
        JPEG_SCAN[:2]
        + b"\xff\xfe"
        + (len(segment) + 2).to_bytes(2, "big")
        + segment
        + (JPEG_SCAN[2:])
    )


POLYGLOTS = {
    "pdf-then-jpeg": PDF_SCAN + JPEG_SCAN,
    "jpeg-then-pdf": JPEG_SCAN + PDF_SCAN,
    "jpeg-with-pdf-inside": jpeg_with_pdf_in_a_comment(),
    "png-then-html": PNG_SCAN + HTML,
    "html-behind-pdf-magic": b"%PDF-1.7\n" + HTML + b"\n%%EOF\n",
    "html-in-a-pdf-header": PDF_SCAN[:9] + HTML + PDF_SCAN[9:],
    "pdf-magic-only": b"%PDF-1.4\n% signed and stamped\n" + b"0" * 100 + b"\n%%EOF",
    "jpeg-magic-only": b"\xff\xd8\xff\xe0" + b"0" * 50 + b"\xff\xd9",
    "png-magic-only": b"\x89PNG\r\n\x1a\n" + b"\x00" * 52 + PNG_SCAN[-12:],
    "truncated-png": PNG_SCAN[:-20] + PNG_SCAN[-12:],
}


@pytest.fixture
def awaiting(client, admin):
    give_letterhead(admin.organisation)  # the letter needs the letterhead's contacts
    client.force_login(admin)
    client.post(reverse("request_start"))
    client.post(
        reverse("request_details"),
        {"full_name": "Захарова Ольга Викторовна", "phone": "+79123456789"},
    )
    client.post(reverse("request_letter"))
    registration = RegistrationRequest.objects.get()
    assert registration.status == RequestStatus.AWAITING_SIGNATURE
    return registration


def upload(client, name: str, content: bytes):
    return client.post(
        reverse("request_scan"),
        {"scan": SimpleUploadedFile(name, content), "questionnaire_filled_on": "2026-11-20"},
    )


def stored_scans(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "onboarding" / "scans"
    return list(folder.glob("*")) if folder.exists() else []


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_a_file_that_is_not_one_clean_document_is_refused_and_audited(
    kind, client, admin, awaiting, settings
):
    response = upload(client, "скан.pdf", POLYGLOTS[kind])
    text = response.content.decode()
    assert response.status_code == 200  # the form again, with the message beside the file
    assert "Файл не открывается как" in text
    assert "Скан не принят" in text
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.AWAITING_SIGNATURE
    assert not awaiting.scan
    assert stored_scans(settings) == []
    entry = AuditEntry.objects.get(action="request.scan.refused")
    assert entry.actor_id == admin.pk
    assert entry.object_id == str(awaiting.pk)
    assert entry.data["filename"] == "скан.pdf"
    assert entry.data["size"] == len(POLYGLOTS[kind])
    assert "Файл не открывается как" in entry.data["reason"]


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("скан.pdf", PDF_SCAN, "application/pdf"),
        ("скан.jpg", JPEG_SCAN, "image/jpeg"),
        ("скан.png", PNG_SCAN, "image/png"),
        ("скан.pdf", PDF_SCAN + b"\r\n  \n", "application/pdf"),  # whitespace after %%EOF
    ],
)
def test_a_clean_scan_is_accepted(name, content, content_type, client, awaiting):
    upload(client, name, content)
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.READY
    assert awaiting.scan_content_type == content_type
    assert not AuditEntry.objects.filter(action="request.scan.refused").exists()
