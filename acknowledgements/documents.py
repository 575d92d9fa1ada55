"""The approved order and the acknowledgement sheet: plain-data contexts, then PDFs."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import re
import zoneinfo
from dataclasses import asdict, dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from accounts.models import User
from cdt_portal.files import store_once
from cdt_portal.markup import render_markdown
from cdt_portal.pdf import join_pdfs, render_pdf

from .models import AckMethod, Acknowledgement, DocumentVersion, VersionStatus
from .selectors import counted_version_ids, readers

logger = logging.getLogger(__name__)


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


def sheet_rows(version: DocumentVersion, *, blank: bool = False) -> list[SheetRow]:
    """Staff asked to read the version, and anyone who has confirmed it, alphabetically."""
    # An editorial correction counts the acknowledgements of the version it corrects, each
    # with its own (original) date: the oldest first, so a later one wins.
    acks = {
        ack.person_id: ack
        for ack in Acknowledgement.objects.filter(version__in=counted_version_ids(version))
        .select_related("person", "version")
        .order_by("version__number")
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
                note = f"подтверждено в портале {at:%d.%m.%Y}{NBSP}{at:%H:%M}"
            if ack.version_id != version.pk:
                note = f"{note}; " if note else ""
                note += f"с редакцией{NBSP}{ack.version.number} (изменения редакционные)"
        rows.append(SheetRow(number, person.full_name, person.position, date, note))
    return rows


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
    return {**_common(version), "rows": rows, "columns": sheet_columns(rows)}


def order_context(version: DocumentVersion) -> dict:
    """The approved order: the stamp, the title block, the text, and the sheet for ink."""
    return {
        **sheet_context(version, blank=True),
        "first_part": True,
        "text_html": breakable_links(str(render_markdown(version.text))),
    }


def _title_parts(title: str) -> tuple[str, str]:
    kind, _, rest = title.partition(" ")
    return kind, unbroken(rest)


def order_filename(version: DocumentVersion) -> str:
    return f"Приказ № {version.order_number} от {version.order_date:%d.%m.%Y} — Положение.pdf"


def sheet_filename(version: DocumentVersion, *, blank: bool) -> str:
    suffix = " (бланк)" if blank else ""
    return f"Лист ознакомления — приказ № {version.order_number}{suffix}.pdf"


def _chunks(rows: list, size: int) -> list[list]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def render_order(version: DocumentVersion) -> tuple[str, bytes]:
    """The order with the blank sheet for ink, rendered SHEET_PART_ROWS rows at a time and
    joined: one WeasyPrint run over 10,000 rows held a worker at 1.1 GB, a part holds about
    100 MB and gives it back before the next."""
    context = order_context(version)
    context["title_kind"], context["title_rest"] = _title_parts(version.title)
    rows = context.pop("rows")
    first, *rest = _chunks(rows, SHEET_PART_ROWS)
    css = columns_css(context["columns"])
    first_piece = {**context, "rows": first, "unnumbered": True}
    pieces = [render_pdf("pdf/order.html", first_piece, filename="", css=css)[1]]
    for chunk in rest:
        part = {**context, "rows": chunk, "first_part": False, "unnumbered": True}
        pieces.append(render_pdf("pdf/sheet.html", part, filename="", css=css)[1])
        gc.collect()  # WeasyPrint's boxes hold reference cycles: free them before the next part
    return order_filename(version), join_pdfs(pieces, number_from=2)


def render_sheet(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The whole sheet in one WeasyPrint run, nothing stored (benchmarks, previews)."""
    context = {**sheet_context(version, blank=blank), "first_part": True}
    return _render_sheet_context(version, context, blank=blank)


def _render_sheet_context(version, context, *, blank) -> tuple[str, bytes]:
    return render_pdf(
        "pdf/sheet.html",
        context,
        filename=sheet_filename(version, blank=blank),
        css=columns_css(context["columns"]),
    )


