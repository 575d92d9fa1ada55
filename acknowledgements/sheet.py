"""The acknowledgement sheet, from «Сформировать» to the stored file, and its nightly cleanup.

Read top to bottom, this is the whole route; the job engine is `cdt_portal.jobs`, and what a
sheet prints (its rows, columns and title) is `documents.sheet_context`.

1. The key. A stored sheet is found by a key made of two revision counters: the version's
   (`DocumentVersion.sheet_revision`, raised only by `sheet_changed`, which the services call
   whenever they change what the sheet prints of the version or of its acknowledgements) and
   the organisation's (`Organisation.people_revision`, the organisation's own counter, raised by
   accounts for names, positions, roles and activation). The page reads the key without
   building a row (`sheet_lookup`) and serves the whole sheet stored for it (`stored_sheet_name`).
2. «Сформировать» (`sheet_prepare`): a job for the key, unless the sheet is stored already.
3. The job (`sheet_build_task`): the plan (`sheet_plan`: every row, cut into parts; each part and
   the whole named by a hash of its content), then one part task per part not stored yet.
4. A part (`sheet_part_task`): rendered from the rows it carries and stored once; the task that
   reports the last part joins.
5. The join (`sheet_join`): claimed once, the parts joined and numbered, the whole stored and
   named in its key's index; the job is done with the sheet's address.
6. The cleanup (`remove_unreferenced_sheet_files`, nightly from `tasks.py`): every key recounted,
   and the files no current content names removed.

Every file name is a hash of the content it holds, so a stale file is never served and an
unchanged one never rendered twice; every step may run again (a requeued job, a second part
task) and stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from cdt_portal.files import store_once
from cdt_portal.jobs import (
    CONTINUES,
    job_advance,
    job_finish,
    job_part_task,
    job_progress,
    job_task,
    queue_part,
    start_job,
)
from cdt_portal.models import Job
from cdt_portal.pdf import attach, join_pdfs

from . import documents
from .models import TRANSITIONS, DocumentVersion

logger = logging.getLogger(__name__)

SHEET_FOLDER = "documents/sheets"

# Part of every sheet key: raise it when what a sheet prints from the same rows changes (the
# rows' fields, the context's shape), so that no sheet stored before is served again.
SHEET_LAYOUT = 2  # 2: parts by rows, not workers; PDF/A-3b, numbers in the embedded serif


# --- 1. The key --------------------------------------------------------------------------------


def sheet_changed(version_id: int) -> None:
    """What the version's sheet prints has changed (in the caller's transaction, whose audit
    entry records the change): the only place the version's revision is raised, so its stored
    sheet is looked up under a new key from now on."""
    DocumentVersion.objects.filter(pk=version_id).update(sheet_revision=F("sheet_revision") + 1)


def _content_key(data: dict) -> str:
    return hashlib.sha256(
        json.dumps(data, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]


@dataclass(frozen=True)
class SheetLookup:
    """Where the stored sheet of a version is found, named by the two revision counters: finding
    an unchanged sheet builds none of its rows. The key's index file names the whole sheet
    stored for it (a hash of its content)."""

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
        filename=documents.sheet_filename(version, blank=blank),
        key=_content_key(revisions),
    )


def _fresh_counters(version: DocumentVersion) -> None:
    """The revision counters as the database has them now, onto `version` (one query): a plan
    reads them before its rows, so a key never names content older than itself."""
    version.sheet_revision, people_revision = DocumentVersion.objects.values_list(
        "sheet_revision", "document__organisation__people_revision"
    ).get(pk=version.pk)
    version.document.organisation.people_revision = people_revision


def _whole_path(version_id: int, content_key: str) -> str:
    return f"{SHEET_FOLDER}/v{version_id}-all-{content_key}.pdf"


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
    content, a lookup finds it through its key's index. What the page serves."""
    if isinstance(lookup, SheetPlan):
        name = lookup.whole_path
    else:
        content_key = stored_content_key(lookup)
        if content_key is None:
            return None
        name = _whole_path(lookup.version_id, content_key)
    return name if default_storage.exists(name) else None


def stored_sheet(lookup: SheetLookup) -> bytes | None:
    """The whole sheet stored for exactly this content, or None."""
    name = stored_sheet_name(lookup)
    return _read(name) if name else None


# --- 2. «Сформировать» ------------------------------------------------------------------------


