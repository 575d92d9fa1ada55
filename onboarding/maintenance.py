"""Housekeeping run by periodic tasks that changes no row: removing stored sheet files that
nothing will serve again. (Row changes, such as expiring abandoned imports, are services.)

Sheet parts and whole sheets are stored under `documents/sheets/` with names made of a hash of
their content (`acknowledgements.documents.SheetPlan`), so an old file is never served for new
content; it only takes space. A file is removed when it is older than a day and the current
content of no version names it (`acknowledgements.documents.referenced_sheet_paths`); a
removed part that is wanted after all is rendered again by the next sheet job.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from django.core.files.storage import default_storage
from django.utils import timezone

from acknowledgements.documents import referenced_sheet_paths

logger = logging.getLogger(__name__)

SHEET_FOLDER = "documents/sheets"


def _files(folder: str) -> Iterator[str]:
    try:
        folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from _files(f"{folder}/{sub}")


def remove_unreferenced_sheet_files(*, now: dt.datetime | None = None) -> list[str]:
    """Remove old sheet files no current content names; idempotent (a second run finds none)."""
    now = now or timezone.now()
    keep = set(referenced_sheet_paths())
    # A day's grace: a part being rendered right now is not referenced yet.
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
