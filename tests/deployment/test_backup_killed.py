"""A backup killed outright (SIGKILL, the OOM killer, a restart mid-backup) skips every cleanup
of its own and leaves its private folder beside the archives: a plain copy of the database,
personal data, and part of the archive. The next backup removes it; a folder that a live
backup holds, or that is under a minute old, is left alone (`cdt_portal.backups`)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from cdt_portal import backups
from tests.killed import killed_at

pytestmark = pytest.mark.django_db(transaction=True)


def aged(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def killed_backup(directory: Path) -> Path:
    """A child process backs up into `directory` and is killed once its copy of the database
    is written; the folder it leaves."""

    def back_up(reached):
        def dumped(using, dump):
            dump.write_bytes(b"SQLite format 3\x00 the people's names")
            reached()

        backups._applied_migrations = lambda using: []  # the child touches no database
        backups._dump_database = dumped
        backups.write_archive(directory)

    killed_at(back_up)
    (left,) = directory.iterdir()
    return left


def test_the_next_backup_removes_what_a_killed_one_left(tmp_path, caplog):
    left = killed_backup(tmp_path)
    assert left.name.startswith(backups.WORK_PREFIX)
    assert [p.name for p in left.iterdir()] == ["database"]
    aged(left, 120)  # the next night's backup finds it a day old

    with caplog.at_level(logging.WARNING, logger="cdt_portal.backups"):
        archive = backups.write_archive(tmp_path)

    assert [p.name for p in tmp_path.iterdir()] == [archive.name]
    assert f"Removed what a killed backup left: {left}" in caplog.messages


def test_a_live_backups_folder_and_a_fresh_one_are_left_alone(tmp_path):
    live = tmp_path / f"{backups.WORK_PREFIX}live"
    fresh = tmp_path / f"{backups.WORK_PREFIX}fresh"
    abandoned = tmp_path / f"{backups.WORK_PREFIX}abandoned"
    # Left beside the archives by a backup of the code before its private folder held it.
    cut_short = tmp_path / ".cdt-portal-20261130-023000.tar.age.partial"
    kept_archive = tmp_path / "cdt-portal-20261130-023000.tar.age"
    for folder in (live, fresh, abandoned):
        folder.mkdir()
        (folder / "database").write_bytes(b"rows")
    cut_short.write_bytes(b"age-encryption.org/v1\n")
    kept_archive.write_bytes(b"age-encryption.org/v1\n")
    for path in (live, abandoned, cut_short, kept_archive):
        aged(path, 120)

    with backups._held(str(live)):  # a backup writing it, here or in another process
        assert backups.remove_abandoned(tmp_path) == [cut_short, abandoned]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [live.name, fresh.name, kept_archive.name]
        )
    # Once its backup is gone, however it ended, its folder is abandoned.
    assert backups.remove_abandoned(tmp_path) == [live]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, kept_archive.name])


def test_a_link_that_looks_like_a_backups_folder_is_not_followed(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "key.txt").write_bytes(b"AGE-SECRET-KEY-1")
    backups_dir = tmp_path / "backups"
    backups_dir.mkdir()
    link = backups_dir / f"{backups.WORK_PREFIX}link"
    link.symlink_to(precious, target_is_directory=True)
    os.utime(link, (time.time() - 120,) * 2, follow_symlinks=False)
    aged(precious, 120)

    assert backups.remove_abandoned(backups_dir) == []
    assert link.is_symlink() and (precious / "key.txt").read_bytes() == b"AGE-SECRET-KEY-1"
