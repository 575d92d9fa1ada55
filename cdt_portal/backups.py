"""Backups: one archive holds the whole portal (the database and every stored file).

An archive is a plain tar file, `cdt-portal-YYYYMMDD-HHMMSS.tar`, readable with `tar tf`:

    database.pgdump | database.sqlite3   the database (pg_dump custom format, or a SQLite copy)
    media/<name>                          every file of the default storage (MEDIA_ROOT)
    manifest.json                         format, time, database vendor, the applied migrations,
                                          and the size and SHA-256 of every member above

Why not django-dbbackup: it wraps the same tools (pg_dump, pg_restore) but writes the database
and the media as two separate files, and its SQLite connector restores through a text dump; one
self-describing archive that is checked member by member before anything is restored is the
part that matters, and it is this module. The database is written with the engine's own tools
(pg_dump, SQLite's online backup API), so the copy is consistent while the portal runs.

`restore_archive` writes only into an empty database (a new server, or a database just
created), so it can never mix an old copy into live data; it checks every checksum first.
The code is generic on purpose (all tables, all files): the core knows no app above it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_periodic_task, lock_task

from .jobs import job_task

logger = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "cdt-portal-"
SUFFIX = ".tar"
MANIFEST = "manifest.json"
DB_MEMBERS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreSummary:
    vendor: str
    tables: int
    files: int
    files_already_there: int


# --- Writing -----------------------------------------------------------------------------------


def _pg_env(using: str) -> dict[str, str]:
    """libpq variables for the connection, so no password appears on a command line."""
    conf = connections[using].settings_dict
    env = dict(os.environ)
    for var, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if conf.get(key):
            env[var] = str(conf[key])
    if conf.get("OPTIONS", {}).get("sslmode"):
        env["PGSSLMODE"] = conf["OPTIONS"]["sslmode"]
    return env


def _run(command: list[str], env: dict[str, str]) -> None:
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise BackupError(
            f"{command[0]} is not installed: apt-get install postgresql-client"
        ) from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{command[0]} failed: {exc.stderr.strip()[-2000:]}") from exc


def _dump_database(using: str, target: Path) -> str:
    connection = connections[using]
    vendor = connection.vendor
    if vendor == "postgresql":
        _run(
            ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"],
            _pg_env(using),
        )
    elif vendor == "sqlite":
        connection.ensure_connection()
        with sqlite3.connect(target) as copy:
            connection.connection.backup(copy)
        copy.close()
    else:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def _storage_files(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file of the storage, sorted, as names relative to its root."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from _storage_files(storage, f"{folder}/{sub}" if folder else sub)


class _HashingReader(io.RawIOBase):
    """Reads through to `raw` and hashes what passes, so each file is read once."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        return data


def _add(tar: tarfile.TarFile, arcname: str, stream: IO[bytes], size: int) -> str:
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = int(timezone.now().timestamp())
    info.mode = 0o600
    reader = _HashingReader(stream)
    tar.addfile(info, reader)
    return reader.sha256.hexdigest()


def _applied_migrations(using: str) -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in sorted(MigrationRecorder(connections[using]).applied_migrations()):
        latest[app] = name
    return latest


def archive_name(now: dt.datetime) -> str:
    return f"{PREFIX}{now:%Y%m%d-%H%M%S}{SUFFIX}"


