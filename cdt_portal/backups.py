"""Backups: one archive holds the whole portal (the database and every stored file).

An archive is a tar file, `cdt-portal-YYYYMMDD-HHMMSS.tar`, readable with `tar tf`:

    database.pgdump | database.sqlite3   the database (pg_dump custom format, or a SQLite copy),
                                          without the sessions' rows
    media/<name>                          every file of the default storage (MEDIA_ROOT)
                                          except those under BACKUP_MEDIA_LEFT_OUT
    manifest.json                         format, time, database vendor, the applied migrations,
                                          and the size and SHA-256 of every member above

With BACKUP_AGE_RECIPIENT set, the same tar is encrypted to those age public keys as it is
written (`cdt-portal-YYYYMMDD-HHMMSS.tar.age`): the plain tar never exists on the disk, and
only the holder of a secret key can read the archive (`restore --identity FILE`).
What an archive holds and how to keep it: docs/backups.md.

Why not django-dbbackup: it wraps the same tools (pg_dump, pg_restore) but writes the database
and the media as two separate files, and its SQLite connector restores through a text dump; one
self-describing archive that is checked member by member before anything is restored is the
part that matters, and it is this module and `cdt_portal.restore`, which reads it back. The
database is written with the engine's own tools (pg_dump, SQLite's online backup API), so the
copy is consistent while the portal runs.

`restore.restore_archive` writes only into an empty database (a new server, or a database just
created), so it can never mix an old copy into live data; it checks every checksum first.
The code is generic on purpose (all tables, all files): the core knows no app above it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zoneinfo
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pyrage
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, default_storage
from django.db import connections
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from huey.contrib.djhuey import HUEY, db_periodic_task, lock_task

from .health import beat
from .jobs import job_task

logger = logging.getLogger(__name__)

FORMAT = 1
PREFIX = "cdt-portal-"
SUFFIX = ".tar"
ENCRYPTED_SUFFIX = ".tar.age"
# Both kinds of archive, with the counter a second archive in the same second gets.
ARCHIVE_NAME = re.compile(r"cdt-portal-(\d{8}-\d{6})(?:-(\d+))?\.tar(?:\.age)?")
MANIFEST = "manifest.json"
DB_MEMBERS = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# django.contrib.sessions' table: its rows are signed-in sessions, worth nothing in a restored
# portal (people sign in again) and a way into it for whoever reads the archive.
SESSION_TABLE = "django_session"
CHUNK = 1024 * 1024
# The private folder of a backup being written (its database copy and its archive so far).
WORK_PREFIX = ".cdt-backup-"
# A folder younger than this is never taken for abandoned: its backup may not hold it yet.
ABANDONED_AFTER_SECONDS = 60


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


# --- Encryption keys -----------------------------------------------------------------------------


def age_recipients() -> list[pyrage.x25519.Recipient]:
    """The public keys of BACKUP_AGE_RECIPIENT (none: archives are plain tar files)."""
    found = []
    for text in settings.BACKUP_AGE_RECIPIENT:
        try:
            found.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except pyrage.RecipientError as exc:
            raise BackupError(
                f"BACKUP_AGE_RECIPIENT holds {text.strip()!r}, which is not an age public key "
                "(age1…, the `# public key:` line of the key file)."
            ) from exc
    return found


# --- Writing -----------------------------------------------------------------------------------


def pg_env(using: str) -> dict[str, str]:
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


def run_tool(command: list[str], env: dict[str, str]) -> None:
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
        run_tool(
            [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--exclude-table-data={SESSION_TABLE}",
                f"--file={target}",
            ],
            pg_env(using),
        )
    elif vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
            has_sessions = copy.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (SESSION_TABLE,)
            ).fetchone()
            if has_sessions:
                # Deleted rows overwritten with zeros: otherwise their bytes stay in the file's
                # free pages, and so in the archive (Debian builds SQLite with this on by
                # default; not every build does).
                copy.execute("PRAGMA secure_delete = ON")
                copy.execute(f'DELETE FROM "{SESSION_TABLE}"')
                copy.commit()
        finally:
            copy.close()
    else:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {vendor}")
    return vendor


def _storage_files(storage: Storage, folder: str = "") -> Iterator[str]:
    """Every file of the storage, sorted, as names relative to its root, except the folders
    of BACKUP_MEDIA_LEFT_OUT (files kept for an hour that hold live sign-in links)."""
    if folder in settings.BACKUP_MEDIA_LEFT_OUT:
        return
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for sub in sorted(folders):
        yield from _storage_files(storage, f"{folder}/{sub}" if folder else sub)


def _tar_member(
    arcname: str, stream: IO[bytes], size: int, mtime: int
) -> Generator[bytes, None, str]:
    """One member as tarfile's `addfile` writes it (its header, the data, zeros to the next
    512-byte block), yielded piece by piece; returns the SHA-256 of the data."""
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mtime = mtime
    info.mode = 0o600
    yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    digest = hashlib.sha256()
    left = size
    while left:
        chunk = stream.read(min(CHUNK, left))
        if not chunk:
            raise BackupError(
                f"{arcname} became shorter while it was being backed up; run the backup again."
            )
        digest.update(chunk)
        left -= len(chunk)
        yield chunk
    yield tarfile.NUL * (-size % tarfile.BLOCKSIZE)
    return digest.hexdigest()


def _members(database: Path, vendor: str, storage: Storage, manifest: dict) -> Iterator[bytes]:
    """Every member, piece by piece: the database, every stored file, then the manifest (last,
    once every SHA-256 is known)."""
    mtime = int(timezone.now().timestamp())
    member = DB_MEMBERS[vendor]
    size = database.stat().st_size
    with database.open("rb") as stream:
        digest = yield from _tar_member(member, stream, size, mtime)
    manifest["database"] = {"vendor": vendor, "member": member, "size": size, "sha256": digest}
    for name in _storage_files(storage):
        size = storage.size(name)
        with storage.open(name, "rb") as stream:
            digest = yield from _tar_member(f"media/{name}", stream, size, mtime)
        manifest["media"].append({"name": name, "size": size, "sha256": digest})
    data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
    yield from _tar_member(MANIFEST, io.BytesIO(data), len(data), mtime)


def _tar_chunks(members: Iterator[bytes]) -> Iterator[bytes]:
    """The members, then the end of the archive as tarfile's `close` writes it (two zero
    blocks, then zeros up to a whole 10 KiB record)."""
    written = 0
    for chunk in members:
        written += len(chunk)
        yield chunk
    end = tarfile.NUL * (tarfile.BLOCKSIZE * 2)
    yield end + tarfile.NUL * (-(written + len(end)) % tarfile.RECORDSIZE)


class _PullStream(io.RawIOBase):
    """A readable stream made of the pieces an iterator yields, built as the reader asks.

    pyrage encrypts only by reading from a stream (`encrypt_io`), never by being written to,
    so the archive is built for it to read: it is then neither held whole in memory nor
    written anywhere unencrypted. The same stream is copied to the file of a plain archive."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._pending = memoryview(b"")
        # pyrage keeps only the text of an exception raised while it reads (as its own
        # EncryptError); the exception itself is kept here for the caller to raise.
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            while not self._pending:
                piece = next(self._pieces, None)
                if piece is None:
                    return 0
                self._pending = memoryview(piece)
        except Exception as exc:
            self.failure = exc
            raise
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _applied_migrations(using: str) -> dict[str, str]:
    latest: dict[str, str] = {}
    for app, name in sorted(MigrationRecorder(connections[using]).applied_migrations()):
        latest[app] = name
    return latest


