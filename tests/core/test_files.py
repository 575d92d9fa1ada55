"""A generated file is stored whole or not at all, once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from cdt_portal import files


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


def test_a_write_cut_short_leaves_no_file_under_the_name(monkeypatch):
    """What a killed worker leaves: here the write fails half-way; the final name never
    appears, so nothing takes a truncated file for the stored one."""
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
