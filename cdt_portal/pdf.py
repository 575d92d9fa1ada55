"""The project's one PDF renderer: a Django template and the print stylesheet into PDF bytes.

Callers build plain-data contexts (testable without WeasyPrint) and store what must not change.
"""

from __future__ import annotations

import functools
import io
import mimetypes
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone
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


# The variant of the documents an archive keeps (the approved order, the acknowledgement
# sheet): PDF/A-3b, ISO 19005-3 level B. WeasyPrint embeds every font it draws with, adds the
# sRGB OutputIntent (GTS_PDFA1), the file identifier and the XMP metadata (pdfaid:part and
# conformance, dc:title from <title>, dc:creator from <meta name="author">, dc:description and
# pdf:Keywords from <meta name="description"> and <meta name="keywords">).
ARCHIVAL = "pdf/a-3b"


def render_pdf(
    template_name: str,
    context: dict,
    *,
    filename: str,
    css: str = "",
    pdf_variant: str | None = None,
) -> tuple[str, bytes]:
    """Return `(filename, pdf_bytes)`. `css`: rules computed for this document (the sheet's
    column widths), after the print stylesheet; never from a template, which holds no styles.
    `pdf_variant`: `ARCHIVAL` for the documents an archive keeps."""
    return filename, _write_pdf(render_html(template_name, context), css, pdf_variant)


@functools.cache
def _print_stylesheet():
    """The print stylesheet, parsed once per process: parsing it took about a fifth of a short
    document's rendering. A parsed stylesheet is only read by the renders that use it, and the
    file changes only with a deployment, which starts new processes."""
    from weasyprint import CSS

    return CSS(filename=finders.find(PRINT_STYLESHEET), url_fetcher=_url_fetcher())


def _write_pdf(html_text: str, css: str = "", pdf_variant: str | None = None) -> bytes:
    from weasyprint import CSS, HTML  # imported late: Pango loads only when a PDF is made

    fetcher = _url_fetcher()
    stylesheets = [_print_stylesheet()]
    if css:
        stylesheets.append(CSS(string=css, url_fetcher=fetcher))
    html = HTML(string=html_text, base_url=str(settings.BASE_DIR), url_fetcher=fetcher)
    return html.write_pdf(stylesheets=stylesheets, pdf_variant=pdf_variant)


def warm_up() -> None:
    """Render one empty page: the first render in a process loads WeasyPrint, Pango and
    fontconfig's font list, about 0.7 s that a worker pays once at start instead."""
    from weasyprint import HTML

    HTML(string="<p></p>").write_pdf(stylesheets=[_print_stylesheet()])


def join_pdfs(
    parts: list[bytes], *, number_from: int | None = None, attachments: tuple = ()
) -> bytes:
    """The parts one after another in one PDF. With `number_from`, every page from that one on
    (from page 2 at the earliest: print.css numbers no first page) gets its number at the top
    centre (ГОСТ Р 7.0.97: from page 2).

    The joined file is a copy of the first part with the other parts' pages appended: it keeps
    the first part's catalog (its XMP metadata and OutputIntent, so a PDF/A part gives a PDF/A
    whole), its document information (which the XMP repeats) and its file identifier. The
    parts should be rendered alike (the same variant, the same <title> and <meta>).
    `attachments` are embedded as `attach` embeds them."""
    from pypdf import PdfReader, PdfWriter

    first, *rest = parts
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(first)))
    for part in rest:
        writer.append(PdfReader(io.BytesIO(part)))
    if number_from is not None:
        _number_pages(writer, number_from)
    _embed(writer, attachments)  # in the same pass: a 576-page sheet is not cloned twice
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


# The numbers are rendered this many pages at a time: a WeasyPrint run holds every page it lays
# out until it ends (576 numbered pages at once: 57 MB on top of the join), 100 about 12 MB.
NUMBERED_PAGES_AT_ONCE = 100


def _page_numbers_pdf(first: int, count: int) -> bytes:
    """A page without a number, then `count` empty pages that WeasyPrint numbers from `first`
    on with print.css's own `@page` rules: the numbers a document made in parts gets after its
    join, in the same box, size and (embedded) serif as a document rendered whole."""
    pages = '<div class="page-number"></div>' * (count + 1)
    css = (
        ".page-number { break-after: page; }\n"
        # The first page (print.css numbers none) counts `first - 1`, so the next shows `first`.
        f"@page :first {{ counter-reset: page {first - 1}; }}\n"
    )
    return _write_pdf(f'<!doctype html><html lang="ru"><body>{pages}</body></html>', css)


