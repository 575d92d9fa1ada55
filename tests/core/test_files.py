"""A generated file is stored whole or not at all, once."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from cdt_portal import files, tasks
from tests.killed import killed_at


def test_a_file_is_stored_once_with_the_upload_modes(settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
    assert files.store_once("documents/sheets/a.pdf", b"%PDF first") is True
    assert files.store_once("documents/sheets/a.pdf", b"%PDF second") is False
    path = Path(default_storage.path("documents/sheets/a.pdf"))
    assert path.read_bytes() == b"%PDF first"
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o750"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.pdf"]


def test_a_write_that_fails_leaves_no_file_at_all(monkeypatch):
    """A write that fails half-way (a full disk): the final name never appears, so nothing
    takes a truncated file for the stored one, and the temporary file is removed."""
    real_fsync = os.fsync

    def dies(fd):
        raise OSError("the worker was killed")

    monkeypatch.setattr(files.os, "fsync", dies)
    with pytest.raises(OSError):
        files.store_once("documents/sheets/b.pdf", b"%PDF" + b"x" * 100_000)
    monkeypatch.setattr(files.os, "fsync", real_fsync)
    folder = Path(default_storage.path("documents/sheets"))
    assert list(folder.iterdir()) == []
    assert files.store_once("documents/sheets/b.pdf", b"%PDF whole") is True
    assert Path(default_storage.path("documents/sheets/b.pdf")).read_bytes() == b"%PDF whole"


def killed_while_writing(name: str) -> None:
    """A child process stores `name` and is killed after its content is written and flushed,
    before the final name is linked: what a killed worker leaves."""

    def store(reached):
        files.os.fsync = lambda fd: reached()
        files.store_once(name, b"%PDF" + b"x" * 10_000)

    killed_at(store)


def test_a_write_killed_outright_leaves_only_a_temporary_file_the_sweep_removes():
    name = "documents/orders/order-1-2.pdf"
    killed_while_writing(name)
    folder = Path(default_storage.path("documents/orders"))
    (left,) = folder.iterdir()
    assert left.name.startswith(".order-1-2.pdf.") and left.name.endswith(".partial")
    assert not default_storage.exists(name)
    assert left.stat().st_size == 10_004  # written in full; only the name was never linked

    # Stored by the job's next attempt; the sweep leaves a write less than an hour old alone
    # (it may be going on), and removes it after.
    assert files.store_once(name, b"%PDF whole") is True
    assert files.remove_stale_partials() == []
    later = timezone.now() + files.STALE_AFTER + dt.timedelta(seconds=1)
    assert files.remove_stale_partials(now=later) == [f"documents/orders/{left.name}"]
    assert sorted(p.name for p in folder.iterdir()) == ["order-1-2.pdf"]
    assert default_storage.open(name).read() == b"%PDF whole"
    assert files.remove_stale_partials(now=later) == []


def test_the_sweep_removes_only_old_temporary_files_of_stored_writes(settings):
    root = Path(settings.MEDIA_ROOT)
    old = "documents/sheets/.v1-all-ab.pdf.0123456789ab.partial"
    kept = [
        "documents/sheets/.v1-all-cd.pdf.ba9876543210.partial",  # written a minute ago
        "documents/acts/.notes.partial",  # not a name store_once gives
        "documents/acts/ab.pdf.0123456789ab.partial",  # no leading dot
        "invitations/slips/x.pdf",
    ]
    hour_ago = (timezone.now() - dt.timedelta(minutes=61)).timestamp()
    for name in [old, *kept]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF")
        os.utime(path, (hour_ago, hour_ago))
    minute_ago = (timezone.now() - dt.timedelta(minutes=1)).timestamp()
    os.utime(root / kept[0], (minute_ago, minute_ago))
    # Run by the nightly periodic task.
    tasks.remove_unfinished_writes.call_local()
    assert not (root / old).exists()
    assert [name for name in kept if (root / name).exists()] == kept