def archive_name(now: dt.datetime, *, encrypted: bool = False, counter: int = 1) -> str:
    suffix = ENCRYPTED_SUFFIX if encrypted else SUFFIX
    return f"{PREFIX}{now:%Y%m%d-%H%M%S}{f'-{counter}' if counter > 1 else ''}{suffix}"


def write_archive(
    directory: Path | str,
    *,
    using: str = "default",
    storage: Storage | None = None,
    now: dt.datetime | None = None,
) -> Path:
    """Write one archive of the database and the media into `directory`; return its path.

    Encrypted to BACKUP_AGE_RECIPIENT when it names keys. The archive appears under its final
    name only when complete (written beside it, then renamed), and is readable by its owner
    only: it holds personal data. The health stamp `backup` records it (file name, size, whether
    encrypted), so every app server can tell the newest backup's age."""
    recipients = age_recipients()
    storage = storage or default_storage
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = timezone.localtime(now or timezone.now())
    counter = 1
    final = directory / archive_name(now, encrypted=bool(recipients))
    while final.exists():
        counter += 1
        final = directory / archive_name(now, encrypted=bool(recipients), counter=counter)
    manifest: dict = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "migrations": _applied_migrations(using),
        "media": [],
    }
    remove_abandoned(directory)
    # The database copy and the archive being written wait in a private folder beside the
    # archives (not in /tmp: that may be a small tmpfs, and BACKUP_DIR is where room for
    # backups is kept), removed when the backup ends or fails, and held (`_held`) for as long
    # as this backup lives, so that a later backup removes it if this one is killed.
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=directory) as tmp, _held(tmp):
        dump = Path(tmp) / "database"
        vendor = _dump_database(using, dump)
        archive = _PullStream(_tar_chunks(_members(dump, vendor, storage, manifest)))
        partial = Path(tmp) / "archive"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if recipients:
                try:
                    pyrage.encrypt_io(archive, out, recipients)
                except pyrage.EncryptError as exc:
                    raise archive.failure or BackupError(
                        f"Encrypting the archive failed: {exc}"
                    ) from exc
            else:
                shutil.copyfileobj(archive, out, CHUNK)
            out.flush()
            # On the disk before it takes its final name: a power cut must not leave an
            # archive that looks complete and is not.
            os.fsync(out.fileno())
        os.replace(partial, final)
    size = final.stat().st_size
    # `archive`, not `name`: beat(name, **detail) takes its first argument by that name.
    beat("backup", archive=final.name, size=size, encrypted=bool(recipients))
    logger.info("Backup written: %s (%d files, %d bytes)", final, len(manifest["media"]), size)
    return final


