"""Storing a generated file so that it is there whole or not at all.

A worker killed while it writes must never leave a truncated file under the final name: the
name is what says «stored» (a sheet found by its content key, an order by its version), so a
half-written PDF would be served, or joined, for good (seen in tests/jobs/test_stress.py's
kills). The content is written to a temporary name in the same folder, flushed, then linked
to the final name, which either appears complete or, when another worker got there first,
is left as that worker stored it.

A process killed outright (SIGKILL, the OOM killer, a power cut) skips the `finally` that removes
the temporary file. Nothing names it, so nothing serves it; the nightly sweep
(`remove_stale_partials`, run by `cdt_portal.tasks`) removes it once it is an hour old
(tests/core/test_files.py, and tests/jobs/test_stress.py under real kills).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

logger = logging.getLogger(__name__)

# `.<final name>.<12 hex digits>.partial`, beside the final name (group 1).
PARTIAL = re.compile(r"\.(.+)\.[0-9a-f]{12}\.partial")
# Far longer than any write takes, so a write still going on (on this worker or another
# machine's) is never removed under it.
STALE_AFTER = dt.timedelta(hours=1)


def store_once(name: str, content: bytes) -> bool:
    """Store `content` under `name` unless something is there already; True when this call
    stored it. The portal's storage is the file system (docs/deploy.md: MEDIA_ROOT, shared by
    every app server)."""
    final = Path(default_storage.path(name))
    if final.exists():
        return False
    _make_folders(final.parent)
    temporary = final.with_name(f".{final.name}.{secrets.token_hex(6)}.partial")
    try:
        with open(temporary, "xb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        if settings.FILE_UPLOAD_PERMISSIONS is not None:
            os.chmod(temporary, settings.FILE_UPLOAD_PERMISSIONS)
        try:
            os.link(temporary, final)  # fails, never overwrites, if the name is taken
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _make_folders(folder: Path) -> None:
    mode = settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        if mode is not None:
            os.chmod(path, mode)


def remove_stale_partials(*, now: dt.datetime | None = None) -> list[str]:
    """Remove the temporary files of `store_once` writes that a killed process never finished,
    anywhere under MEDIA_ROOT, once older than `STALE_AFTER`; the storage names removed, sorted.
    Idempotent: a second run finds nothing. Changes no row."""
    root = Path(default_storage.location)
    cutoff = ((now or timezone.now()) - STALE_AFTER).timestamp()
    removed = []
    for folder, _, names in os.walk(root):
        for name in names:
            if not PARTIAL.fullmatch(name):
                continue
            path = Path(folder) / name
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed.append(str(path.relative_to(root)))
            except FileNotFoundError:  # removed meanwhile by another sweep
                continue
    if removed:
        logger.warning("Removed %d unfinished writes of killed processes", len(removed))
    return sorted(removed)
