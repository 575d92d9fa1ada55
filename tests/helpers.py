"""What several test modules need: reading PDFs and downloads, the demo password."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Word:
    """A word on a PDF page and its box in points, measured from the page's top left."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def centre_x(self) -> float:
        return (self.x0 + self.x1) / 2


def pdf_words(data: bytes) -> list[list[Word]]:
    """Every page's words with their positions, as poppler's `pdftotext -bbox` reads them
    (the same reader the print shop's and the inspector's viewers are built on)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as pdf:
        pdf.write(data)
        pdf.flush()
        html = subprocess.run(
            ["pdftotext", "-bbox", pdf.name, "-"], check=True, capture_output=True, text=True
        ).stdout
    pages = []
    for page in re.findall(r"<page [^>]*>(.*?)</page>", html, re.S):
        words = re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>',
            page,
        )
        pages.append([Word(t, float(a), float(b), float(c), float(d)) for a, b, c, d, t in words])
    return pages


def changed_outside_services() -> None:
    """A test changed rows straight through the ORM, writing no audit entry as every service
    does: numbers counted before (`cdt_portal.numbers.counted_once`) must be counted again."""
    from django.core.cache import cache

    cache.clear()
