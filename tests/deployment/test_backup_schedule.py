"""The nightly backup: when it runs, that it keeps exactly BACKUP_KEEP archives (plain and
encrypted alike), and that it stamps the health beat."""

import datetime as dt
import zoneinfo

import pyrage
import pytest
from django.core.exceptions import ImproperlyConfigured

from cdt_portal import backups
from cdt_portal.models import ServiceBeat


def fake_archives(folder, stamps, suffix=".tar"):
    folder.mkdir(exist_ok=True)
    for stamp in stamps:
        (folder / f"cdt-portal-{stamp}{suffix}").write_bytes(b"old")


def test_prune_keeps_exactly_the_n_newest_and_nothing_else_is_touched(tmp_path):
    fake_archives(
        tmp_path,
        [
            "20250101-023000",
            "20250103-023000",
            "20250102-023000",
            "20250105-023000",
            "20250104-023000",
        ],
    )
    (tmp_path / "notes.txt").write_text("not an archive")

    removed = backups.prune(tmp_path, 3)

    assert sorted(p.name for p in removed) == [
        "cdt-portal-20250101-023000.tar",
        "cdt-portal-20250102-023000.tar",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cdt-portal-20250103-023000.tar",
        "cdt-portal-20250104-023000.tar",
        "cdt-portal-20250105-023000.tar",
        "notes.txt",
    ]


def test_prune_counts_plain_and_encrypted_archives_together_in_time_order(tmp_path):
    fake_archives(tmp_path, ["20250101-023000", "20250103-023000"])
    # Two archives in the same second: the second is `-2`, and newer.
    fake_archives(tmp_path, ["20250102-023000", "20250103-023000-2"], suffix=".tar.age")
    (tmp_path / "cdt-portal-notes.tar").write_text("not an archive of ours")
    (tmp_path / ".cdt-portal-20250104-023000.tar.age.partial").write_bytes(b"being written")

    removed = backups.prune(tmp_path, 2)

    assert sorted(p.name for p in removed) == [
        "cdt-portal-20250101-023000.tar",
        "cdt-portal-20250102-023000.tar.age",
    ]
    assert [p.name for p in backups.archives(tmp_path)] == [
        "cdt-portal-20250103-023000-2.tar.age",
        "cdt-portal-20250103-023000.tar",
    ]
    assert (tmp_path / "cdt-portal-notes.tar").exists()
    assert (tmp_path / ".cdt-portal-20250104-023000.tar.age.partial").exists()


def test_keeping_none_is_a_configuration_error(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="BACKUP_KEEP must be at least 1"):
        backups.prune(tmp_path, 0)


@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_writes_an_archive_and_keeps_backup_keep(settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path)
    settings.BACKUP_KEEP = 2
    fake_archives(tmp_path, ["20200101-023000", "20200102-023000", "20200103-023000"])

    backups.nightly_backup.call_local()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2
    assert names[0] == "cdt-portal-20200103-023000.tar"
    assert names[1] > "cdt-portal-2025"  # the new one, named after now
    stamp = ServiceBeat.objects.get(name="backup")
    assert stamp.detail == {
        "archive": names[1],
        "size": (tmp_path / names[1]).stat().st_size,
        "encrypted": False,
    }


@pytest.mark.django_db(transaction=True)
def test_the_nightly_job_encrypts_and_keeps_backup_keep_of_both_kinds(settings, tmp_path):
    settings.BACKUP_DIR = str(tmp_path)
    settings.BACKUP_KEEP = 2
    settings.BACKUP_AGE_RECIPIENT = [str(pyrage.x25519.Identity.generate().to_public())]
    fake_archives(tmp_path, ["20200101-023000", "20200103-023000"])
    fake_archives(tmp_path, ["20200102-023000"], suffix=".tar.age")

    backups.nightly_backup.call_local()

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "cdt-portal-20200103-023000.tar"
    assert names[1].endswith(".tar.age") and names[1] > "cdt-portal-2025"
    assert len(names) == 2
    assert ServiceBeat.objects.get(name="backup").detail["encrypted"] is True


@pytest.mark.django_db(transaction=True)
def test_a_second_archive_in_the_same_second_gets_its_own_newer_name(settings, tmp_path):
    now = dt.datetime(2025, 1, 3, 2, 30, tzinfo=dt.UTC)

    first = backups.write_archive(tmp_path, now=now)
    second = backups.write_archive(tmp_path, now=now)

    stamp = f"{now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)):%Y%m%d-%H%M%S}"
    assert (first.name, second.name) == (f"cdt-portal-{stamp}.tar", f"cdt-portal-{stamp}-2.tar")
    assert backups.archives(tmp_path) == [second, first]


@pytest.mark.parametrize(
    ("utc_time", "due"),
    [
        (dt.datetime(2025, 3, 1, 23, 30), True),  # 02:30 in Moscow (UTC+3)
        (dt.datetime(2025, 3, 2, 2, 30), False),  # 02:30 UTC is 05:30 in Moscow
        (dt.datetime(2025, 3, 1, 23, 31), False),
    ],
)
def test_the_nightly_time_is_read_in_the_deployments_time_zone(settings, utc_time, due):
    settings.TIME_ZONE = "Europe/Moscow"
    settings.BACKUP_HOUR, settings.BACKUP_MINUTE = 2, 30
    assert backups.HUEY.utc is True
    assert backups.is_backup_time(utc_time) is due