def _number_pages(writer, number_from: int) -> None:
    """Number the joined pages: each page's number is WeasyPrint's page of the same number
    (`_page_numbers_pdf`), drawn over the page as a form XObject with its own resources, so no
    page's content is parsed or renamed and the number's font is embedded, like the body's.
    About 5 ms a page (600 pages: 3 s), paid only by documents long enough to come in parts."""
    from pypdf import PdfReader
    from pypdf.generic import (
        ArrayObject,
        DecodedStreamObject,
        DictionaryObject,
        FloatObject,
        NameObject,
    )

    def stream(data: bytes, entries: dict | None = None):
        obj = DecodedStreamObject()
        obj.set_data(data)
        obj.update(entries or {})
        return writer._add_object(obj)

    # The page's own drawing is wrapped in q … Q so that whatever state it leaves (WeasyPrint
    # flips the y axis) does not move the number.
    save, restore = stream(b"q\n"), stream(b"\nQ\n")
    draw = stream(b"q /PortalPageNumber Do Q\n")

    def stamp(page, number) -> None:
        form = stream(
            number.get_contents().get_data(),
            {
                NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): ArrayObject(FloatObject(v) for v in number.mediabox),
                NameObject("/Resources"): number["/Resources"].clone(writer),
            },
        )
        resources = page["/Resources"].get_object()
        xobjects = resources.get("/XObject")
        if xobjects is None:
            xobjects = resources[NameObject("/XObject")] = DictionaryObject()
        xobjects.get_object()[NameObject("/PortalPageNumber")] = form
        contents = page.get("/Contents")
        own = [] if contents is None else contents.get_object()
        own = list(own) if isinstance(own, ArrayObject) else [contents]
        page[NameObject("/Contents")] = ArrayObject([save, *own, restore, draw])

    total = len(writer.pages)
    for first in range(max(number_from, 2), total + 1, NUMBERED_PAGES_AT_ONCE):
        count = min(NUMBERED_PAGES_AT_ONCE, total - first + 1)
        numbers = PdfReader(io.BytesIO(_page_numbers_pdf(first, count))).pages
        for offset in range(count):  # numbers[0] is the page without a number
            stamp(writer.pages[first - 1 + offset], numbers[offset + 1])


@dataclass(frozen=True)
class Attachment:
    """A file to embed in a PDF (`attach`, `join_pdfs`)."""

    name: str
    data: bytes
    mime: str
    description: str
    # PDF/A-3's relationship of the file to the document: /Data (what the document shows, as
    # the sheet's log), /Source (what it was made from, as an act's own PDF in its order).
    relationship: str = "/Data"


def attach(pdf: bytes, *attachments: Attachment) -> bytes:
    """`pdf` with `attachments` embedded; the rest as it was (a clone: its metadata,
    OutputIntent and identifier stay)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    _embed(writer, attachments)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _embed(writer, attachments) -> None:
    """Each attachment as an associated file, as PDF/A-3 wants one: its MIME type, its
    relationship to the document, a description and a date, and named in the catalog's /AF."""
    from pypdf.generic import ArrayObject, NameObject, TextStringObject

    associated = []
    for attachment in attachments:
        embedded = writer.add_attachment(attachment.name, attachment.data)
        embedded.subtype = NameObject("/" + attachment.mime.replace("/", "#2F"))
        embedded.associated_file_relationship = NameObject(attachment.relationship)
        embedded.description = TextStringObject(attachment.description)
        embedded.modification_date = timezone.now()
        embedded.pdf_object[NameObject("/UF")] = TextStringObject(attachment.name)
        associated.append(embedded.pdf_object.indirect_reference)
    if associated:
        writer._root_object[NameObject("/AF")] = ArrayObject(associated)


def pdf_response(filename: str, pdf: bytes, *, inline: bool = True):
    """An HTTP answer carrying a PDF under its Russian filename (RFC 6266 / RFC 5987)."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["Content-Length"] = str(len(pdf))
    return response
