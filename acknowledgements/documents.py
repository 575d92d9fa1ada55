"""The approved order and the acknowledgement sheet: plain-data contexts, then PDFs."""

from __future__ import annotations

import hashlib
import io
import json
import zoneinfo
from dataclasses import asdict, dataclass

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from pypdf import PdfReader, PdfWriter

from accounts.models import User
from cdt_portal.markup import render_markdown
from cdt_portal.pdf import render_pdf

from .models import AckMethod, Acknowledgement, DocumentVersion
from .selectors import readers


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


def sheet_title(version: DocumentVersion) -> str:
    title = version.title.strip()
    if title.startswith("Положение"):
        return "Лист ознакомления с Положением" + title[len("Положение") :]
    return f"Лист ознакомления с документом «{title}»"


def sheet_rows(version: DocumentVersion, *, blank: bool = False) -> list[SheetRow]:
    """Staff asked to read the version, and anyone who has confirmed it, alphabetically."""
    acks = {
        ack.person_id: ack
        for ack in Acknowledgement.objects.filter(version=version).select_related("person")
    }
    people = {p.pk: p for p in readers(version.document.organisation)}
    people.update({pk: ack.person for pk, ack in acks.items()})
    zone = zoneinfo.ZoneInfo(version.document.organisation.time_zone)
    rows = []
    for number, person in enumerate(sorted(people.values(), key=russian_sort_key), start=1):
        ack = None if blank else acks.get(person.pk)
        date = note = ""
        if ack is not None:
            date = f"{ack.acknowledged_on:%d.%m.%Y}"
            if ack.method == AckMethod.ONLINE:
                at = timezone.localtime(ack.recorded_at, zone)
                note = f"подтверждено в портале {at:%d.%m.%Y %H:%M}"
        rows.append(SheetRow(number, person.full_name, person.position, date, note))
    return rows


def _common(version: DocumentVersion) -> dict:
    organisation = version.document.organisation
    return {
        "organisation": {
            "full_name": organisation.full_name,
            "short_name": organisation.short_name,
        },
        "version": {
            "title": version.title,
            "order_label": version.order_label,
            "order_number": version.order_number,
            "order_date": f"{version.order_date:%d.%m.%Y}",
            "approver_position": version.approver_position,
            "approver_name": version.approver_name,
            "number": version.number,
        },
        "sheet_title": sheet_title(version),
    }


def sheet_context(version: DocumentVersion, *, blank: bool = False) -> dict:
    return {**_common(version), "rows": [asdict(r) for r in sheet_rows(version, blank=blank)]}


def order_context(version: DocumentVersion) -> dict:
    """The approved order: the stamp, the title block, the text, and the sheet for ink."""
    return {
        **sheet_context(version, blank=True),
        "first_part": True,
        "text_html": str(render_markdown(version.text)),
    }


def _title_parts(title: str) -> tuple[str, str]:
    kind, _, rest = title.partition(" ")
    return kind, rest


def order_filename(version: DocumentVersion) -> str:
    return f"Приказ № {version.order_number} от {version.order_date:%d.%m.%Y} — Положение.pdf"


def sheet_filename(version: DocumentVersion, *, blank: bool) -> str:
    suffix = " (бланк)" if blank else ""
    return f"Лист ознакомления — приказ № {version.order_number}{suffix}.pdf"


def render_order(version: DocumentVersion) -> tuple[str, bytes]:
    context = order_context(version)
    context["title_kind"], context["title_rest"] = _title_parts(version.title)
    return render_pdf("pdf/order.html", context, filename=order_filename(version))


def render_sheet(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The whole sheet in one WeasyPrint run, nothing stored (benchmarks, previews)."""
    context = {**sheet_context(version, blank=blank), "first_part": True}
    return _render_sheet_context(version, context, blank=blank)


def _render_sheet_context(version, context, *, blank, start_page: int = 1) -> tuple[str, bytes]:
    return render_pdf(
        "pdf/sheet.html",
        context,
        filename=sheet_filename(version, blank=blank),
        start_page=start_page,
    )


# WeasyPrint lays out about a hundred table rows a second here. A sheet is stored in parts of
# this many rows, so one new acknowledgement re-renders one part, not the whole sheet.
SHEET_PART_ROWS = 200


def _content_key(data: dict) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]


def sheet_pdf(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The sheet, re-rendered only where what it shows has changed (an acknowledgement, a name).

    Each part of `SHEET_PART_ROWS` rows is stored under a hash of its own content and of the
    page it starts on, so a stale part is never served and an unchanged one is never rendered
    twice; the parts are joined into one PDF with continuous page numbers.
    """
    context = sheet_context(version, blank=blank)
    rows = context.pop("rows")
    filename = sheet_filename(version, blank=blank)
    chunks = [rows[i : i + SHEET_PART_ROWS] for i in range(0, len(rows), SHEET_PART_ROWS)] or [[]]
    whole = f"documents/sheets/v{version.pk}-all-{_content_key({**context, 'rows': rows})}.pdf"
    if len(chunks) > 1 and default_storage.exists(whole):
        with default_storage.open(whole, "rb") as stored:
            return filename, stored.read()
    parts: list[bytes] = []
    start_page = 1
    for index, chunk in enumerate(chunks):
        part_context = {**context, "rows": chunk, "first_part": index == 0}
        key = _content_key({**part_context, "start_page": start_page})
        path = f"documents/sheets/v{version.pk}-{key}.pdf"
        if default_storage.exists(path):
            with default_storage.open(path, "rb") as stored:
                pdf = stored.read()
        else:
            _, pdf = _render_sheet_context(
                version, part_context, blank=blank, start_page=start_page
            )
            default_storage.save(path, ContentFile(pdf))
        parts.append(pdf)
        if len(chunks) > 1:
            start_page += len(PdfReader(io.BytesIO(pdf)).pages)
    if len(parts) == 1:
        return filename, parts[0]
    joined = join_pdfs(parts)
    default_storage.save(whole, ContentFile(joined))
    return filename, joined


def join_pdfs(parts: list[bytes]) -> bytes:
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()
