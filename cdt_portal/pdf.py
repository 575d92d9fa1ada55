"""The project's one PDF renderer: a Django template and the print stylesheet into PDF bytes.

Callers build plain-data contexts (testable without WeasyPrint) and store what must not change.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles import finders
from django.template.loader import render_to_string

PRINT_STYLESHEET = "pdf/print.css"


def render_html(template_name: str, context: dict) -> str:
    return render_to_string(template_name, context)


def render_pdf(
    template_name: str, context: dict, *, filename: str, start_page: int = 1
) -> tuple[str, bytes]:
    """Return `(filename, pdf_bytes)`.

    `start_page` > 1 renders a later part of a longer document: its pages are numbered on
    from there, the first one included (ГОСТ leaves only the document's own first page bare).
    """
    from weasyprint import CSS, HTML  # imported late: Pango loads only when a PDF is made

    stylesheets = [CSS(filename=finders.find(PRINT_STYLESHEET))]
    if start_page > 1:
        stylesheets.append(
            CSS(
                string=f"@page :first {{ counter-reset: page {int(start_page)}; "
                "@top-center { content: counter(page); } }"
            )
        )
    html = HTML(string=render_html(template_name, context), base_url=str(settings.BASE_DIR))
    return filename, html.write_pdf(stylesheets=stylesheets)


def pdf_response(filename: str, pdf: bytes, *, inline: bool = True):
    """An HTTP answer carrying a PDF under its Russian filename (RFC 6266 / RFC 5987)."""
    from django.http import HttpResponse
    from django.utils.http import content_disposition_header

    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["Content-Length"] = str(len(pdf))
    return response
