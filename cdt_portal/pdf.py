"""The project's one PDF renderer: a Django template and the print stylesheet into PDF bytes.

Callers build plain-data contexts (testable without WeasyPrint) and store what must not change.
"""

from __future__ import annotations

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
    template_name: str, context: dict, *, filename: str, start_page: int = 1
) -> tuple[str, bytes]:
    """Return `(filename, pdf_bytes)`.

    `start_page` > 1 renders a later part of a longer document: its pages are numbered on
    from there, the first one included (ГОСТ leaves only the document's own first page bare).
    """
    from weasyprint import CSS, HTML  # imported late: Pango loads only when a PDF is made

    fetcher = _url_fetcher()
    stylesheets = [CSS(filename=finders.find(PRINT_STYLESHEET), url_fetcher=fetcher)]
    if start_page > 1:
        stylesheets.append(
            CSS(
                string=f"@page :first {{ counter-reset: page {int(start_page)}; "
                "@top-center { content: counter(page); } }",
                url_fetcher=fetcher,
            )
        )
    html = HTML(
        string=render_html(template_name, context),
        base_url=str(settings.BASE_DIR),
        url_fetcher=fetcher,
    )
    return filename, html.write_pdf(stylesheets=stylesheets)


def pdf_response(filename: str, pdf: bytes, *, inline: bool = True):
    """An HTTP answer carrying a PDF under its Russian filename (RFC 6266 / RFC 5987)."""
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    response["Content-Length"] = str(len(pdf))
    return response
