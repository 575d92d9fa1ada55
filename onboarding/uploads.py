"""The signed scan: PDF, JPEG or PNG recognised by its first bytes, never by its name."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

SIGNATURES = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
]


class ScanError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckedScan:
    content: bytes
    content_type: str
    extension: str


def check_scan(upload: UploadedFile | None) -> CheckedScan:
    if upload is None:
        raise ScanError("Приложите скан подписанного письма (PDF, JPEG или PNG).")
    limit = settings.SCAN_MAX_BYTES
    if upload.size is not None and upload.size > limit:
        raise ScanError(
            f"Файл слишком большой: {upload.size / 1024 / 1024:.1f} МБ. "
            f"Допустимо не больше {limit // 1024 // 1024} МБ."
        )
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise ScanError(f"Файл слишком большой. Допустимо не больше {limit // 1024 // 1024} МБ.")
    if not content:
        raise ScanError("Файл пустой.")
    for magic, content_type, extension in SIGNATURES:
        if content.startswith(magic):
            return CheckedScan(content, content_type, extension)
    raise ScanError(
        "Это не PDF, JPEG или PNG (проверено по содержимому файла, а не по имени). "
        "Отсканируйте письмо в один из этих форматов."
    )
