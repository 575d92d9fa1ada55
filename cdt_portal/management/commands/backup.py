"""`manage.py backup [--dir DIR]`: one archive of the database and the media (see
cdt_portal/backups.py), then keep the newest BACKUP_KEEP in that folder."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cdt_portal.backups import BackupError, prune, write_archive


class Command(BaseCommand):
    help = "Write one backup archive (database + media) and keep the newest BACKUP_KEEP."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="folder for the archive (BACKUP_DIR)")
        parser.add_argument(
            "--keep", type=int, default=None, help="archives to keep there (BACKUP_KEEP)"
        )

    def handle(self, *args, dir=None, keep=None, **options):
        directory = Path(dir or settings.BACKUP_DIR)
        try:
            path = write_archive(directory)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        removed = prune(directory, keep if keep is not None else settings.BACKUP_KEEP)
        self.stdout.write(str(path))
        for old in removed:
            self.stderr.write(f"removed old backup {old}")
