"""Backup → wipe → restore gives back every table row (but the sessions') and every stored
file, with the files' modes set, on the database the suite runs on (SQLite or PostgreSQL: CI
runs both)."""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cdt_portal import backups, restore
from cdt_portal.models import ServiceBeat

pytestmark = pytest.mark.django_db(transaction=True)

SCAN = "registration/scans/скан-приказа.pdf"


def table_rows() -> dict[str, list[str]]:
    """Every row of every table, in a stable order (repr: NULL and '' stay apart)."""
    rows = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return rows


def schema_extras() -> list[tuple]:
    """What rows do not show: sequences' positions and triggers (the audit log's guard)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT sequencename, last_value FROM pg_sequences ORDER BY 1")
            sequences = cursor.fetchall()
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
                "WHERE NOT tgisinternal ORDER BY 1, 2"
            )
            return sequences + cursor.fetchall()
        cursor.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        return cursor.fetchall() + [
            tuple(r) for r in cursor.execute("SELECT * FROM sqlite_sequence")
        ]


def stored_files() -> dict[str, str]:
    root = Path(settings.MEDIA_ROOT)
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def wipe_database() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # As a new database has it (PostgreSQL 15+): owned by the database's owner, usable
            # by every role. A bare CREATE SCHEMA would leave other roles without USAGE, and
            # later tests on this database (the two roles of the deploy guide) would fail.
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
            cursor.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
        else:
            cursor.execute("PRAGMA foreign_keys = OFF")
            for table in connection.introspection.table_names():
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
            cursor.execute("PRAGMA foreign_keys = ON")
    assert connection.introspection.table_names() == []


def signed_in_session() -> SessionStore:
    """A session row as signing in leaves it."""
    session = SessionStore()
    session["_auth_user_id"] = "1"
    session.create()
    return session


def tables_back(archive: Path) -> None:
    """A test that wiped the database (and maybe failed or was refused before restoring) must
    not leave the next tests without tables: the good archive it started from is restored,
    into an emptied MEDIA_ROOT so that no stored file differs from it. Migrating instead took
    about 7 s on SQLite; the transactional test's own cleanup then empties the tables."""
    if connection.introspection.table_names():
        return
    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)
    restore.restore_archive(archive)


@pytest.fixture
def portal_with_data(tmp_path_factory):
    """The demo (people, the approved regulation with its stored order), a scan, and someone
    signed in."""
    call_command("loaddemo", stdout=io.StringIO())
    default_storage.save(SCAN, ContentFile(b"%PDF-1.7\n\xd0\xa1\xd0\xba\xd0\xb0\xd0\xbd\n%%EOF"))
    signed_in_session()
    start = backups.write_archive(tmp_path_factory.mktemp("start"))
    yield
    tables_back(start)


def test_backup_wipe_restore_gives_back_every_row_but_the_sessions_and_every_file(
    portal_with_data, tmp_path
):
    rows_before, extras_before, files_before = table_rows(), schema_extras(), stored_files()
    assert len(files_before) >= 2, "the demo's stored order and the scan"
    assert sum(len(r) for r in rows_before.values()) > 50
    assert len(rows_before["django_session"]) == 1

    out = io.StringIO()
    call_command("backup", dir=str(tmp_path / "backups"), stdout=out)
    archive = Path(out.getvalue().strip())
    assert archive.parent == tmp_path / "backups"
    assert archive.name.startswith("cdt-portal-") and archive.suffix == ".tar"
    assert archive.stat().st_mode & 0o777 == 0o600
    assert archive.parent.stat().st_mode & 0o777 == 0o700, "BACKUP_DIR, made by the backup"

    with tarfile.open(archive) as tar:
        manifest = restore.read_manifest(tar)
    assert manifest["database"]["vendor"] == connection.vendor
    assert {e["name"]: e["sha256"] for e in manifest["media"]} == files_before

    wipe_database()
    for path in Path(settings.MEDIA_ROOT).rglob("*"):
        if path.is_file():
            path.unlink()
    assert stored_files() == {}

    out = io.StringIO()
    call_command("restore", str(archive), stdout=out)
    assert f"{len(files_before)} files" in out.getvalue()

    rows_after = table_rows()
    assert rows_after["django_session"] == [], "people sign in again after a restore"
    assert rows_after == {**rows_before, "django_session": []}
    assert schema_extras() == extras_before
    assert stored_files() == files_before


