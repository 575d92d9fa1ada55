"""Finding 7: an XLSX bomb just under the unpacked-size guard kept a worker busy 31 s at
1.16 GB and ended in a 500. Now the zip's declared sizes and compression ratio are checked
before anything is unpacked, and the first sheet is streamed with row, column and time
limits; each refusal is a Russian message. (Timings are measured by hand, not asserted.)"""

from __future__ import annotations

import io
import zipfile

import pytest

from accounts.staff_import import XLSX_TOO_BIG, preview_staff_import
from cdt_portal.errors import PortalError

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Сотрудники" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def column(n: int) -> str:
    name = ""
    while n:
        n, rest = divmod(n - 1, 26)
        name = chr(65 + rest) + name
    return name


def cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def xlsx(rows_xml, *, dimension: str = "") -> bytes:
    """A minimal XLSX whose first sheet is `rows_xml` (an iterable of <row> strings)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                b'<?xml version="1.0" encoding="UTF-8"?>'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                + (f'<dimension ref="{dimension}"/>'.encode() if dimension else b"")
                + b"<sheetData>"
            )
            chunk = []
            for row in rows_xml:
                chunk.append(row)
                if len(chunk) == 10_000:
                    sheet.write("".join(chunk).encode())
                    chunk = []
            sheet.write("".join(chunk).encode() + b"</sheetData></worksheet>")
    return out.getvalue()


def header_row() -> str:
    return (
        '<row r="1">' + cell("A1", "Фамилия") + cell("B1", "Имя") + cell("C1", "E-mail") + "</row>"
    )


def staff_row(i: int) -> str:
    return (
        f'<row r="{i}">{cell(f"A{i}", "Иванова")}{cell(f"B{i}", "Анна")}'
        f"{cell(f'C{i}', f'user{i * 7919 % 1000003}@example.ru')}</row>"
    )


def refusal(organisation, content: bytes) -> str:
    with pytest.raises(PortalError) as refused:
        preview_staff_import(organisation=organisation, content=content)
    return refused.value.message


def test_a_million_cells_packed_small_is_refused_before_unpacking(organisation):
    # Cells without references are valid and repeat exactly, so they pack tightly: two
    # million cells, about 70 MB of XML, in a few hundred kilobytes.
    row = "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * 20 + "</row>"
    bomb = xlsx([header_row(), *([row] * 100_000)])
    assert len(bomb) < 1024 * 1024  # a small upload...
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 50 * 1024 * 1024
    assert refusal(organisation, bomb) == XLSX_TOO_BIG
    assert "слишком большой" in XLSX_TOO_BIG


def test_a_bomb_under_the_size_limit_is_refused_by_its_ratio(organisation, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 500 * 1024 * 1024
    row = "<row>" + '<c t="inlineStr"><is><t>x</t></is></c>' * 20 + "</row>"
    assert refusal(organisation, xlsx([header_row(), *([row] * 100_000)])) == XLSX_TOO_BIG


def test_too_many_rows_are_refused_while_streaming(organisation, settings):
    settings.IMPORT_MAX_ROWS = 2_000
    content = xlsx([header_row(), *(staff_row(i) for i in range(2, 2_600))])
    assert refusal(organisation, content) == (
        "Слишком много строк: больше 2 000. Разделите список на несколько файлов."
    )


def test_rows_far_below_are_counted_too(organisation, settings):
    # A row numbered 1 000 000 after the header makes openpyxl yield every empty row between.
    settings.IMPORT_MAX_ROWS = 2_000
    content = xlsx([header_row(), staff_row(1_000_000)])
    assert refusal(organisation, content).startswith("Слишком много строк")


def test_data_beyond_the_column_limit_is_refused(organisation):
    content = xlsx([header_row(), '<row r="2">' + cell("BZ2", "x") + "</row>"])
    assert refusal(organisation, content) == (
        "Слишком много столбцов: данные есть в 78-м столбце, а можно не больше 50. "
        "Удалите лишние столбцы и загрузите снова."
    )


def test_a_huge_declared_dimension_is_not_trusted(organisation):
    # Read-only openpyxl would pad rows and add empty ones up to the declared A1:XFD1048576.
    content = xlsx([header_row(), staff_row(2)], dimension="A1:XFD1048576")
    preview = preview_staff_import(organisation=organisation, content=content)
    assert [row.last_name for row in preview.to_add] == ["Иванова"]


def test_the_unpacked_size_limit_is_a_setting(organisation, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 64 * 1024
    content = xlsx([header_row(), *(staff_row(i) for i in range(2, 2_000))])
    assert refusal(organisation, content) == XLSX_TOO_BIG


def test_a_normal_list_still_reads(organisation):
    content = xlsx([header_row(), *(staff_row(i) for i in range(2, 502))])
    preview = preview_staff_import(organisation=organisation, content=content)
    assert len(preview.to_add) + len(preview.errors) == 500
