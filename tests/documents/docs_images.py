"""Refreshes the README's document images in docs/: page one of the demo's approved order, of its
sheet (with the demo teacher's online confirmation), of the appointment letter and of the
invitation slips, at 60 dpi. Not part of the suite (the file name is not test_*); run it by name
when a document's look changes:

    nice -n 19 .venv/bin/python -m pytest tests/documents/docs_images.py -p no:cacheprovider

Set DOCS_IMAGES_DIR to write elsewhere (to look before replacing the committed images).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings

from acknowledgements import documents
from tests.documents.builders import (
    built_sheet,
    confirm_online,
    demo_letter,
    demo_slips,
    demo_version,
)


def page_one_png(data: bytes, target: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        pdf = Path(folder) / "document.pdf"
        pdf.write_bytes(data)
        stem = Path(folder) / "page"
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, stem],
            check=True,
        )
        target.write_bytes(stem.with_suffix(".png").read_bytes())


def test_refresh_the_document_images(db):
    folder = Path(os.environ.get("DOCS_IMAGES_DIR") or Path(settings.BASE_DIR) / "docs")
    version = demo_version()
    page_one_png(documents.render_order(version)[1], folder / "order-page1.png")
    confirm_online(version)
    page_one_png(built_sheet(version), folder / "sheet-page1.png")
    page_one_png(demo_letter(), folder / "letter-page1.png")
    page_one_png(demo_slips(5)[1], folder / "invitations-page1.png")