def sheet_prepare(*, version: DocumentVersion, blank: bool, actor: User | None) -> Job | None:
    """Start building the sheet as it is now, or find the job already building it; None when
    the whole sheet is stored already. The job's parts run in parallel (`sheet_build`)."""
    version.require("print_sheet")
    # Found by its key, without building its rows; the job builds them (and counts the parts).
    lookup = sheet_lookup(version, blank=blank, fresh=True)
    if stored_sheet(lookup) is not None:
        return None
    return start_job(
        task=sheet_build_task,
        key=lookup.job_key,
        kind="sheet",
        title="Лист ознакомления" + (" (бланк)" if blank else ""),
        organisation_id=version.document.organisation_id,
        actor=actor,
        args=(version.pk, blank),
        # Nothing is stored for this key, so a job done for it left nothing to serve (its files
        # removed, or its key's index dropped by the nightly recount): build it again.
        again_if_done=True,
    )


# --- 3. The job: the plan, then a task per missing part ---------------------------------------


# The sheet's job is done when the last part is joined, not when its first task returns.
@job_task()
def sheet_build_task(job_id: int, version_id: int, blank: bool) -> object:
    return sheet_build(job_id=job_id, version_id=version_id, blank=blank)


def sheet_build(*, job_id: int, version_id: int, blank: bool) -> object:
    """The sheet job's first step: queue one part task per part not stored yet (each beats
    for the job while it renders); when none is missing, join at once. The job stays running
    until the join marks it done (`CONTINUES`). Running it again (a requeued job) clears the
    join's claim and queues only the parts still missing, under the new attempt."""
    Job.objects.filter(pk=job_id).update(message="")
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    plan = sheet_plan(version, blank=blank)
    missing = plan.missing_parts()
    job_progress(job_id, len(plan.parts) - len(missing), len(plan.parts))
    # Each part carries its own rows: a part task never rebuilds the whole sheet's plan, which
    # at 10,000 staff costs more than rendering the part's 200 rows.
    for part in missing:
        queue_part(sheet_part_task, version_id, blank, part.path, part.context)
    if not missing:
        sheet_join(job_id=job_id, version_id=version_id, blank=blank)
    return CONTINUES


@dataclass(frozen=True)
class SheetPart:
    index: int
    path: str
    context: dict


@dataclass(frozen=True)
class SheetPlan(SheetLookup):
    """What the sheet of a version shows now, cut into parts, with where each part and the
    whole are stored."""

    content_key: str = ""
    whole_path: str = ""
    parts: tuple[SheetPart, ...] = ()

    def missing_parts(self) -> list[SheetPart]:
        return [part for part in self.parts if not default_storage.exists(part.path)]


def sheet_plan(version: DocumentVersion, *, blank: bool = False) -> SheetPlan:
    """The whole sheet from every row (the job, the join, the nightly recount): the key is read
    from the database first, then the rows, so the rows are at least as new as the key."""
    _fresh_counters(version)
    lookup = sheet_lookup(version, blank=blank)
    context = documents.sheet_context(version, blank=blank)
    rows = context.pop("rows")
    # Cut by the rows alone (`documents.sheet_chunks`): the same rows give the same parts, and
    # so the same pages, whatever the server's number of workers.
    chunks = documents.sheet_chunks(rows)
    content_key = _content_key({**context, "rows": rows})
    parts = []
    for index, chunk in enumerate(chunks):
        # A part of several does not know the page it starts on: the join numbers the pages, so
        # parts render independently of each other. A sheet of one part is numbered by
        # WeasyPrint and stored as it is.
        part_context = {
            **context,
            "rows": chunk,
            "first_part": index == 0,
            "unnumbered": len(chunks) > 1,
            "footnotes": context["footnotes"] if index == len(chunks) - 1 else [],
        }
        key = _content_key(part_context)
        parts.append(SheetPart(index, f"{SHEET_FOLDER}/v{version.pk}-p-{key}.pdf", part_context))
    return SheetPlan(
        version_id=lookup.version_id,
        blank=blank,
        filename=lookup.filename,
        key=lookup.key,
        content_key=content_key,
        whole_path=_whole_path(version.pk, content_key),
        parts=tuple(parts),
    )


# --- 4. A part ----------------------------------------------------------------------------------


@job_part_task()
def sheet_part_task(job_id: int, version_id: int, blank: bool, path: str, context: dict) -> None:
    sheet_part_store(job_id=job_id, version_id=version_id, blank=blank, path=path, context=context)