def write_archive(
    directory: Path | str,
    *,
    using: str = "default",
    storage: Storage | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write one archive of the database and the media into `directory`; return its path.

    The archive appears under its final name only when complete (written beside it, then
    renamed), and is readable by its owner only: it holds personal data."""
    storage = storage or default_storage
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = timezone.localtime(now or timezone.now())
    final = directory / archive_name(now)
    counter = 1
    while final.exists():
        counter += 1
        final = directory / f"{PREFIX}{now:%Y%m%d-%H%M%S}-{counter}{SUFFIX}"
    partial = directory / f".{final.name}.partial"
    manifest: dict = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "migrations": _applied_migrations(using),
        "media": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="cdt-backup-") as tmp:
            dump = Path(tmp) / "database"
            vendor = _dump_database(using, dump)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
                member = DB_MEMBERS[vendor]
                with dump.open("rb") as stream:
                    size = dump.stat().st_size
                    manifest["database"] = {
                        "vendor": vendor,
                        "member": member,
                        "size": size,
                        "sha256": _add(tar, member, stream, size),
                    }
                for name in _storage_files(storage):
                    size = storage.size(name)
                    with storage.open(name, "rb") as stream:
                        digest = _add(tar, f"media/{name}", stream, size)
                    manifest["media"].append({"name": name, "size": size, "sha256": digest})
                data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                _add(tar, MANIFEST, io.BytesIO(data), len(data))
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    logger.info("Backup written: %s (%d files)", final, len(manifest["media"]))
    return final


# --- Keeping N ----------------------------------------------------------------------------------


def archives(directory: Path | str) -> list[Path]:
    """The archives in `directory`, newest first (their names sort by time)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob(f"{PREFIX}*{SUFFIX}") if p.is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def prune(directory: Path | str, keep: int) -> list[Path]:
    """Delete all but the `keep` newest archives; return what was deleted."""
    if keep < 1:
        raise ImproperlyConfigured("BACKUP_KEEP must be at least 1")
    removed = archives(directory)[keep:]
    for path in removed:
        path.unlink()
    return removed


# --- Restoring ----------------------------------------------------------------------------------


def read_manifest(tar: tarfile.TarFile) -> dict:
    try:
        manifest = json.load(tar.extractfile(MANIFEST))
    except (KeyError, ValueError, TypeError) as exc:
        raise BackupError("Not a portal backup: the archive has no readable manifest.json") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown archive format {manifest.get('format')!r}, expected {FORMAT}")
    return manifest


def _sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def verify_archive(tar: tarfile.TarFile, manifest: dict) -> None:
    """Every member is there with the size and SHA-256 the manifest gives."""
    expected = [(manifest["database"]["member"], manifest["database"])]
    expected += [(f"media/{entry['name']}", entry) for entry in manifest["media"]]
    for member, entry in expected:
        try:
            stream = tar.extractfile(member)
        except KeyError:
            stream = None
        if stream is None:
            raise BackupError(f"The archive is damaged: {member} is missing")
        if _sha256_of(stream) != entry["sha256"]:
            raise BackupError(f"The archive is damaged: {member} does not match its SHA-256")


def database_tables(using: str = "default") -> list[str]:
    return connections[using].introspection.table_names()


def restore_archive(
    path: Path | str, *, using: str = "default", storage: Storage | None = None
) -> RestoreSummary:
    """Restore an archive into an empty database and the media storage.

    Refused, with nothing changed, when the database has any table, when the archive is of
    another database engine or damaged, or when a stored file of the same name differs from
    the archive's. Files already there with the same content are left as they are, so a
    restore stopped half-way can be run again (after emptying the database)."""
    storage = storage or default_storage
    connection = connections[using]
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No such archive: {path}")
    tables = database_tables(using)
    if tables:
        raise BackupError(
            f"Refusing to restore: the database {connection.settings_dict['NAME']!r} is not "
            f"empty ({len(tables)} tables, e.g. {', '.join(tables[:3])}). Restore only into an "
            "empty database: create a new one (see docs/deploy.md, «Restoring») and point "
            "DATABASE_URL at it."
        )
    with tarfile.open(path, mode="r:") as tar:
        manifest = read_manifest(tar)
        vendor = manifest["database"]["vendor"]
        if vendor != connection.vendor:
            raise BackupError(
                f"The archive holds a {vendor} database; this portal uses {connection.vendor}. "
                "Restore it into the same kind of database."
            )
        verify_archive(tar, manifest)
        conflicts, present = [], 0
        for entry in manifest["media"]:
            if storage.exists(entry["name"]):
                with storage.open(entry["name"], "rb") as stream:
                    if _sha256_of(stream) != entry["sha256"]:
                        conflicts.append(entry["name"])
                    else:
                        present += 1
        if conflicts:
            raise BackupError(
                f"Refusing to restore: {len(conflicts)} stored files differ from the archive's "
                f"(e.g. {conflicts[0]}). Restore into an empty MEDIA_ROOT."
            )
        # Files first: restoring them again is harmless, while the database refuses a second go.
        for entry in manifest["media"]:
            if storage.exists(entry["name"]):
                continue
            stream = tar.extractfile(f"media/{entry['name']}")
            saved = storage.save(entry["name"], File(stream, name=entry["name"]))
            if saved != entry["name"]:
                raise BackupError(f"The storage saved {entry['name']} as {saved}")
        with tempfile.TemporaryDirectory(prefix="cdt-restore-") as tmp:
            dump = Path(tmp) / "database"
            with tar.extractfile(manifest["database"]["member"]) as src, dump.open("wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
            _load_database(using, vendor, dump)
    return RestoreSummary(
        vendor=vendor,
        tables=len(database_tables(using)),
        files=len(manifest["media"]),
        files_already_there=present,
    )


def _load_database(using: str, vendor: str, dump: Path) -> None:
    connection = connections[using]
    if vendor == "postgresql":
        # One transaction: a restore that fails leaves the database empty, ready for a retry.
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={connection.settings_dict['NAME']}",
                str(dump),
            ],
            _pg_env(using),
        )
    else:
        connection.ensure_connection()
        with sqlite3.connect(dump) as source:
            source.backup(connection.connection)
        source.close()


# --- The nightly job ------------------------------------------------------------------------------


def backup_and_prune() -> Path:
    path = write_archive(settings.BACKUP_DIR)
    for old in prune(settings.BACKUP_DIR, settings.BACKUP_KEEP):
        logger.info("Old backup removed: %s", old)
    return path


def is_backup_time(now: dt.datetime) -> bool:
    """huey asks this every minute with a naive time, in UTC when huey runs in UTC (its
    default); BACKUP_HOUR and BACKUP_MINUTE are in the deployment's TIME_ZONE."""
    if HUEY.utc:
        now = now.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))
    return now.hour == settings.BACKUP_HOUR and now.minute == settings.BACKUP_MINUTE


@db_periodic_task(is_backup_time)
@lock_task("cdt-portal-nightly-backup")
def nightly_backup() -> None:
    """Run by the worker that has periodic tasks on (one per deployment: docs/deploy.md)."""
    backup_and_prune()


@job_task()
def backup_job(job_id: int) -> str:
    """A backup started by hand (or by `make deploy-check`) as a job with a visible result."""
    backup_and_prune()
    return ""
