"""`restore` refuses every archive it cannot restore whole (empty, random, truncated, of
something else, of another format or engine, encrypted without the right key) with one English
sentence, exit status 1 and no traceback, and writes nothing: no table, no stored file, no
temporary copy. Each case is a subtest against one emptied database (emptying it and migrating
it back once, not per case, keeps the file quick on PostgreSQL)."""

import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from cdt_portal import backups, restore
from tests.deployment.test_backup import (
    signed_in_session,
    stored_files,
    tables_back,
    wipe_database,
)

pytestmark = pytest.mark.django_db(transaction=True)

ORDER = "acknowledgements/orders/приказ-201-О.pdf"
SCAN = "registration/scans/скан.pdf"
PROJECT = Path(__file__).resolve().parents[2]


@dataclass
class Archives:
    """A good plain archive, the same encrypted, the key that opens it, and a folder to make
    bad copies in."""

    plain: Path
    encrypted: Path
    key_file: Path
    folder: Path

    def members(self) -> dict[str, tarfile.TarInfo]:
        with tarfile.open(self.plain) as tar:
            return {member.name: member for member in tar.getmembers()}

    def cut(self, name: str, at: int, source: Path | None = None) -> Path:
        """A copy of the first `at` bytes: an archive cut short, as by a full disk or a copy
        that stopped."""
        path = self.folder / name
        path.write_bytes((source or self.plain).read_bytes()[:at])
        return path

    def rewritten(self, name: str, edit: Callable[[dict], dict | list | bytes]) -> Path:
        """A copy whose manifest.json is replaced by `edit(manifest)` (bytes as they are,
        anything else as JSON)."""
        path = self.folder / name
        with tarfile.open(self.plain) as src, tarfile.open(path, "w") as dst:
            for member in src.getmembers():
                data = src.extractfile(member).read()
                if member.name == backups.MANIFEST:
                    new = edit(json.loads(data))
                    data = new if isinstance(new, bytes) else json.dumps(new).encode()
                    member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
        return path

    def foreign_tar(self, name: str, members: dict[str, bytes]) -> Path:
        path = self.folder / name
        with tarfile.open(path, "w") as tar:
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return path


@pytest.fixture
def archives(tmp_path, settings):
    """Good archives of a portal with stored files and a session, written before the database
    and MEDIA_ROOT are emptied; afterwards the plain one gives the next tests their tables back."""
    default_storage.save(ORDER, ContentFile(random.Random(1).randbytes(200_000)))
    default_storage.save(SCAN, ContentFile(b"%PDF-1.7\n%%EOF"))
    signed_in_session()
    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"# public key: {identity.to_public()}\n{identity}\n")
    plain = backups.write_archive(tmp_path / "plain")
    settings.BACKUP_AGE_RECIPIENT = [str(identity.to_public())]
    encrypted = backups.write_archive(tmp_path / "encrypted")
    settings.BACKUP_AGE_RECIPIENT = []
    (tmp_path / "bad").mkdir()
    wipe_database()
    for name in (ORDER, SCAN):
        default_storage.delete(name)
    yield Archives(plain, encrypted, key_file, tmp_path / "bad")
    tables_back(plain)


def other_vendor(manifest: dict) -> dict:
    vendor = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    database = {**manifest["database"], "vendor": vendor, "member": backups.DB_MEMBERS[vendor]}
    return {**manifest, "database": database}


