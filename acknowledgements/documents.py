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

from .models import AckMethod, Acknowledgement, DocumentVersion, VersionStatus
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
# this many rows, each rendered by its own job (in parallel on as many workers as there are),
# so one new acknowledgement re-renders one part, not the whole sheet.
SHEET_PART_ROWS = 200
SHEET_FOLDER = "documents/sheets"


def _content_key(data: dict) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]


@dataclass(frozen=True)
class SheetPart:
    index: int
    path: str
    context: dict


@dataclass(frozen=True)
class SheetPlan:
    """What the sheet of a version shows now, cut into parts, with where each part and the
    whole are stored. Every name is a hash of the content it holds, so a stale file is never
    served and an unchanged one never rendered twice."""

    version_id: int
    blank: bool
    filename: str
    content_key: str
    whole_path: str
    parts: tuple[SheetPart, ...]

    @property
    def job_key(self) -> str:
        return f"sheet-v{self.version_id}-{self.content_key}-{'blank' if self.blank else 'filled'}"

    def missing_parts(self) -> list[SheetPart]:
        return [part for part in self.parts if not default_storage.exists(part.path)]


def sheet_plan(version: DocumentVersion, *, blank: bool = False) -> SheetPlan:
    context = sheet_context(version, blank=blank)
    rows = context.pop("rows")
    chunks = [rows[i : i + SHEET_PART_ROWS] for i in range(0, len(rows), SHEET_PART_ROWS)] or [[]]
    content_key = _content_key({**context, "rows": rows})
    parts = []
    for index, chunk in enumerate(chunks):
        # A part does not know the page it starts on: the join numbers the pages, so parts
        # render independently of each other.
        part_context = {**context, "rows": chunk, "first_part": index == 0, "unnumbered": True}
        key = _content_key(part_context)
        parts.append(SheetPart(index, f"{SHEET_FOLDER}/v{version.pk}-p-{key}.pdf", part_context))
    return SheetPlan(
        version_id=version.pk,
        blank=blank,
        filename=sheet_filename(version, blank=blank),
        content_key=content_key,
        whole_path=f"{SHEET_FOLDER}/v{version.pk}-all-{content_key}.pdf",
        parts=tuple(parts),
    )


def stored_sheet(plan: SheetPlan) -> bytes | None:
    """The whole sheet, when it is stored for exactly this content."""
    if not default_storage.exists(plan.whole_path):
        return None
    with default_storage.open(plan.whole_path, "rb") as stored:
        return stored.read()


def store_once(path: str, content: bytes) -> None:
    """Store `content` under `path` unless a file is there already. Two workers that raced to
    the same name leave one file: the storage renames the loser's copy, which is removed."""
    if default_storage.exists(path):
        return
    saved = default_storage.save(path, ContentFile(content))
    if saved != path:
        default_storage.delete(saved)


def render_sheet_part(version: DocumentVersion, part: SheetPart, *, blank: bool) -> bytes:
    return _render_sheet_context(version, part.context, blank=blank)[1]


def number_pages(pdf: bytes) -> bytes:
    """Page numbers at the top centre from page 2 (ГОСТ Р 7.0.97), stamped onto the joined
    sheet from one WeasyPrint run of empty pages with the same page box."""
    reader = PdfReader(io.BytesIO(pdf))
    count = len(reader.pages)
    if count < 2:
        return pdf
    _, numbers = render_pdf("pdf/sheet_numbers.html", {"pages": range(count)}, filename="")
    stamps = PdfReader(io.BytesIO(numbers)).pages
    writer = PdfWriter()
    writer.append(reader)
    for page, stamp in zip(writer.pages[1:], stamps[1:], strict=True):
        page.merge_page(stamp)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def join_sheet(plan: SheetPlan) -> bytes:
    """The stored parts joined in order and numbered."""
    parts = []
    for part in plan.parts:
        with default_storage.open(part.path, "rb") as stored:
            parts.append(stored.read())
    return number_pages(join_pdfs(parts))


def sheet_pdf(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The sheet built in this process, part by part (benchmarks, the order job's peers, tests):
    the same parts and the same stored whole the sheet jobs write."""
    plan = sheet_plan(version, blank=blank)
    whole = stored_sheet(plan)
    if whole is None:
        for part in plan.missing_parts():
            store_once(part.path, render_sheet_part(version, part, blank=blank))
        whole = join_sheet(plan)
        store_once(plan.whole_path, whole)
    return plan.filename, whole


def join_pdfs(parts: list[bytes]) -> bytes:
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def referenced_sheet_paths() -> set[str]:
    """Every stored sheet file the current content of a version names (filled and blank): what
    the nightly cleanup keeps (onboarding/maintenance.py)."""
    paths: set[str] = set()
    versions = DocumentVersion.objects.filter(
        status__in=[VersionStatus.APPROVED, VersionStatus.SUPERSEDED]
    ).select_related("document__organisation")
    for version in versions:
        for blank in (False, True):
            plan = sheet_plan(version, blank=blank)
            paths.add(plan.whole_path)
            paths.update(part.path for part in plan.parts)
    return paths