def sheet_part_store(
    *, job_id: int, version_id: int, blank: bool, path: str, context: dict
) -> None:
    """One part of the sheet, rendered from the rows it was given and stored once (its path is
    named by a hash of those rows). The task that reports the last part joins."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    if not default_storage.exists(path):
        store_once(path, render_part(version, SheetPart(0, path, context), blank=blank))
    job_advance(job_id)
    job = Job.objects.filter(pk=job_id).values("done", "total").first()
    # Only when every part has reported is the plan (and what is missing) looked at again; if
    # the sheet changed meanwhile, the join builds what it shows now.
    if job is not None and job["done"] >= job["total"]:
        sheet_join(job_id=job_id, version_id=version_id, blank=blank)


def render_part(version: DocumentVersion, part: SheetPart, *, blank: bool) -> bytes:
    """One part as a PDF, from the rows it carries (one of several is unnumbered: see the join)."""
    return documents.render_sheet_pdf(version, part.context, blank=blank)[1]


# --- 5. The join, and storing the whole ------------------------------------------------------


# The join's claim on its job, shown to the person as what the job is doing.
SHEET_JOINING = "соединяются части листа"


def sheet_join(*, job_id: int, version_id: int, blank: bool) -> bool:
    """Join the parts once every part task has reported, and finish the job; False when it is
    not this caller's to do. The last two parts may finish together: one conditional UPDATE of
    the job row lets exactly one of them claim the join (a committed marker, so no lock is held
    while the parts are joined). A requeued job clears the marker (`sheet_build`)."""
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=version_id)
    claimed = (
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING)
        .exclude(message=SHEET_JOINING)
        .update(message=SHEET_JOINING)
    )
    if not claimed:
        return False
    plan = sheet_plan(version, blank=blank)
    # Someone confirmed while the parts rendered: the parts that changed are rendered here.
    for part in plan.missing_parts():
        store_once(part.path, render_part(version, part, blank=blank))
    # Stored under the key read before the rows (so the sheet may be newer than its key, never
    # older); a sheet changed since the job started is found under its new key.
    _store_whole(plan, None if default_storage.exists(plan.whole_path) else _joined(plan, version))
    url = reverse("version_sheet_pdf", kwargs={"pk": version_id})
    return job_finish(
        job_id=job_id,
        result_url=url + ("?blank=1" if blank else ""),
        done=len(plan.parts),
        total=len(plan.parts),
    )


def _joined(plan: SheetPlan, version: DocumentVersion) -> bytes:
    """The stored parts joined in order, their pages numbered from the second (a sheet of one
    part is numbered by WeasyPrint), with the log of its confirmations embedded (not in the
    blank sheet, which shows none)."""
    parts = []
    for part in plan.parts:
        with default_storage.open(part.path, "rb") as stored:
            parts.append(stored.read())
    log = () if plan.blank else (documents.confirmation_log_attachment(version),)
    if len(parts) == 1:
        return attach(parts[0], *log) if log else parts[0]
    return join_pdfs(parts, number_from=2, attachments=log)


def _store_whole(plan: SheetPlan, whole: bytes | None) -> None:
    """Store the whole sheet (unless it is there) and name it in its key's index. The key was
    read before the rows, so the index never points to content older than the key."""
    if whole is not None:
        store_once(plan.whole_path, whole)
    store_once(plan.index_path, plan.content_key.encode())


# --- 6. The nightly cleanup ------------------------------------------------------------------


def remove_unreferenced_sheet_files(*, now: dt.datetime | None = None) -> list[str]:
    """Remove the stored sheet files that nothing will serve again: older than a day (a part
    being rendered right now is not named yet) and named by the current content of no version.
    A removed part that is wanted after all is rendered again by the next sheet job. Idempotent:
    a second run finds nothing. Changes no row."""
    now = now or timezone.now()
    keep = _referenced_paths()
    cutoff = now - dt.timedelta(days=1)
    removed = []
    for path in list(_files(SHEET_FOLDER)):
        if path in keep:
            continue
        try:
            modified = default_storage.get_modified_time(path)
        except (FileNotFoundError, NotImplementedError):
            continue
        if timezone.is_naive(modified):
            modified = timezone.make_aware(modified)
        if modified < cutoff:
            default_storage.delete(path)
            removed.append(path)
    if removed:
        logger.info("Removed %d old sheet files", len(removed))
    return removed


def _referenced_paths() -> set[str]:
    """Every stored sheet file the current content of a version names (filled and blank), and
    the index of its current key. The recount: a key whose index names other content than its
    rows build now is dropped (a change that bypassed the services, the Django admin or a
    shell, left the key as it was); the next print builds the sheet again."""
    paths: set[str] = set()
    versions = DocumentVersion.objects.filter(
        status__in=TRANSITIONS["print_sheet"].sources
    ).select_related("document__organisation")
    for version in versions:
        for blank in (False, True):
            plan = sheet_plan(version, blank=blank)
            paths.update((plan.whole_path, plan.index_path))
            stored = stored_content_key(plan)
            if stored is not None and stored != plan.content_key:
                logger.warning("Sheet key %s of version %s is stale", plan.key, version.pk)
                default_storage.delete(plan.index_path)
            paths.update(part.path for part in plan.parts)
    return paths


def _files(folder: str) -> Iterator[str]:
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _files(f"{folder}/{sub}")