def cases(a: Archives) -> list[tuple[str, Path, Path | None, str]]:
    """(what, archive, key file, the refusal's sentence or its telling part)."""
    members = a.members()
    database = members[backups.DB_MEMBERS[connection.vendor]]
    order, manifest = members[f"media/{ORDER}"], members[backups.MANIFEST]
    other_key = a.folder / "other-key.txt"
    other_key.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    no_key = a.folder / "no-key.txt"
    no_key.write_text("# public key: age1... (the secret key line was not copied)\n")
    bad_key = a.folder / "bad-key.txt"
    bad_key.write_text("AGE-SECRET-KEY-1NOTAKEY\n")
    truncated = "The archive is truncated or damaged (unexpected end of data)."
    no_manifest = "The archive has no manifest.json: it is not a complete portal backup"
    not_listed = "does not list a database and stored files the way the portal writes them"
    empty = a.folder / "empty.tar"
    empty.write_bytes(b"")
    noise = a.folder / "noise.bin"
    noise.write_bytes(random.Random(2).randbytes(100_000))
    encrypted_cut = a.encrypted.stat().st_size // 2
    return [
        ("no such file", a.folder / "missing.tar", None, "No such archive:"),
        ("an empty file", empty, None, "The archive is an empty file (0 bytes)"),
        (
            "random bytes",
            noise,
            None,
            "The file is not a portal backup: it is neither a tar archive nor an age-encrypted "
            "one.",
        ),
        ("only the start of the first header", a.cut("start.tar", 100), None, "neither a tar"),
        (
            "cut in the middle of the database",
            a.cut("in-database.tar", database.offset_data + database.size // 2),
            None,
            truncated,
        ),
        (
            "cut in the middle of a stored file",
            a.cut("in-file.tar", order.offset_data + order.size // 2),
            None,
            truncated,
        ),
        (
            "cut inside the manifest's header",
            a.cut("in-manifest-header.tar", manifest.offset + 100),
            None,
            no_manifest,
        ),
        (
            "cut inside the manifest",
            a.cut("in-manifest.tar", manifest.offset_data + manifest.size // 2),
            None,
            truncated,
        ),
        ("cut before the manifest", a.cut("no-manifest.tar", manifest.offset), None, no_manifest),
        (
            "a tar of something else",
            a.foreign_tar("photos.tar", {"photos/1.jpg": b"\xff\xd8\xff", "readme.txt": b"hi"}),
            None,
            no_manifest,
        ),
        (
            "a docker image's tar (its manifest.json is a list)",
            a.foreign_tar("image.tar", {"manifest.json": b'[{"Config": "abc.json"}]'}),
            None,
            "The archive's manifest.json is not a portal manifest, so it is not a portal backup.",
        ),
        (
            "a manifest that is not JSON",
            a.rewritten("not-json.tar", lambda m: b"\xff{not json"),
            None,
            "The archive's manifest.json is not JSON, so it is not a portal backup.",
        ),
        (
            "another format number",
            a.rewritten("format-2.tar", lambda m: {**m, "format": 2}),
            None,
            "The archive is of backup format 2, and this version of the portal reads format 1 "
            "only.",
        ),
        (
            "a manifest without the database",
            a.rewritten("no-database.tar", lambda m: {"format": 1, "media": m["media"]}),
            None,
            not_listed,
        ),
        (
            "a stored file's name climbing out of MEDIA_ROOT",
            a.rewritten(
                "climbing.tar",
                lambda m: {**m, "media": [{**m["media"][0], "name": "../../etc/cron.d/x"}]},
            ),
            None,
            not_listed,
        ),
        (
            "a listed file missing from the archive",
            a.rewritten(
                "missing-member.tar",
                lambda m: {**m, "media": [*m["media"], {**m["media"][0], "name": "gone.pdf"}]},
            ),
            None,
            "The archive is damaged: media/gone.pdf is missing.",
        ),
        (
            "another database engine",
            a.rewritten("other-engine.tar", other_vendor),
            None,
            "database and this portal uses",
        ),
        (
            "encrypted, without --identity",
            a.encrypted,
            None,
            "The archive is encrypted: give the file holding its age secret key with "
            "--identity FILE.",
        ),
        (
            "encrypted, with another key",
            a.encrypted,
            other_key,
            "No key in the key file opens this archive: it was encrypted to another public key.",
        ),
        (
            "encrypted, cut in the middle",
            a.cut("half.tar.age", encrypted_cut, source=a.encrypted),
            a.key_file,
            "The encrypted archive is truncated or damaged",
        ),
        (
            "encrypted, cut inside the age header",
            a.cut("header.tar.age", 40, source=a.encrypted),
            a.key_file,
            "The encrypted archive is truncated or damaged",
        ),
        (
            "a key file that does not exist",
            a.encrypted,
            a.folder / "nowhere.txt",
            "Cannot read the key file",
        ),
        ("a key file without a secret key", a.encrypted, no_key, "holds no age secret key"),
        ("a key file with a broken key", a.encrypted, bad_key, "not a valid age secret key"),
    ]


def test_each_bad_archive_is_refused_in_one_sentence_and_nothing_is_written(
    archives, tmp_path, monkeypatch, subtests
):
    # Where restore decrypts: it must be empty again after every refusal.
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    for what, archive, identity, sentence in cases(archives):
        with subtests.test(what):
            with pytest.raises(CommandError) as refused:
                call_command("restore", str(archive), identity=identity and str(identity))
            message = str(refused.value)
            assert sentence in message
            assert "\n" not in message and message.endswith(".") and message[0].isupper()
            assert connection.introspection.table_names() == []
            assert stored_files() == {}
            assert list(scratch.iterdir()) == []


def test_an_armored_archive_restores_and_leaves_no_temporary_copy(archives, tmp_path, monkeypatch):
    """The refusals above are of the archives, not of the database they were tried on: the
    good one restores. Armored (as `age -a` writes it), to show that form is read too."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    identity = restore.read_identities(archives.key_file)
    armored = archives.folder / "armored.tar.age"
    armored.write_bytes(
        pyrage.encrypt(archives.plain.read_bytes(), [identity[0].to_public()], armored=True)
    )
    assert armored.read_bytes().startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")

    call_command("restore", str(armored), identity=str(archives.key_file), stdout=io.StringIO())

    assert set(stored_files()) == {ORDER, SCAN}
    assert connection.introspection.table_names()
    assert list(scratch.iterdir()) == []


def test_the_terminal_sees_one_sentence_exit_status_1_and_no_traceback(tmp_path):
    """`manage.py restore` in a process of its own, on an empty SQLite database (whatever the
    suite runs on: the refusal comes before the engine matters)."""
    noise = tmp_path / "cdt-portal-20250101-023000.tar"
    noise.write_bytes(random.Random(3).randbytes(50_000))
    database = tmp_path / "empty.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cdt_portal.settings.test",
        "DATABASE_URL": f"sqlite:///{database}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "restore", str(noise)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "CommandError: The file is not a portal backup: it is neither a tar archive nor an "
        "age-encrypted one.\n"
    )
    with sqlite3.connect(database) as written:
        assert written.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    written.close()
