"""The signed scan: PDF, JPEG or PNG recognised by its first bytes, never by its name."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from cdt_portal.errors import PortalError

SIGNATURES = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
]


def _refuse(message: str) -> PortalError:
    """A refused scan: the message goes beside the form's file field."""
    return PortalError(message, field="scan")


@dataclass(frozen=True)
class CheckedScan:
    content: bytes
    content_type: str
    extension: str


def check_scan(upload: UploadedFile | None) -> CheckedScan:
    if upload is None:
        raise _refuse("Приложите скан подписанного письма (PDF, JPEG или PNG).")
    limit = settings.SCAN_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise _refuse(
            f"Файл слишком большой: {upload.size / 1024 / 1024:.1f} МБ. "
            f"Допустимо не больше {limit // 1024 // 1024} МБ."
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise _refuse(f"Файл слишком большой. Допустимо не больше {limit // 1024 // 1024} МБ.")
    if not content:
        raise _refuse("Файл пустой.")
    for magic, content_type, extension in SIGNATURES:
        if content.startswith(magic):
            return CheckedScan(content, content_type, extension)
    raise _refuse(
        "Это не PDF, JPEG или PNG (проверено по содержимому файла, а не по имени). "
        "Отсканируйте письмо в один из этих форматов."
    )