@contextmanager
def _held(folder: str) -> Iterator[None]:
    """An exclusive lock on the backup's folder for the life of this backup. The kernel lets
    go of it when the process ends, however it ends: a folder whose lock can be taken was
    left by a backup that was killed (SIGKILL, the OOM killer, a restart)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def remove_abandoned(directory: Path | str) -> list[Path]:
    """Remove what killed backups left in `directory`: their private folders (a plain copy of
    the database, personal data, and part of an archive), never one that a backup still
    holds or that is under a minute old. Run before every backup; returns what was removed."""
    removed = []
    for path in sorted(Path(directory).glob(".cdt-portal-*.partial")):
        # An archive cut short beside the archives, by a backup of an earlier version of this
        # code (which wrote it there, not in its folder).
        try:
            if time.time() - path.stat().st_mtime >= ABANDONED_AFTER_SECONDS:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # removed meanwhile by another backup
            continue
    for path in sorted(Path(directory).glob(f"{WORK_PREFIX}*")):
        try:
            if time.time() - path.stat().st_mtime < ABANDONED_AFTER_SECONDS:
                continue
            # Never through a link: only a folder a backup made is removed.
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:  # gone meanwhile, not a folder, or a link
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(path)
        except BlockingIOError:
            continue  # a backup is writing it
        except FileNotFoundError:
            continue  # another backup, starting at the same moment, removed it first
        else:
            removed.append(path)
        finally:
            os.close(fd)
    for path in removed:
        logger.warning("Removed what a killed backup left: %s", path)
    return removed


# --- Keeping N ----------------------------------------------------------------------------------


def archives(directory: Path | str) -> list[Path]:
    """The archives in `directory`, plain and encrypted, newest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = ARCHIVE_NAME.fullmatch(path.name)
        if match and path.is_file():
            found.append(((match[1], int(match[2] or 1)), path))
    return [path for _, path in sorted(found, key=lambda item: item[0], reverse=True)]


def prune(directory: Path | str, keep: int) -> list[Path]:
    """Delete all but the `keep` newest archives; return what was deleted."""
    if keep < 1:
        raise ImproperlyConfigured("BACKUP_KEEP must be at least 1")
    removed = archives(directory)[keep:]
    for path in removed:
        path.unlink()
    return removed


# --- The nightly job ------------------------------------------------------------------------------


def backup_and_prune(
    directory: Path | str | None = None, keep: int | None = None
) -> tuple[Path, list[Path]]:
    """One archive into `directory` (BACKUP_DIR), then keep the newest `keep` (BACKUP_KEEP)
    there: what `manage.py backup`, the nightly job and the backup job all run. Returns the
    new archive and the old ones removed."""
    directory = directory or settings.BACKUP_DIR
    path = write_archive(directory)
    removed = prune(directory, settings.BACKUP_KEEP if keep is None else keep)
    for old in removed:
        logger.info("Old backup removed: %s", old)
    return path, removed


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