def test_the_sessions_data_is_not_in_the_archive_at_all(portal_with_data, tmp_path):
    """Not only absent after a restore: the bytes of the session are nowhere in the archive
    (SQLite keeps deleted rows in free pages unless told to overwrite them)."""
    session = signed_in_session()
    archive = backups.write_archive(tmp_path)
    with tarfile.open(archive) as tar:
        manifest = restore.read_manifest(tar)
        database = tar.extractfile(manifest["database"]["member"]).read()
    if connection.vendor == "sqlite":
        assert session.session_key.encode() not in database
        assert session.encode(session.load()).encode() not in database
    else:
        # pg_dump's custom format is compressed: its table of contents tells what it holds.
        dump = tmp_path / "database.pgdump"
        dump.write_bytes(database)
        contents = subprocess.run(
            ["pg_restore", "--list", str(dump)], check=True, capture_output=True, text=True
        ).stdout
        assert "TABLE public django_session" in contents, "the table itself is kept"
        assert "TABLE DATA public django_session" not in contents
        assert "TABLE DATA public accounts_user" in contents


@pytest.mark.parametrize("umask", [0o000, 0o077], ids=["umask-000", "umask-077"])
def test_restored_files_are_0640_and_folders_0750_whatever_the_umask(
    portal_with_data, tmp_path, umask, settings
):
    archive = backups.write_archive(tmp_path / "backups")
    wipe_database()
    # A MEDIA_ROOT that does not exist yet: restore creates it too.
    settings.MEDIA_ROOT = str(tmp_path / "restored-media")
    previous = os.umask(umask)
    try:
        call_command("restore", str(archive), stdout=io.StringIO())
    finally:
        os.umask(previous)

    root = Path(settings.MEDIA_ROOT)
    files = [p for p in root.rglob("*") if p.is_file()]
    folders = [root, *(p for p in root.rglob("*") if p.is_dir())]
    assert len(files) >= 2 and len(folders) >= 3
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o640"}
    assert {oct(p.stat().st_mode & 0o777) for p in folders} == {"0o750"}


def test_every_backup_stamps_the_health_beat(portal_with_data, tmp_path):
    out = io.StringIO()
    call_command("backup", dir=str(tmp_path), stdout=out)
    archive = Path(out.getvalue().strip())

    stamp = ServiceBeat.objects.get(name="backup")
    assert stamp.detail == {
        "archive": archive.name,
        "size": archive.stat().st_size,
        "encrypted": False,
    }


def test_restore_into_a_database_with_tables_is_refused_and_changes_nothing(
    portal_with_data, tmp_path
):
    archive = backups.write_archive(tmp_path)
    default_storage.delete(SCAN)
    rows_before, files_before = table_rows(), stored_files()

    with pytest.raises(CommandError) as refused:
        call_command("restore", str(archive))

    assert "Refusing to restore: the database" in str(refused.value)
    assert "is not empty" in str(refused.value)
    assert table_rows() == rows_before
    assert stored_files() == files_before, "the scan must not come back from the archive"


def test_a_damaged_archive_is_refused_before_anything_is_written(portal_with_data, tmp_path):
    archive = backups.write_archive(tmp_path / "good")
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == f"media/{SCAN}":
                data = data.replace(b"%%EOF", b"%%EOX")
            dst.addfile(member, io.BytesIO(data))
    wipe_database()
    default_storage.delete(SCAN)

    with pytest.raises(backups.BackupError, match=f"media/{SCAN} does not match its SHA-256"):
        restore.restore_archive(damaged)

    assert connection.introspection.table_names() == []
    assert not default_storage.exists(SCAN)


def test_a_stored_file_that_differs_from_the_archive_is_refused(portal_with_data, tmp_path):
    archive = backups.write_archive(tmp_path)
    wipe_database()
    default_storage.delete(SCAN)
    default_storage.save(SCAN, ContentFile(b"another scan"))

    with pytest.raises(backups.BackupError, match="1 stored files differ from the archive"):
        restore.restore_archive(archive)
    assert connection.introspection.table_names() == []