# WeasyPrint lays out about 200 table rows a second here. A sheet is stored in parts of at most
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


# Part of every sheet key: raise it when what a sheet prints from the same rows changes (the
# rows' fields, the context's shape), so that no sheet stored before is served again.
SHEET_LAYOUT = 1


@dataclass(frozen=True)
class SheetLookup:
    """Where the stored sheet of a version is found, named by the version's and its
    organisation's revision counters (`DocumentVersion.sheet_revision`,
    `Organisation.people_revision`), which the services raise whenever they change what the
    sheet prints: finding an unchanged sheet builds none of its rows. The key's index file
    names the whole sheet stored for it (a hash of its content)."""

    version_id: int
    blank: bool
    filename: str
    key: str

    @property
    def job_key(self) -> str:
        return f"sheet-v{self.version_id}-{self.key}-{'blank' if self.blank else 'filled'}"

    @property
    def index_path(self) -> str:
        return f"{SHEET_FOLDER}/v{self.version_id}-key-{self.key}.txt"


@dataclass(frozen=True)
class SheetPlan(SheetLookup):
    """What the sheet of a version shows now, cut into parts, with where each part and the
    whole are stored. Every file name is a hash of the content it holds, so a stale file is
    never served and an unchanged one never rendered twice."""

    content_key: str = ""
    whole_path: str = ""
    parts: tuple[SheetPart, ...] = ()

    def missing_parts(self) -> list[SheetPart]:
        return [part for part in self.parts if not default_storage.exists(part.path)]


def sheet_lookup(
    version: DocumentVersion, *, blank: bool = False, fresh: bool = False
) -> SheetLookup:
    """The key of the sheet as `version` (loaded with its document's organisation) shows it:
    no query and no row built; `fresh` reads the counters from the database first (one
    query), for a version loaded a while ago."""
    if fresh:
        _fresh_counters(version)
    revisions = {
        "layout": SHEET_LAYOUT,
        "version": version.pk,
        "sheet_revision": version.sheet_revision,
        "people_revision": version.document.organisation.people_revision,
        "blank": blank,
    }
    return SheetLookup(
        version_id=version.pk,
        blank=blank,
        filename=sheet_filename(version, blank=blank),
        key=_content_key(revisions),
    )


def _fresh_counters(version: DocumentVersion) -> None:
    """The revision counters as the database has them now, onto `version` (one query): a plan
    reads them before its rows, so a key never names content older than itself."""
    version.sheet_revision, people_revision = DocumentVersion.objects.values_list(
        "sheet_revision", "document__organisation__people_revision"
    ).get(pk=version.pk)
    version.document.organisation.people_revision = people_revision


def _part_rows(count: int) -> int:
    """Rows per part: at most SHEET_PART_ROWS, and as many parts as keep every worker busy to
    the end (1,000 rows on 2 workers: 6 parts of 167 rows, 3 each, not 5 of 200, where one
    worker renders a third part while the other waits)."""
    workers = max(1, settings.HUEY.get("consumer", {}).get("workers", 1))
    parts = math.ceil(count / SHEET_PART_ROWS / workers) * workers
    return max(1, math.ceil(count / parts)) if count else SHEET_PART_ROWS


def sheet_plan(version: DocumentVersion, *, blank: bool = False) -> SheetPlan:
    """The whole sheet from every row (the jobs, the nightly cleanup): the key is read from the
    database first, then the rows, so the rows are at least as new as the key."""
    _fresh_counters(version)
    lookup = sheet_lookup(version, blank=blank)
    context = sheet_context(version, blank=blank)
    rows = context.pop("rows")
    chunks = _chunks(rows, _part_rows(len(rows)))
    content_key = _content_key({**context, "rows": rows})
    parts = []
    for index, chunk in enumerate(chunks):
        # A part does not know the page it starts on: the join numbers the pages, so parts
        # render independently of each other.
        part_context = {**context, "rows": chunk, "first_part": index == 0, "unnumbered": True}
        key = _content_key(part_context)
        parts.append(SheetPart(index, f"{SHEET_FOLDER}/v{version.pk}-p-{key}.pdf", part_context))
    return SheetPlan(
        version_id=lookup.version_id,
        blank=blank,
        filename=lookup.filename,
        key=lookup.key,
        content_key=content_key,
        whole_path=f"{SHEET_FOLDER}/v{version.pk}-all-{content_key}.pdf",
        parts=tuple(parts),
    )


