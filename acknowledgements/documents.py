"""What the approved order and the acknowledgement sheet print: plain-data contexts, then PDFs.
How the sheet is built in parts, stored, found and cleaned up is `sheet.py`."""

from __future__ import annotations

import gc
import json
import re
import zoneinfo
from dataclasses import asdict, dataclass

import segno
from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import User
from cdt_portal.errors import PortalError
from cdt_portal.markup import render_markdown
from cdt_portal.pdf import ARCHIVAL, Attachment, attach, join_pdfs, render_pdf

from .models import REGULATION_CODE, AckMethod, Acknowledgement, DocumentVersion
from .selectors import counted_version_ids, readers


@dataclass(frozen=True)
class SheetRow:
    number: int
    full_name: str
    position: str
    date: str  # 30.11.2023, or "" when not yet confirmed (or for the blank sheet)
    note: str  # small print for an online confirmation


def russian_sort_key(person: User) -> tuple[str, ...]:
    # Python orders «ё» after «я»; Russian lists sort it with «е».
    return tuple(
        part.lower().replace("ё", "е")
        for part in (person.last_name, person.first_name, person.patronymic)
    )


NBSP = "\u00a0"


def unbroken(text: str) -> str:
    """Printed text with the spaces a line must not break at made non-breaking: inside a name
    in «ёлочки» («Центр детского творчества»), after «№», before «г.» of a date and after
    initials («О.Б. Денисенко»)."""
    text = re.sub(r"«[^«»]{1,60}»", lambda m: m.group(0).replace(" ", NBSP), text)
    text = re.sub(r"№ (?=\S)", "№" + NBSP, text)
    text = re.sub(r"(?<=[А-ЯЁA-Z]\.) (?=[А-ЯЁA-Z])", NBSP, text)
    return re.sub(r"(?<=\d) г\.", NBSP + "г.", text)


def unbroken_short_name(short_name: str) -> str:
    """An organisation's short name («МКУ ДО «ЦДТ»») on one line, when it is short."""
    return short_name.replace(" ", NBSP) if len(short_name) <= 30 else unbroken(short_name)


