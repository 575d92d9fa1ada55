"""The documents an archive keeps, the approved order and the acknowledgement sheet (filled and
blank), are PDF/A-3b files, whole or joined from parts.

No PDF/A validator is available here (veraPDF is not on the package index), so this test checks,
with pikepdf, the rules of ISO 19005-3 (PDF/A-3) an archive's check fails most often and that
the portal's own code can break (the join, the page numbers stamped after it):
- 6.2.11.4.1: every font used is embedded. Every font dictionary in every page's resources, and
  in the resources of the form XObjects a page draws (the page numbers of a joined file), has a
  font program (FontFile, FontFile2 or FontFile3) in its descriptor; for a Type0 font, in the
  descriptor of its descendant font. Type3 fonts carry their glyphs as content and need none.
- 6.2.4.2 (6.2.3 in PDF/A-1): an OutputIntents entry of subtype GTS_PDFA1 with its ICC profile.
- 6.6.4 and 6.6.2.1: XMP metadata in the catalog with the PDF/A identification, pdfaid:part 3 and
  pdfaid:conformance B; and 6.6.2.3 (information dictionary and XMP agree) for the title.
- 6.1.3: the trailer has a file identifier (ID) and the file is not encrypted.
Plus what the portal writes there: the title, the organisation (dc:creator), the order's number
and date (dc:description).
"""

from __future__ import annotations

import io

import pikepdf
import pytest
from django.urls import reverse

from acknowledgements import documents
from tests.acknowledgements.builders import fetch_sheet
from tests.factories import UserFactory

FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


def unembedded_fonts(pdf: pikepdf.Pdf) -> list[str]:
    """Every font drawn without its program in the file: `page N: BaseFont`."""
    missing: list[str] = []

    def check_font(font, where: str) -> None:
        if font.get("/Subtype") == "/Type3":
            return
        if font.get("/Subtype") == "/Type0":
            for descendant in font.DescendantFonts:
                check_font(descendant, where)
            return
        descriptor = font.get("/FontDescriptor")
        if descriptor is None or not any(key in descriptor for key in FONT_FILES):
            missing.append(f"{where}: {font.get('/BaseFont')}")

    def check_resources(resources, where: str, seen: set) -> None:
        if resources is None:
            return
        for font in (resources.get("/Font") or {}).values():
            check_font(font, where)
        for xobject in (resources.get("/XObject") or {}).values():
            if xobject.get("/Subtype") == "/Form" and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                check_resources(xobject.get("/Resources"), where, seen)

    for number, page in enumerate(pdf.pages, start=1):
        check_resources(page.obj.get("/Resources"), f"page {number}", set())
    return missing


def assert_pdfa_3b(data: bytes, *, title: str, organisation, order_number: str) -> None:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert not pdf.is_encrypted
        assert unembedded_fonts(pdf) == []
        intents = pdf.Root.get("/OutputIntents")
        assert intents is not None and len(intents) > 0
        assert [intent.S for intent in intents] == ["/GTS_PDFA1"]
        assert all("/DestOutputProfile" in intent for intent in intents)
        assert "/ID" in pdf.trailer
        assert "/Metadata" in pdf.Root
        meta = pdf.open_metadata()
        assert meta["pdfaid:part"] == "3"
        assert meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == title
        assert str(pdf.docinfo["/Title"]) == title
        assert organisation.full_name in str(meta["dc:creator"])
        assert f"№ {order_number}" in meta["dc:description"]
        assert "30.11.2023" in meta["dc:description"]


@pytest.fixture(params=["one-part", "in-parts"])
def parts(request, organisation, monkeypatch):
    """The documents whole (one WeasyPrint run) and joined from parts (numbers stamped on)."""
    if request.param == "in-parts":
        monkeypatch.setattr(documents, "SHEET_PART_ROWS", 10)
        for n in range(25):
            UserFactory(organisation=organisation, last_name=f"Архивова{n:02d}", roles=["teacher"])
    return request.param


@pytest.mark.django_db
def test_the_order_is_pdfa_3b_with_every_font_embedded(organisation, regulation, parts):
    _, pdf = documents.render_order(regulation)
    assert_pdfa_3b(pdf, title=regulation.title, organisation=organisation, order_number="201-О")


@pytest.mark.django_db
@pytest.mark.parametrize("blank", [False, True], ids=["sheet", "blank-sheet"])
def test_the_sheet_is_pdfa_3b_with_every_font_embedded(
    client, director, organisation, regulation, parts, blank
):
    client.force_login(director)
    url = reverse("regulation_sheet_pdf") + ("?blank=1" if blank else "")
    pdf = fetch_sheet(client, url).content
    title = documents.sheet_title(regulation).replace(documents.NBSP, " ")
    assert_pdfa_3b(pdf, title=title, organisation=organisation, order_number="201-О")