def _read(path: str) -> bytes | None:
    if not default_storage.exists(path):
        return None
    with default_storage.open(path, "rb") as stored:
        return stored.read()


def stored_content_key(lookup: SheetLookup) -> str | None:
    """The content key of the whole sheet stored for `lookup`'s key, or None."""
    index = _read(lookup.index_path)
    return index.decode().strip() if index else None


def stored_sheet_name(lookup: SheetLookup) -> str | None:
    """Where the whole sheet is stored for exactly this content, when it is: a plan names its
    content, a lookup finds it through its key's index."""
    if isinstance(lookup, SheetPlan):
        name = lookup.whole_path
    else:
        content_key = stored_content_key(lookup)
        if content_key is None:
            return None
        name = f"{SHEET_FOLDER}/v{lookup.version_id}-all-{content_key}.pdf"
    return name if default_storage.exists(name) else None


def stored_sheet(lookup: SheetLookup) -> bytes | None:
    """The whole sheet stored for exactly this content, or None."""
    name = stored_sheet_name(lookup)
    return _read(name) if name else None


def store_whole(plan: SheetPlan, whole: bytes | None = None) -> None:
    """Store the whole sheet (unless it is there) and name it in its key's index. The key was
    read before the rows, so the index never points to content older than the key."""
    if whole is not None:
        store_once(plan.whole_path, whole)
    store_once(plan.index_path, plan.content_key.encode())


def render_sheet_part(version: DocumentVersion, part: SheetPart, *, blank: bool) -> bytes:
    return _render_sheet_context(version, part.context, blank=blank)[1]


def join_sheet(plan: SheetPlan) -> bytes:
    """The stored parts joined in order and numbered."""
    parts = []
    for part in plan.parts:
        with default_storage.open(part.path, "rb") as stored:
            parts.append(stored.read())
    return join_pdfs(parts, number_from=2)


def sheet_pdf(version: DocumentVersion, *, blank: bool = False) -> tuple[str, bytes]:
    """The sheet built in this process, part by part (benchmarks, the order job's peers, tests):
    the same parts and the same stored whole the sheet jobs write."""
    plan = sheet_plan(version, blank=blank)
    whole = stored_sheet(plan)
    if whole is None:
        for part in plan.missing_parts():
            store_once(part.path, render_sheet_part(version, part, blank=blank))
        whole = join_sheet(plan)
    store_whole(plan, whole)
    return plan.filename, whole


def referenced_sheet_paths() -> set[str]:
    """Every stored sheet file the current content of a version names (filled and blank), and
    the index of its current key: what the nightly cleanup keeps (onboarding/maintenance.py)."""
    paths: set[str] = set()
    versions = DocumentVersion.objects.filter(
        status__in=[VersionStatus.APPROVED, VersionStatus.SUPERSEDED]
    ).select_related("document__organisation")
    for version in versions:
        for blank in (False, True):
            plan = sheet_plan(version, blank=blank)
            paths.update((plan.whole_path, plan.index_path))
            stored = stored_content_key(plan)
            if stored is not None and stored != plan.content_key:
                # The recount disagrees with the key: a change that bypassed the services (the
                # Django admin, a shell). The next print builds the sheet again.
                logger.warning("Sheet key %s of version %s is stale", plan.key, version.pk)
                default_storage.delete(plan.index_path)
            paths.update(part.path for part in plan.parts)
    return paths
