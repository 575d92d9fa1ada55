"""Storing a generated file so that it is there whole or not at all.

A worker killed while it writes must never leave a truncated file under the final name: the
name is what says «stored» (a sheet found by its content key, an order by its version), so a
half-written PDF would be served, or joined, for good (seen in tests/jobs/test_stress.py's
kills). The content is written to a temporary name in the same folder, flushed, then linked
to the final name, which either appears complete or, when another worker got there first,
is left as that worker stored it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage


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
