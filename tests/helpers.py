"""What several test modules need: reading PDFs and downloads, the demo password."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pypdf

# Every demo sign-in's password (`manage.py loaddemo`).
DEMO_PASSWORD = "cdt-demo"


def squash(text: str) -> str:
    """Collapse every run of whitespace into one space: PDF text wraps lines anywhere."""
    return re.sub(r"\s+", " ", text).strip()


def no_spaces(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_reader(data: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(data))


def pdf_text(data: bytes) -> str:
    """The text a person could copy out of the PDF, its whitespace squashed."""
    return squash(" ".join(page.extract_text() for page in pdf_reader(data).pages))


def filename_of(response) -> str:
    """The Russian filename of a download, from its RFC 5987 Content-Disposition."""
    header = response["Content-Disposition"]
    assert "filename*=utf-8''" in header, header
    encoded = header.split("filename*=utf-8''", 1)[1].split(";", 1)[0]
    assert "%" in encoded and not re.search(r"[^\x21-\x7e]", encoded), header
    return unquote(encoded)