# Where a link or an e-mail address in a printed text may break across lines: after «@» and
# a «/» (not the «//» after «https:»), before «.» and «?». Unbroken, one long address stretches
# the spaces of the justified line before it 5 mm wide. A <wbr> adds no character to the PDF's
# text layer.
_LINK = re.compile(r"(?:https?://|www\.)[^\s<]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def _breakable(link: str) -> str:
    return re.sub(r"(?<=@)|(?<=[^/:]/)(?=[^/])|(?<=\w)(?=[.?]\w)", "<wbr>", link)


def breakable_links(text_html: str) -> str:
    """`text_html` (rendered Markdown, whose text holds no raw tags) with break opportunities in
    the links and e-mail addresses of its text, never inside a tag or its attributes."""
    parts = re.split(r"(<[^>]*>)", text_html)
    return "".join(
        part if part.startswith("<") else _LINK.sub(lambda m: _breakable(m.group(0)), part)
        for part in parts
    )


def sheet_title(version: DocumentVersion) -> str:
    """«Лист ознакомления с Положением …», its quoted names unbroken; the sheet continues it
    with «, утверждённым приказом …»."""
    title = version.title.strip()
    if title.startswith("Положение"):
        return unbroken("Лист ознакомления с Положением" + title[len("Положение") :])
    return unbroken(f"Лист ознакомления с документом «{title}»")


SHEET_PERSON_FIELDS = ("last_name", "first_name", "patronymic", "position")


def sheet_rows(version: DocumentVersion, *, blank: bool = False) -> list[SheetRow]:
    """Staff asked to read the version, and anyone who has confirmed it, alphabetically."""
    # An editorial correction counts the acknowledgements of the version it corrects, each
    # with its own (original) date: the oldest first, so a later one wins.
    # Only what the sheet prints is read: at 10,000 people, whole rows (and the version's text
    # beside each acknowledgement, as `select_related("version")` read it) held 130 MB more
    # for a moment (benchmarks/README.md, issue 24).
    acks = {
        ack.person_id: ack
        for ack in Acknowledgement.objects.filter(version__in=counted_version_ids(version))
        .select_related("person")
        .only(
            "person_id", "version_id", "method", "acknowledged_on", "recorded_at",
            "agreement_id", *(f"person__{name}" for name in SHEET_PERSON_FIELDS),
        )
        .annotate(version_number=F("version__number"))
        .order_by("version__number")
    }  # fmt: skip
    people = {p.pk: p for p in readers(version.document).only(*SHEET_PERSON_FIELDS)}
    people.update({pk: ack.person for pk, ack in acks.items()})
    zone = zoneinfo.ZoneInfo(version.document.organisation.time_zone)
    rows = []
    bases = basis_order(acks.values())
    for number, person in enumerate(sorted(people.values(), key=russian_sort_key), start=1):
        ack = None if blank else acks.get(person.pk)
        date = note = ""
        if ack is not None:
            date = f"{ack.acknowledged_on:%d.%m.%Y}"
            if ack.method == AckMethod.ONLINE:
                at = timezone.localtime(ack.recorded_at, zone)
                marker = basis_marker(ack.agreement_id, bases)
                note = f"подтверждено в портале {at:%d.%m.%Y}{NBSP}{at:%H:%M}{NBSP}{marker}"
            if ack.version_id != version.pk:
                note = f"{note}; " if note else ""
                note += f"с редакцией{NBSP}{ack.version_number} (изменения редакционные)"
        rows.append(SheetRow(number, person.full_name, person.position, date, note))
    return rows


# The basis of an online confirmation, stated in a footnote under the sheet (63-ФЗ ст. 6 ч. 2,
# ст. 9): the agreement on the простая электронная подпись the person accepted, or, before the
# organisation had one, only the password. One marker for each basis, in the order of first use.
def basis_order(acks) -> list[int | None]:
    """The bases of the online confirmations among `acks` (agreement version ids; None: no
    agreement), each once, the agreements by id and the confirmations without one last."""
    bases = {ack.agreement_id for ack in acks if ack.method == AckMethod.ONLINE}
    return sorted(b for b in bases if b is not None) + ([None] if None in bases else [])


def basis_marker(agreement_id: int | None, bases: list[int | None]) -> str:
    return "*" * (bases.index(agreement_id) + 1)


def basis_footnotes(version: DocumentVersion) -> list[str]:
    """The footnotes of the sheet of `version`, one per basis, in the order of `basis_order`."""
    acks = Acknowledgement.objects.filter(
        version__in=counted_version_ids(version), method=AckMethod.ONLINE
    ).only("method", "agreement_id")
    bases = basis_order(acks)
    agreements = DocumentVersion.objects.in_bulk([b for b in bases if b is not None])
    notes = []
    for index, basis in enumerate(bases, start=1):
        marker = "*" * index
        if basis is None:
            notes.append(
                f"{marker} Подтверждено в портале паролем работника, до принятия им соглашения "
                "об использовании простой электронной подписи."
            )
        else:
            agreement = agreements[basis]
            notes.append(
                f"{marker} Подтверждено простой электронной подписью в портале, соглашение "
                f"от {agreement.order_date:%d.%m.%Y} («{agreement.title}», приказ "
                f"№{NBSP}{agreement.order_number}), принятое работником в портале."
            )
    return notes


CONFIRMATION_LOG = "confirmations.json"


def confirmation_log(version: DocumentVersion) -> bytes:
    """The machine-readable log the stored sheet carries (PDF/A-3 associated file): every
    acknowledgement that counts for the version, with who, when, how, which text (its SHA-256),
    on which agreement on the простая электронная подпись and from which address. JSON, UTF-8,
    one object; what it says can be checked against the portal's records."""
    # Only what the log writes: the versions' texts are not read (10,000 rows each with the
    # text held 130 MB in the sheet's rows once: benchmarks/README.md, issue 24), and the rows
    # are read a thousand at a time.
    acks = (
        Acknowledgement.objects.filter(version__in=counted_version_ids(version))
        .select_related("person", "recorded_by", "version", "agreement")
        .only(
            "person_id", "method", "acknowledged_on", "recorded_at", "text_sha256",
            "agreement_id", "ip_address", "version__number",
            *(f"{who}__{name}" for who in ("person", "recorded_by")
              for name in ("last_name", "first_name", "patronymic")),
            "agreement__order_number", "agreement__order_date", "agreement__text_sha256",
        )
        .order_by("recorded_at", "pk")
        .iterator(chunk_size=1000)
    )  # fmt: skip
    document = version.document
    log = {
        "document": {"code": document.code, "title": version.title, "kind": document.kind},
        "version": {
            "number": version.number,
            "order": version.order_label,
            "text_sha256": version.text_sha256,
        },
        "organisation": document.organisation.full_name,
        # When the file was made: a record newer than this is rightly missing from it.
        "made_at": timezone.now().isoformat(),
        "confirmations": [
            {
                "person": {"id": ack.person_id, "full_name": ack.person.full_name},
                "method": ack.method,
                "acknowledged_on": ack.acknowledged_on.isoformat(),
                "recorded_at": ack.recorded_at.isoformat(),
                "recorded_by": ack.recorded_by.full_name,
                "version": ack.version.number,
                "text_sha256": ack.text_sha256,
                "agreement": (
                    {
                        "version_id": ack.agreement_id,
                        "order": ack.agreement.order_label,
                        "text_sha256": ack.agreement.text_sha256,
                    }
                    if ack.agreement_id
                    else None
                ),
                "ip_address": ack.ip_address,
            }
            for ack in acks
        ],
    }
    return json.dumps(log, ensure_ascii=False, indent=1).encode("utf-8")


def confirmation_log_attachment(version: DocumentVersion) -> Attachment:
    return Attachment(
        CONFIRMATION_LOG,
        confirmation_log(version),
        mime="application/json",
        description=f"Журнал подтверждений ознакомления: {version.title}, "
        f"редакция {version.number}",
    )


def _common(version: DocumentVersion) -> dict:
    organisation = version.document.organisation
    return {
        "organisation": {
            "full_name": unbroken(organisation.full_name),
            "short_name": unbroken_short_name(organisation.short_name),
        },
        "version": {
            "title": version.title,
            "order_label": unbroken(version.order_label),
            "order_number": version.order_number,
            "order_date": f"{version.order_date:%d.%m.%Y}",
            "approver_position": version.approver_position,
            "approver_name": unbroken(version.approver_name),
            "number": version.number,
        },
        "sheet_title": sheet_title(version),
        # The file's own description (<title> and <meta>, which WeasyPrint writes to the XMP
        # metadata and the document information): plain spaces, no line-breaking marks.
        "meta": {
            "author": organisation.full_name,
            "description": (
                f"Приказ {organisation.short_name} № {version.order_number}"
                f" от {version.order_date:%d.%m.%Y}"
            ),
            "keywords": [
                f"приказ № {version.order_number}",
                f"{version.order_date:%d.%m.%Y}",
                f"редакция {version.number}",
            ],
        },
    }


# The sheet's columns follow its content. Its 12 pt serif is about 2.1 mm a character, and a
# cell's padding and borders take 3.2 mm. The date (31 mm: «ознакомления» in bold) and the
# signature (32 mm) columns are fixed in print.css; the name column takes what is left.
_CHAR_MM = 2.1
_CELL_MM = 3.2
_NUMBER_MIN_MM = 11.0  # «999.»
_POSITION_MIN_MM, _POSITION_MAX_MM = 26.0, 50.0  # the heading «Должность»; then it wraps


def _cell_mm(chars: int) -> float:
    return chars * _CHAR_MM + _CELL_MM


def _two_line_chars(text: str) -> int:
    """The characters of the longer line when `text` is set on at most two lines, broken at
    a space («педагог дополнительного» / «образования»: 23)."""
    words = text.split()
    return min(
        [len(text)]
        + [max(len(" ".join(words[:i])), len(" ".join(words[i:]))) for i in range(1, len(words))]
    )


def sheet_columns(rows: list[dict]) -> dict[str, str]:
    """The widths of the number and position columns, decided for the whole sheet so that
    every part of it has the same columns: the number column fits the last row's number
    («10000.»), the position column the longest position on two lines, within limits
    (beyond them the position wraps inside its cell)."""
    number = max(_NUMBER_MIN_MM, _cell_mm(len(f"{len(rows)}.")))
    position = max([_POSITION_MIN_MM] + [_cell_mm(_two_line_chars(r["position"])) for r in rows])
    return {"num": f"{number:.1f}mm", "position": f"{min(position, _POSITION_MAX_MM):.1f}mm"}


def columns_css(columns: dict[str, str]) -> str:
    """The widths `sheet_columns` chose, as rules over print.css's defaults."""
    return (
        f".sheet-table col.col-num {{ width: {columns['num']}; }}\n"
        f".sheet-table col.col-position {{ width: {columns['position']}; }}\n"
    )


def sheet_context(version: DocumentVersion, *, blank: bool = False) -> dict:
    rows = [asdict(r) for r in sheet_rows(version, blank=blank)]
    context = {**_common(version), "rows": rows, "columns": sheet_columns(rows)}
    # Under the last part's table (`sheet.sheet_plan` keeps them for the last part only).
    context["footnotes"] = [] if blank else basis_footnotes(version)
    context["verify_url"] = verify_url(version)
    context["meta"]["title"] = context["sheet_title"].replace(NBSP, " ")
    return context


def order_context(version: DocumentVersion) -> dict:
    """The approved order: the stamp, the title block, the text (or, for an act given as its
    own PDF, where that file is: embedded in the order, `render_order`), and the sheet for ink."""
    if version.source_pdf:
        text_html = format_html(
            "<p>Текст документа — в файле «{}», приложенном к настоящему PDF-документу "
            "(контрольная сумма SHA-256: {}).</p>",
            version.source_name or "документ.pdf",
            version.content_sha256(),
        )
    else:
        text_html = breakable_links(str(render_markdown(version.text)))
    context = {
        **sheet_context(version, blank=True),
        "first_part": True,
        "text_html": text_html,
    }
    context["meta"]["title"] = version.title
    return context


def _title_parts(title: str) -> tuple[str, str]:
    kind, _, rest = title.partition(" ")
    return kind, unbroken(rest)


def order_filename(version: DocumentVersion) -> str:
    # The regulation's file keeps its name; another act is named by its own title.
    what = "Положение" if version.document.code == REGULATION_CODE else version.document.title
    what = re.sub(r'[\\/:*?"<>|]', " ", what)[:120].strip()
    return f"Приказ № {version.order_number} от {version.order_date:%d.%m.%Y} — {what}.pdf"


def sheet_filename(version: DocumentVersion, *, blank: bool) -> str:
    suffix = " (бланк)" if blank else ""
    return f"Лист ознакомления — приказ № {version.order_number}{suffix}.pdf"


# WeasyPrint lays out about 200 table rows a second here. A long document is rendered in parts,
# each in its own WeasyPrint run, and joined: the order here, the sheet in parts rendered by
# separate jobs (`sheet.py`), so one new acknowledgement re-renders one part, not the whole
# sheet. Where the parts are cut depends on the rows only, never on the server (its number of
# workers), so the same rows give the same pages anywhere; a part starts a new page, so it is
# a whole number of pages: SHEET_PAGE_ROWS one-line rows fill a page under the repeated header
# (measured, `tests/acknowledgements/test_sheet_pages.py`), and the first page holds
# SHEET_TITLE_ROWS fewer under the sheet's title. A sheet of one-line rows is cut where its
# pages end anyway; taller rows (a position on two lines, an online note) leave the last page
# of a part shorter, the same on every server. A sheet of one part (up to 207 rows) is one
# WeasyPrint run, numbered by WeasyPrint itself.
SHEET_PAGE_ROWS = 21
SHEET_TITLE_ROWS = 3
SHEET_PART_ROWS = 10 * SHEET_PAGE_ROWS


def chunks(rows: list, size: int) -> list[list]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def sheet_chunks(rows: list) -> list[list]:
    """The sheet's rows cut into parts of SHEET_PART_ROWS, the first part SHEET_TITLE_ROWS
    shorter (the title takes their place on its first page)."""
    first = max(1, SHEET_PART_ROWS - SHEET_TITLE_ROWS)
    return [rows[:first], *chunks(rows[first:], SHEET_PART_ROWS)] if len(rows) > first else [rows]


def render_order(version: DocumentVersion) -> tuple[str, bytes]:
    """The order with the blank sheet for ink, as PDF/A-3b. Its sheet is rendered in
    `sheet_chunks` and joined: one WeasyPrint run over 10,000 rows held a worker at 1.1 GB, a
    part holds about 100 MB and gives it back before the next. An order of one part is one
    WeasyPrint run."""
    context = order_context(version)
    context["title_kind"], context["title_rest"] = _title_parts(version.title)
    rows = context.pop("rows")
    first, *rest = sheet_chunks(rows)
    css = columns_css(context["columns"])
    first_piece = {**context, "rows": first, "unnumbered": bool(rest)}
    whole = render_pdf(
        "pdf/order.html",
        first_piece,
        filename="",
        css=css + qr_css(context["verify_url"]),
        pdf_variant=ARCHIVAL,
    )
    act = _act_attachment(version)
    if not rest:
        return order_filename(version), attach(whole[1], *act) if act else whole[1]
    pieces = [whole[1]]
    for chunk in rest:
        part = {**context, "rows": chunk, "first_part": False, "unnumbered": True}
        pieces.append(
            render_pdf("pdf/sheet.html", part, filename="", css=css, pdf_variant=ARCHIVAL)[1]
        )
        gc.collect()  # WeasyPrint's boxes hold reference cycles: free them before the next part
    return order_filename(version), join_pdfs(pieces, number_from=2, attachments=act)


def _act_attachment(version: DocumentVersion) -> tuple[Attachment, ...]:
    """An act given as its own PDF travels inside its order (PDF/A-3: the source it was made
    from), so the archived order holds what staff read."""
    if not version.source_pdf:
        return ()
    with version.source_pdf.open("rb") as source:
        data = source.read()
    name = version.source_name or "документ.pdf"
    return (Attachment(name, data, "application/pdf", f"Текст документа: {name}", "/Source"),)


def render_sheet(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The whole sheet in one WeasyPrint run, nothing stored (benchmarks, previews; the portal
    stores it in parts, `sheet.py`)."""
    context = {**sheet_context(version, blank=blank), "first_part": True}
    return render_sheet_pdf(version, context, blank=blank)


def render_sheet_pdf(version: DocumentVersion, context: dict, *, blank: bool) -> tuple[str, bytes]:
    """The sheet, or a part of it, from a context of `sheet_context`'s shape, as PDF/A-3b; the
    first part carries the QR code of the verification page."""
    css = columns_css(context["columns"])
    if context.get("first_part"):
        css += qr_css(context["verify_url"])
    return render_pdf(
        "pdf/sheet.html",
        context,
        filename=sheet_filename(version, blank=blank),
        css=css,
        pdf_variant=ARCHIVAL,
    )


def verify_url(version: DocumentVersion) -> str:
    """The address of the version's verification page, absolute: what its QR code holds."""
    return settings.PORTAL_URL.rstrip("/") + reverse("version_verify", kwargs={"pk": version.pk})


# The QR code is 16 mm square, inside the 20 mm top margin. A raster of 8 pixels a module, set
# to that size by its resolution (and never smoothed): as vector shapes, its hundreds of squares
# would read as table rules to anyone (or any test) looking for the sheet's grid.
QR_MM = 16
QR_PIXELS_PER_MODULE = 8


def qr_css(url: str) -> str:
    """The document's QR code (a requisite of ГОСТ Р 7.0.97-2025) at the top right of its first
    page, in the margin, so the text does not move; it leads to the verification page."""
    code = segno.make(url, error="m")
    pixels = code.symbol_size(scale=QR_PIXELS_PER_MODULE, border=0)[0]
    image = code.png_data_uri(scale=QR_PIXELS_PER_MODULE, border=0)
    dpi = pixels / (QR_MM / 25.4)
    return (
        f'\n@page :first {{ @top-right {{ content: url("{image}"); '
        f"image-resolution: {dpi:.1f}dpi; image-rendering: pixelated; "
        "vertical-align: bottom; text-align: right; padding-bottom: 2mm; } }\n"
    )


# Reading the log back: the verification page compares a sheet's embedded log with the records.
LOG_NOT_A_PDF = "Это не PDF-файл. Загрузите лист ознакомления, сформированный порталом."
LOG_DAMAGED = "Файл повреждён или защищён паролем: его не удалось прочитать."
LOG_MISSING = (
    "В файле нет журнала подтверждений: загрузите лист ознакомления, сформированный порталом "
    "(не пустой бланк и не скан)."
)


def read_confirmation_log(pdf: bytes) -> dict:
    """The log embedded in a sheet made by the portal, as it was written; a Russian refusal for
    anything else."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not pdf.startswith(b"%PDF-"):
        raise PortalError(LOG_NOT_A_PDF, field="file")
    try:
        reader = PdfReader(io.BytesIO(pdf))
        if reader.is_encrypted:
            raise PortalError(LOG_DAMAGED, field="file")
        attached = reader.attachments.get(CONFIRMATION_LOG)
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise PortalError(LOG_DAMAGED, field="file") from exc
    if not attached:
        raise PortalError(LOG_MISSING, field="file")
    try:
        log = json.loads(attached[0].decode("utf-8"))
        log["confirmations"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PortalError(LOG_MISSING, field="file") from exc
    return log
