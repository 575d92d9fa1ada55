"""An uploaded document (a scan): one clean PDF, JPEG or PNG, opened for real, never judged by
its name.

The first bytes choose the format; then the file is parsed as that format and must be
nothing else: a PDF/JPEG polyglot, HTML behind `%PDF-`, a document with something appended
after its end, or an image that unpacks into gigapixels is refused. Such files are forwarded
(the signed letter goes to Sferum) and downloaded by managers, so a file that a browser or
reader could take for something else must not pass. The caller names its form field and what
to say when nothing was attached (`check_upload`).
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from PIL import Image
from pypdf import PdfReader

from cdt_portal.errors import PortalError

PDF_MAGIC = b"%PDF-"
JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIGNATURES = [
    (PDF_MAGIC, "application/pdf", "pdf"),
    (JPEG_MAGIC, "image/jpeg", "jpg"),
    (PNG_MAGIC, "image/png", "png"),
]
JPEG_END = b"\xff\xd9"
# The IEND chunk: zero length, type, CRC. A PNG ends with exactly these bytes.
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
PDF_END = b"%%EOF"
# Browsers sniff the first 512 bytes, PDF readers look for `%PDF-` in the first 1024; a scan
# has no markup in either place.
HTML_MARKERS = re.compile(
    rb"<\s*(?:!doctype|html|head|body|script|iframe|svg|object|embed)\b", re.IGNORECASE
)
SNIFF_BYTES = 1024

NOT_A_DOCUMENT = (
    "Это не PDF, JPEG или PNG (проверено по содержимому файла, а не по имени). "
    "Отсканируйте письмо в один из этих форматов."
)
DAMAGED = (
    "Файл не открывается как {kind}: он повреждён или содержит что-то кроме документа. "
    "Сохраните скан заново в PDF, JPEG или PNG и приложите его."
)


# A document that must be a PDF (a local act's own file): the same checks, its own words.
PDF_ONLY = (
    "Это не PDF (проверено по содержимому файла, а не по имени). Сохраните документ в PDF и "
    "приложите его."
)
PDF_DAMAGED = (
    "Файл не открывается как PDF: он повреждён или содержит что-то кроме документа. "
    "Сохраните документ в PDF заново и приложите его."
)
PDF_ENCRYPTED = "PDF защищён паролем: сохраните документ без пароля и приложите его."


class _Refused(Exception):
    """A refused file; `check_upload` puts its message beside the caller's form field."""


@dataclass(frozen=True)
class CheckedUpload:
    content: bytes
    content_type: str
    extension: str


SCAN_ENCRYPTED = "PDF защищён паролем: сохраните скан без пароля и приложите его."


def _check_pdf(content: bytes, *, damaged: str, encrypted: str) -> None:
    end = content.rfind(PDF_END)
    if end < 0 or content[end + len(PDF_END) :].strip():
        raise _Refused(damaged)
    try:
        reader = PdfReader(io.BytesIO(content), strict=True)
        if reader.is_encrypted:
            raise _Refused(encrypted)
        pages = len(reader.pages)
    except _Refused:
        raise
    except Exception as exc:  # pypdf raises many kinds on a malformed file, RecursionError too
        raise _Refused(damaged) from exc
    if pages < 1:
        raise _Refused("В PDF нет ни одной страницы.")


def _check_image(content: bytes, fmt: str, end: bytes) -> None:
    if not content.endswith(end) or PDF_MAGIC in content:
        raise _Refused(DAMAGED.format(kind=fmt))
    try:
        with warnings.catch_warnings():
            # A few hundred bytes that unpack into gigapixels: refused, not decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[fmt]) as image:
                image.verify()
            # verify() leaves the image unusable; decoding every pixel needs a fresh open.
            with Image.open(io.BytesIO(content), formats=[fmt]) as image:
                image.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, bomb errors
        raise _Refused(DAMAGED.format(kind=fmt)) from exc


def check_upload(
    upload: UploadedFile | None,
    *,
    field: str,
    missing: str,
    max_bytes: int | None = None,
    pdf_only: bool = False,
) -> CheckedUpload:
    """The upload's content if it is one clean PDF, JPEG or PNG (`pdf_only`: one clean PDF) of
    at most `max_bytes` (settings.SCAN_MAX_BYTES by default); else a `PortalError` about the
    form field `field` (`missing` when nothing was attached)."""
    limit = settings.SCAN_MAX_BYTES if max_bytes is None else max_bytes
    try:
        return _check(upload, missing, limit, pdf_only=pdf_only)
    except _Refused as refused:
        raise PortalError(str(refused), field=field) from refused


def _check(
    upload: UploadedFile | None, missing: str, limit: int, *, pdf_only: bool = False
) -> CheckedUpload:
    if upload is None:
        raise _Refused(missing)
    if upload.size is not None and upload.size > limit:
        raise _Refused(
            f"Файл слишком большой: {upload.size / 1024 / 1024:.1f} МБ. "
            f"Допустимо не больше {limit // 1024 // 1024} МБ."
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise _Refused(f"Файл слишком большой. Допустимо не больше {limit // 1024 // 1024} МБ.")
    if not content:
        raise _Refused("Файл пустой.")
    found = [(t, e) for magic, t, e in SIGNATURES if content.startswith(magic)]
    if pdf_only and (not found or found[0][0] != "application/pdf"):
        raise _Refused(PDF_ONLY)
    if not found:
        raise _Refused(NOT_A_DOCUMENT)
    content_type, extension = found[0]
    damaged = PDF_DAMAGED if pdf_only else DAMAGED.format(kind="PDF")
    if HTML_MARKERS.search(content[:SNIFF_BYTES]):
        raise _Refused(
            damaged if pdf_only else DAMAGED.format(kind=extension.upper().replace("JPG", "JPEG"))
        )
    if content_type == "application/pdf":
        _check_pdf(
            content,
            damaged=damaged,
            encrypted=PDF_ENCRYPTED if pdf_only else SCAN_ENCRYPTED,
        )
    elif content_type == "image/jpeg":
        _check_image(content, "JPEG", JPEG_END)
    else:
        _check_image(content, "PNG", PNG_END)
    return CheckedUpload(content, content_type, extension)
