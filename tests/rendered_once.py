"""Each distinct document is rendered once per test process.

A PDF here is a pure function of its input. `cdt_portal.pdf._write_pdf(html, css, variant)`
fetches nothing but the project's own static files and `data:` URIs (`_url_fetcher`), and
WeasyPrint writes the same bytes for the same input: `tests/documents/test_rendered_once.py`
renders one input twice without this module and compares the bytes.

So a test whose services render a document that an earlier test in the same process rendered
from the same HTML gets the bytes that real render wrote, not a stand-in. Hundreds of tests
approve the same fixture regulation, whose job renders its order (about 0.13 s of WeasyPrint
each); this is most of what the module saves. A test about the renderer itself that must call
WeasyPrint every time is marked `renders_afresh`.
"""

import functools

from cdt_portal import pdf

REAL_WRITE_PDF = pdf._write_pdf


# Bounded, so a process keeps at most 256 documents and their HTML in memory: the ones the
# next tests repeat are recent ones (the fixtures' order and letter, the demo's documents).
@functools.lru_cache(maxsize=256)
def _rendered(html_text: str, css: str, pdf_variant: str | None) -> bytes:
    return REAL_WRITE_PDF(html_text, css, pdf_variant)


def write_pdf(html_text: str, css: str = "", pdf_variant: str | None = None) -> bytes:
    """`_write_pdf`, rendering each distinct (html, css, variant) once."""
    return _rendered(html_text, css, pdf_variant)
