"""`manage.py backup [--dir DIR] [--keep N]`: one archive of the database and the media (see
cdt_portal/backups.py; encrypted when BACKUP_AGE_RECIPIENT names keys), then keep the newest
BACKUP_KEEP in that folder."""

from django.core.management.base import BaseCommand, CommandError

from cdt_portal.backups import BackupError, backup_and_prune


class Command(BaseCommand):
    help = "Write one backup archive (database + media) and keep the newest BACKUP_KEEP."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=None, help="folder for the archive (BACKUP_DIR)")
        parser.add_argument(
            "--keep", type=int, default=None, help="archives to keep there (BACKUP_KEEP)"
        )

    def handle(self, *args, dir=None, keep=None, **options):
        try:
            path, removed = backup_and_prune(dir, keep)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(str(path))
        for old in removed:
            self.stderr.write(f"removed old backup {old}")
