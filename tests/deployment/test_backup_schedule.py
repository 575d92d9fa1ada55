"""The nightly backup: when it runs, and that it keeps exactly BACKUP_KEEP archives."""

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from cdt_portal import backups


def fake_archives(folder, stamps):
    folder.mkdir(exist_ok=True)
    for stamp in stamps:
        (folder / f"cdt-portal-{stamp}.tar").write_bytes(b"old")


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
