"""Archives encrypted to age public keys (BACKUP_AGE_RECIPIENT): written as `.tar.age` without
the plain tar ever reaching the disk, opened by any one of the keys' secret halves
(`restore --identity FILE`), and a key that is not one refused before anything is written."""

import errno
import io
import tarfile
from pathlib import Path

import pyrage
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from cdt_portal import backups, restore
from cdt_portal.models import ServiceBeat
from tests.deployment.test_backup import (
    portal_with_data,  # noqa: F401  (a fixture)
    stored_files,
    table_rows,
    wipe_database,
)

pytestmark = pytest.mark.django_db(transaction=True)

AGE_HEADER = b"age-encryption.org/v1\n"


def key_file(folder: Path, identity: pyrage.x25519.Identity) -> Path:
    """The file as `age-keygen -o key.txt` writes it."""
    path = folder / f"key-{str(identity.to_public())[-8:]}.txt"
    path.write_text(
        f"# created: 2025-01-01T02:30:00+03:00\n# public key: {identity.to_public()}\n{identity}\n"
    )
    return path


@pytest.mark.usefixtures("portal_with_data")
def test_an_encrypted_backup_restores_with_either_key_and_gives_back_everything(settings, tmp_path):
    office, spare = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    # As django-environ reads "age1…, age1…": a space may stay before a key.
    settings.BACKUP_AGE_RECIPIENT = [str(office.to_public()), f" {spare.to_public()}"]
    rows_before, files_before = table_rows(), stored_files()

    out = io.StringIO()
    call_command("backup", dir=str(tmp_path / "backups"), stdout=out)
    archive = Path(out.getvalue().strip())

    assert archive.name.startswith("cdt-portal-") and archive.name.endswith(".tar.age")
    assert archive.stat().st_mode & 0o777 == 0o600
    assert archive.read_bytes().startswith(AGE_HEADER)
    assert not tarfile.is_tarfile(archive)
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]
    stamp = ServiceBeat.objects.get(name="backup")
    assert stamp.detail == {
        "archive": archive.name,
        "size": archive.stat().st_size,
        "encrypted": True,
    }
    # The office key opens it as well as the spare one restores it below.
    decrypted = tmp_path / "decrypted.tar"
    pyrage.decrypt_file(str(archive), str(decrypted), [office])
    with tarfile.open(decrypted) as tar:
        assert restore.read_manifest(tar)["database"]["vendor"]

    wipe_database()
    for path in stored_files():
        Path(settings.MEDIA_ROOT, path).unlink()
    out = io.StringIO()
    call_command("restore", str(archive), identity=str(key_file(tmp_path, spare)), stdout=out)

    assert f"{len(files_before)} files" in out.getvalue()
    assert table_rows() == {**rows_before, "django_session": []}
    assert stored_files() == files_before


def test_the_plain_tar_never_reaches_the_disk(settings, tmp_path, monkeypatch):
    """Everything on the disk at the moment the encryption ends, the last moment before the
    archive takes its name: the database copy waiting to be archived, and the archive,
    encrypted. No tar."""
    settings.BACKUP_AGE_RECIPIENT = [str(pyrage.x25519.Identity.generate().to_public())]
    on_disk = {}
    encrypt_io = pyrage.encrypt_io

    def encrypt_and_look(reader, writer, recipients):
        encrypt_io(reader, writer, recipients)
        writer.flush()
        for path in tmp_path.rglob("*"):
            if path.is_file():
                on_disk[path.relative_to(tmp_path).as_posix()] = path.read_bytes()[:512]

    monkeypatch.setattr(pyrage, "encrypt_io", encrypt_and_look)
    archive = backups.write_archive(tmp_path)

    (folder,) = {name.split("/")[0] for name in on_disk}
    assert folder.startswith(backups.WORK_PREFIX)
    assert sorted(on_disk) == [f"{folder}/archive", f"{folder}/database"]
    assert on_disk[f"{folder}/archive"].startswith(AGE_HEADER)
    # A tar header says "ustar" at byte 257; the database copy is SQLite's or pg_dump's own.
    assert all(head[257:262] != b"ustar" for head in on_disk.values())
    assert [p.name for p in tmp_path.iterdir()] == [archive.name]


def test_a_recipient_that_is_not_an_age_key_is_refused_before_anything_is_written(
    settings, tmp_path
):
    settings.BACKUP_AGE_RECIPIENT = ["age1notakey"]

    with pytest.raises(CommandError) as refused:
        call_command("backup", dir=str(tmp_path / "backups"))

    assert str(refused.value) == (
        "BACKUP_AGE_RECIPIENT holds 'age1notakey', which is not an age public key (age1…, the "
        "`# public key:` line of the key file)."
    )
    assert not (tmp_path / "backups").exists()
    assert not ServiceBeat.objects.filter(name="backup").exists()


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_file_that_shrinks_while_it_is_archived_fails_the_backup_and_leaves_nothing(
    settings, tmp_path, monkeypatch, encrypted
):
    """The reason reaches the person (pyrage would keep only its text), and no archive or
    part of one stays behind."""
    if encrypted:
        settings.BACKUP_AGE_RECIPIENT = [str(pyrage.x25519.Identity.generate().to_public())]
    default_storage.save("orders/order.pdf", ContentFile(b"%PDF-1.7\n%%EOF"))
    size = default_storage.size
    monkeypatch.setattr(default_storage, "size", lambda name: size(name) + 10)

    with pytest.raises(CommandError) as failed:
        call_command("backup", dir=str(tmp_path / "backups"))

    assert str(failed.value) == (
        "media/orders/order.pdf became shorter while it was being backed up; run the backup again."
    )
    assert list((tmp_path / "backups").iterdir()) == []
    assert not ServiceBeat.objects.filter(name="backup").exists()


def test_a_full_disk_while_decrypting_is_not_blamed_on_the_archive(tmp_path, monkeypatch):
    def disk_full(reader, writer, identities):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pyrage, "decrypt_io", disk_full)
    archive = tmp_path / "cdt-portal-20250101-023000.tar.age"
    archive.write_bytes(AGE_HEADER)

    with pytest.raises(OSError) as failed:
        restore._decrypt(archive, tmp_path / "plain.tar", [pyrage.x25519.Identity.generate()])

    assert failed.value.errno == errno.ENOSPC
