"""Restoring a backup archive (`cdt_portal.backups` writes them; docs/backups.md): into an empty
database and the media storage, after every member is checked against the manifest, from a
plain tar or an age-encrypted one (`--identity FILE`). Refused with a `BackupError` and nothing
changed when the archive is not a complete, intact portal backup of this format and engine, or
when the database is not empty."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import pyrage
from django.core.files import File
from django.core.files.storage import Storage, default_storage
from django.db import connections

from .backups import CHUNK, DB_MEMBERS, FORMAT, MANIFEST, BackupError, pg_env, run_tool

# How every age file starts: binary (what `backups.write_archive` writes) or armored (`age -a`).
AGE_HEADERS = (b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")
# Restored stored files and the folders restore creates: what production gives uploads
# (FILE_UPLOAD_PERMISSIONS, FILE_UPLOAD_DIRECTORY_PERMISSIONS): the service's group (nginx) reads.
FILE_MODE = 0o640
FOLDER_MODE = 0o750


@dataclass(frozen=True)
class RestoreSummary:
    vendor: str
    tables: int
    files: int
    files_already_there: int


def read_identities(path: Path | str) -> list[pyrage.x25519.Identity]:
    """The age secret keys of a key file as `age-keygen` writes it (comments and the public
    key as `#` lines, each secret key on a line of its own)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not a text file"
        raise BackupError(f"Cannot read the key file {path}: {reason}.") from exc
    keys = [line.strip() for line in lines if line.strip().startswith("AGE-SECRET-KEY-")]
    if not keys:
        raise BackupError(
            f"The key file {path} holds no age secret key (a line starting with AGE-SECRET-KEY-)."
        )
    try:
        return [pyrage.x25519.Identity.from_str(key) for key in keys]
    except pyrage.IdentityError as exc:
        raise BackupError(
            f"The key file {path} has an AGE-SECRET-KEY- line that is not a valid age secret key."
        ) from exc


def _safe_name(name: object) -> bool:
    """A relative path inside MEDIA_ROOT, written the one way (no `..`, `.`, `//`)."""
    if not isinstance(name, str) or not name:
        return False
    path = PurePosixPath(name)
    return not path.is_absolute() and str(path) == name and ".." not in path.parts


def _is_entry(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("sha256"), str)
    )


def _is_portal_manifest(manifest: dict) -> bool:
    database, media = manifest.get("database"), manifest.get("media")
    return (
        _is_entry(database)
        and database.get("vendor") in DB_MEMBERS
        and database.get("member") == DB_MEMBERS[database["vendor"]]
        and isinstance(media, list)
        and all(_is_entry(entry) and _safe_name(entry.get("name")) for entry in media)
    )


def read_manifest(tar: tarfile.TarFile) -> dict:
    """The archive's manifest, refused unless it is one this portal wrote in this format."""
    try:
        stream = tar.extractfile(MANIFEST)
    except KeyError:
        stream = None
    if stream is None:
        raise BackupError(
            "The archive has no manifest.json: it is not a complete portal backup "
            "(a truncated copy, or an archive of something else)."
        )
    try:
        manifest = json.load(stream)
    except ValueError as exc:
        raise BackupError(
            "The archive's manifest.json is not JSON, so it is not a portal backup."
        ) from exc
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise BackupError(
            "The archive's manifest.json is not a portal manifest, so it is not a portal backup."
        )
    if manifest["format"] != FORMAT:
        raise BackupError(
            f"The archive is of backup format {manifest['format']!r}, and this version of the "
            f"portal reads format {FORMAT} only."
        )
    if not _is_portal_manifest(manifest):
        raise BackupError(
            "The archive's manifest.json does not list a database and stored files the way "
            "the portal writes them, so it is not a portal backup."
        )
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
            raise BackupError(f"The archive is damaged: {member} is missing.")
        if _sha256_of(stream) != entry["sha256"]:
            raise BackupError(f"The archive is damaged: {member} does not match its SHA-256.")


def _decrypt(source: Path, target: Path, identities: list[pyrage.x25519.Identity]) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with source.open("rb") as encrypted, os.fdopen(fd, "wb") as plain:
        try:
            pyrage.decrypt_io(encrypted, plain, identities)
        except pyrage.DecryptError as exc:
            # pyrage tells a key that does not fit only by this text (a test holds it true).
            if str(exc) == "No matching keys found":
                raise BackupError(
                    "No key in the key file opens this archive: it was encrypted to another "
                    "public key."
                ) from exc
            raise BackupError(f"The encrypted archive is truncated or damaged ({exc}).") from exc
        except OSError as exc:
            # age reports data cut short or altered after the header as an OSError without an
            # errno; one with an errno (a full disk) is not the archive's fault.
            if exc.errno is not None:
                raise
            raise BackupError(f"The encrypted archive is truncated or damaged ({exc}).") from exc


