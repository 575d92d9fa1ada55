"""The sheet's nightly cleanup (`sheet.remove_unreferenced_sheet_files`, run by the periodic task
in acknowledgements/tasks.py): stored sheet files that no current content names are removed
once they are a day old; what a version's sheet names now is kept, however old."""

from __future__ import annotations

import datetime as dt
import os
from unittest import mock

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from acknowledgements import sheet, tasks
from acknowledgements.models import DocumentVersion


def age(path: str, days: int) -> None:
    then = (timezone.now() - dt.timedelta(days=days)).timestamp()
    os.utime(default_storage.path(path), (then, then))


def test_old_sheet_files_are_removed_and_new_ones_kept(db):
    old = default_storage.save("documents/sheets/old-part.pdf", ContentFile(b"%PDF old"))
    new = default_storage.save("documents/sheets/new-part.pdf", ContentFile(b"%PDF new"))
    age(old, 10)
    assert sheet.remove_unreferenced_sheet_files() == [old]
    assert sheet.remove_unreferenced_sheet_files() == []
    assert default_storage.exists(new) and not default_storage.exists(old)


def test_the_files_of_every_sheet_in_force_are_kept_however_old(regulation, director):
    sheet.sheet_prepare(version=regulation, blank=False, actor=None)
    version = DocumentVersion.objects.select_related("document__organisation").get(pk=regulation.pk)
    plan = sheet.sheet_plan(version)
    kept = [plan.whole_path, plan.index_path, *(part.path for part in plan.parts)]
    for path in kept:
        age(path, 30)
    assert sheet.remove_unreferenced_sheet_files() == []
    assert sheet.stored_sheet(sheet.sheet_lookup(version)) is not None


def test_the_nightly_task_runs_the_cleanup():
    with mock.patch.object(tasks.sheet, "remove_unreferenced_sheet_files") as cleanup:
        tasks.remove_unreferenced_sheet_files.call_local()
    cleanup.assert_called_once_with()
