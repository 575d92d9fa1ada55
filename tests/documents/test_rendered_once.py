"""The suite renders each distinct document once per process (tests/rendered_once.py). That is
sound only because a render is a pure function of its input: these tests show it is, and that
the reuse keys on everything the render reads."""

import pytest

from acknowledgements.documents import render_order, render_sheet_pdf, sheet_context
from cdt_portal import pdf
from onboarding.documents import render_letter
from tests import rendered_once
from tests.helpers import pdf_text


@pytest.mark.renders_afresh
def test_one_input_renders_to_the_same_bytes(regulation, ready_request):
    """The order (its QR code a `data:` URI in its CSS, PDF/A with embedded fonts), the
    acknowledgement sheet and the registration letter, each rendered twice by WeasyPrint. No
    creation or modification date is written, so a render reused minutes later is the one
    WeasyPrint would write then."""
    assert pdf._write_pdf is rendered_once.REAL_WRITE_PDF
    for render in (
        lambda: render_order(regulation)[1],
        lambda: render_sheet_pdf(regulation, sheet_context(regulation), blank=False)[1],
        lambda: render_letter(ready_request)[1],
    ):
        first, second = render(), render()
        assert first.startswith(b"%PDF-")
        assert first == second
        assert b"/CreationDate" not in first and b"/ModDate" not in first


def test_a_document_rendered_again_is_the_first_render(monkeypatch):
    calls = []
    weasyprint = rendered_once.REAL_WRITE_PDF

    def counted(html_text, css="", pdf_variant=None):
        calls.append((html_text, css, pdf_variant))
        return weasyprint(html_text, css, pdf_variant)

    monkeypatch.setattr(rendered_once, "REAL_WRITE_PDF", counted)
    rendered_once._rendered.cache_clear()
    html = "<html lang='ru'><body><p>Один и тот же документ</p></body></html>"

    first = pdf._write_pdf(html)
    again = pdf._write_pdf(html)
    styled = pdf._write_pdf(html, "p { font-size: 20pt; }")
    archival = pdf._write_pdf(html, "", pdf.ARCHIVAL)

    assert again is first
    assert pdf_text(first) == "Один и тот же документ"
    assert calls == [
        (html, "", None),
        (html, "p { font-size: 20pt; }", None),
        (html, "", pdf.ARCHIVAL),
    ]
    assert len({first, styled, archival}) == 3
