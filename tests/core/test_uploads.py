"""Finding 9: the signed scan was judged by its first bytes, so a PDF/JPEG polyglot and HTML
behind `%PDF-` were accepted. Now an upload is opened for real (pypdf, Pillow) and must be one
clean document (`cdt_portal.uploads.check_upload`); a refusal names the caller's form field.
The registration request's page that uses it: tests/hardening/test_scan_upload.py."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from cdt_portal.errors import PortalError
from cdt_portal.uploads import NOT_A_DOCUMENT, check_upload
from tests.onboarding.builders import JPEG_SCAN, PDF_SCAN, PNG_SCAN

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


def png_bomb() -> bytes:
    """12 KB that unpack into 100 million pixels, past Pillow's limit."""
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")
    return out.getvalue()


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
# Clean documents: the file's name, its content and the content type found in it.
CLEAN = [
    ("скан.pdf", PDF_SCAN, "application/pdf"),
    ("скан.jpg", JPEG_SCAN, "image/jpeg"),
    ("скан.png", PNG_SCAN, "image/png"),
    ("скан.pdf", PDF_SCAN + b"\r\n  \n", "application/pdf"),  # whitespace after %%EOF
]
MISSING = "Приложите документ."


def refusal(content: bytes | None) -> PortalError:
    upload = None if content is None else SimpleUploadedFile("документ.pdf", content)
    with pytest.raises(PortalError) as refused:
        check_upload(upload, field="document", missing=MISSING)
    assert refused.value.field == "document"  # beside the caller's own form field
    return refused.value


@pytest.mark.parametrize("kind", list(POLYGLOTS))
def test_a_file_that_is_not_one_clean_document_is_refused(kind):
    assert "Файл не открывается как" in refusal(POLYGLOTS[kind]).message


def test_an_image_that_unpacks_into_gigapixels_is_refused():
    assert refusal(png_bomb()).message.startswith("Файл не открывается как PNG")


@pytest.mark.parametrize(("name", "content", "content_type"), CLEAN)
def test_a_clean_document_is_accepted(name, content, content_type):
    checked = check_upload(SimpleUploadedFile(name, content), field="document", missing=MISSING)
    assert (checked.content, checked.content_type) == (content, content_type)
    assert checked.extension == content_type.split("/")[1].replace("jpeg", "jpg")


def test_nothing_attached_empty_or_not_a_document_is_refused_with_its_message():
    assert refusal(None).message == MISSING
    assert refusal(b"").message == "Файл пустой."
    assert refusal(b"GIF89a" + b"\x00" * 40).message == NOT_A_DOCUMENT


def test_a_file_over_the_limit_is_refused(settings):
    """The limit is settings.SCAN_MAX_BYTES unless the caller gives its own."""
    settings.SCAN_MAX_BYTES = 1024 * 1024
    two_megabytes = PDF_SCAN + b" " * (2 * 1024 * 1024 - len(PDF_SCAN))
    assert refusal(two_megabytes).message == (
        "Файл слишком большой: 2.0 МБ. Допустимо не больше 1 МБ."
    )
    checked = check_upload(
        SimpleUploadedFile("скан.pdf", two_megabytes),
        field="document",
        missing=MISSING,
        max_bytes=3 * 1024 * 1024,
    )
    assert checked.content == two_megabytes
