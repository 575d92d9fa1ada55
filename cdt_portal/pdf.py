"""The project's one PDF renderer: a Django template and the print stylesheet into PDF bytes.

Callers build plain-data contexts (testable without WeasyPrint) and store what must not change.
"""

from __future__ import annotations

import io
import mimetypes
import posixpath
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils.http import content_disposition_header

PRINT_STYLESHEET = "pdf/print.css"


class RefusedURL(ValueError):
    """A resource a document asked for that the renderer will not fetch."""


def static_path(url: str) -> Path | None:
    """The project's own static file a `file:` URL names, or None.

    Documents are rendered with the project folder as their base, so a template's
    `static/img/x.png` arrives as `file:///<project>/static/img/x.png` and a `/static/...`
    as `file:///static/...`. Both are looked up through the staticfiles finders, the same
    files the site serves; any other path (settings, .env, /etc/passwd, media) is refused."""
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = posixpath.normpath(unquote(parts.path))
    base = posixpath.normpath(Path(settings.BASE_DIR).as_posix())
    static_prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    if path.startswith(base + "/"):
        path = path[len(base) :]
    if not path.startswith(static_prefix):
        return None
    relative = path[len(static_prefix) :]
    if not relative or ".." in relative.split("/"):
        return None
    try:
        found = finders.find(relative)
    except SuspiciousFileOperation:
        return None
    return Path(found) if found else None


def _url_fetcher():
    """WeasyPrint's fetcher narrowed to what a portal document may contain: the project's own
    static files and `data:` URIs (the invitation slips' QR codes). Every other URL is
    refused without a connection being opened: a regulation or notice text must not make
    the server request `http://127.0.0.1:…` (request forgery) or embed a local file."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == "data":
                # urllib's data: handler decodes in memory, no network.
                return super().fetch(url, headers)
            found = static_path(url)
            if found is None:
                raise RefusedURL(f"Not a static file of the portal: {url[:200]}")
            content_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
            return URLFetcherResponse(
                found.as_uri(), found.read_bytes(), {"Content-Type": content_type}
            )

    return StaticOnlyFetcher(allowed_protocols=("data", "file"), allow_redirects=False)


def render_html(template_name: str, context: dict) -> str:
    return render_to_string(template_name, context)


def render_pdf(
    template_name: str, context: dict, *, filename: str, css: str = ""
) -> tuple[str, bytes]:
    """Return `(filename, pdf_bytes)`. `css`: rules computed for this document (the sheet's
    column widths), after the print stylesheet; never from a template, which holds no styles."""
    from weasyprint import CSS, HTML  # imported late: Pango loads only when a PDF is made

    fetcher = _url_fetcher()
    stylesheets = [CSS(filename=finders.find(PRINT_STYLESHEET), url_fetcher=fetcher)]
    if css:
        stylesheets.append(CSS(string=css, url_fetcher=fetcher))
    html = HTML(
        string=render_html(template_name, context),
        base_url=str(settings.BASE_DIR),
        url_fetcher=fetcher,
    )
    return filename, html.write_pdf(stylesheets=stylesheets)


def warm_up() -> None:
    """Render one empty page: the first render in a process loads WeasyPrint, Pango and
    fontconfig's font list, about 0.7 s that a worker pays once at start instead."""
    from weasyprint import CSS, HTML

    HTML(string="<p></p>").write_pdf(
        stylesheets=[CSS(filename=finders.find(PRINT_STYLESHEET), url_fetcher=_url_fetcher())]
    )


# Where print.css's `@page { @top-center }` box puts a page number on A4: centred between the
# 30 mm left and 10 mm right margins, in 12 pt serif, its baseline 42.5 pt below the top edge
# (the box is bottom-aligned 4 mm above the 20 mm top margin's edge; measured with
# `pdftotext -bbox` from a WeasyPrint page). A document rendered in parts is numbered with these
# after the join, because no part knows the page it starts on.
_NUMBER_SIZE = 12
_NUMBER_BASELINE_FROM_TOP = 42.5
_MM = 72 / 25.4
_LEFT_MARGIN, _RIGHT_MARGIN = 30 * _MM, 10 * _MM
# Times-Roman is one of the fonts every PDF reader has (the standard 14): nothing is embedded
# and no page's content is parsed, so numbering 600 pages takes milliseconds, not the seconds
# WeasyPrint and a page merge took. It is metric-compatible with the body's Liberation Serif;
# its digits are all half an em wide.
_DIGIT_WIDTH = 0.5 * _NUMBER_SIZE


def join_pdfs(parts: list[bytes], *, number_from: int | None = None) -> bytes:
    """The parts one after another in one PDF. With `number_from`, every page from that one on
    gets its number at the top centre (ГОСТ Р 7.0.97: from page 2)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    if number_from is not None:
        _number_pages(writer, number_from)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _number_pages(writer, number_from: int) -> None:
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject

    def stream(data: bytes):
        obj = DecodedStreamObject()
        obj.set_data(data)
        return writer._add_object(obj)

    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Times-Roman"),
            }
        )
    )
    # The page's own drawing is wrapped in q … Q so that whatever state it leaves (WeasyPrint
    # flips the y axis) does not move the number.
    save, restore = stream(b"q\n"), stream(b"\nQ\n")
    for number, page in enumerate(writer.pages, start=1):
        if number < number_from:
            continue
        resources = page["/Resources"].get_object()
        fonts = resources.get("/Font")
        if fonts is None:
            fonts = resources[NameObject("/Font")] = DictionaryObject()
        fonts.get_object()[NameObject("/PortalPageNumber")] = font
        left, _, right, top = (float(v) for v in page.mediabox)
        label = str(number)
        x = (left + _LEFT_MARGIN + right - _RIGHT_MARGIN - len(label) * _DIGIT_WIDTH) / 2
        y = top - _NUMBER_BASELINE_FROM_TOP
        text = f"BT /PortalPageNumber {_NUMBER_SIZE} Tf {x:.2f} {y:.2f} Td ({label}) Tj ET\n"
        contents = page.get("/Contents")
        own = [] if contents is None else contents.get_object()
        own = list(own) if isinstance(own, ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([save, *own, restore, stream(text.encode())])


def pdf_response(filename: str, pdf: bytes, *, inline: bool = True):
    """An HTTP answer carrying a PDF under its Russian filename (RFC 6266 / RFC 5987)."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["Content-Length"] = str(len(pdf))
    return response
