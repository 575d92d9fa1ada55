"""The addresses of a document's pages. The Sferum regulation keeps the addresses it always had
(`/regulation/…`: bookmarks, printed instructions, DESIGN.md's stable addresses); every other
document has the same pages under `/documents/<code>/…`. Views, templates (`{% docurl %}`) and
jobs name a page by its key here, never by the URL name, so no caller has to know which."""

from __future__ import annotations

from django.urls import reverse

from .models import REGULATION_CODE

# key: (the regulation's URL name, every other document's URL name)
PAGES = {
    "read": ("regulation", "document_read"),
    "order": ("regulation_order_pdf", "document_order_pdf"),
    "sheet": ("regulation_sheet_pdf", "document_sheet_pdf"),
    "list": ("acknowledgement_list", "document_acknowledgements"),
    "csv": ("acknowledgement_csv", "document_acknowledgements_csv"),
    "remind": ("acknowledgement_remind", "document_remind"),
    "paper": ("acknowledgement_paper", "document_paper"),
    "versions": ("version_list", "document_versions"),
    "version_new": ("version_new", "document_version_new"),
}


def document_url(page: str, code: str) -> str:
    regulation, other = PAGES[page]
    if code == REGULATION_CODE:
        return reverse(regulation)
    return reverse(other, kwargs={"code": code})