def _open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except tarfile.ReadError as exc:
        raise BackupError(
            "The file is not a portal backup: it is neither a tar archive nor an age-encrypted one."
        ) from exc


@contextmanager
def _opened_archive(path: Path, identity: Path | str | None) -> Iterator[tarfile.TarFile]:
    """The archive as a tar file to read from: a plain one as it is, an encrypted one
    decrypted into a private temporary folder (restore reads every member twice, to check it
    and to restore it, so it needs a file it can go back in), removed afterwards."""
    with path.open("rb") as raw:
        head = raw.read(max(len(header) for header in AGE_HEADERS))
    if not head:
        raise BackupError("The archive is an empty file (0 bytes), so it is not a portal backup.")
    if not head.startswith(AGE_HEADERS):
        with _open_tar(path) as tar:
            yield tar
        return
    if identity is None:
        raise BackupError(
            "The archive is encrypted: give the file holding its age secret key with "
            "--identity FILE."
        )
    identities = read_identities(identity)
    with tempfile.TemporaryDirectory(prefix="cdt-restore-") as tmp:
        plain = Path(tmp) / "archive.tar"
        _decrypt(path, plain, identities)
        with _open_tar(plain) as tar:
            yield tar


def database_tables(using: str = "default") -> list[str]:
    return connections[using].introspection.table_names()


def _save_file(storage: Storage, name: str, stream: IO[bytes]) -> None:
    """Save one restored file with FILE_MODE, and the folders it creates with FOLDER_MODE,
    whatever the umask of whoever runs the restore."""
    created = []
    folder = Path(storage.path(name)).parent
    while not folder.exists():
        created.append(folder)
        folder = folder.parent
    saved = storage.save(name, File(stream, name=name))
    if saved != name:
        raise BackupError(f"The storage saved {name} as {saved}.")
    os.chmod(storage.path(saved), FILE_MODE)
    for folder in created:
        os.chmod(folder, FOLDER_MODE)


def restore_archive(
    path: Path | str,
    *,
    identity: Path | str | None = None,
    using: str = "default",
    storage: Storage | None = None,
) -> RestoreSummary:
    """Restore an archive into an empty database and the media storage.

    `identity`: the file holding the age secret key of an encrypted archive. Refused, with
    nothing changed, when the database has any table, when the archive is empty, truncated,
    damaged, not a portal backup, of another format or database engine, encrypted to another
    key, or when a stored file of the same name differs from the archive's. Files already
    there with the same content are left as they are, so a restore stopped half-way can be
    run again (after emptying the database)."""
    storage = storage or default_storage
    connection = connections[using]
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"No such archive: {path}.")
    tables = database_tables(using)
    if tables:
        raise BackupError(
            f"Refusing to restore: the database {connection.settings_dict['NAME']!r} is not "
            f"empty ({len(tables)} tables, e.g. {', '.join(tables[:3])}); restore only into an "
            "empty database: create a new one (see docs/deploy.md, «Restoring») and point "
            "DATABASE_URL at it."
        )
    with _opened_archive(path, identity) as tar:
        try:
            manifest = read_manifest(tar)
            vendor = manifest["database"]["vendor"]
            if vendor != connection.vendor:
                raise BackupError(
                    f"The archive holds a {vendor} database and this portal uses "
                    f"{connection.vendor}: restore it into the same kind of database."
                )
            verify_archive(tar, manifest)
        except tarfile.ReadError as exc:
            # Headers and data are read lazily: a cut anywhere surfaces here, before any write.
            raise BackupError(f"The archive is truncated or damaged ({exc}).") from exc
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
                f"(e.g. {conflicts[0]}); restore into an empty MEDIA_ROOT."
            )
        # Files first: restoring them again is harmless, while the database refuses a second go.
        for entry in manifest["media"]:
            if not storage.exists(entry["name"]):
                _save_file(storage, entry["name"], tar.extractfile(f"media/{entry['name']}"))
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
        run_tool(
            [
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={connection.settings_dict['NAME']}",
                str(dump),
            ],
            pg_env(using),
        )
    else:
        connection.ensure_connection()
        with sqlite3.connect(dump) as source:
            source.backup(connection.connection)
        source.close()
