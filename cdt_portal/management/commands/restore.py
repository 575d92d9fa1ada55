"""`manage.py restore ARCHIVE`: restore a backup into an EMPTY database and MEDIA_ROOT."""

from django.core.management.base import BaseCommand, CommandError

from cdt_portal.backups import BackupError, restore_archive


class Command(BaseCommand):
    help = "Restore a backup archive into an empty database and the media storage."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="a cdt-portal-*.tar written by `manage.py backup`")

    def handle(self, *args, archive, **options):
        try:
            summary = restore_archive(archive)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {summary.vendor} database ({summary.tables} tables) and "
            f"{summary.files} files ({summary.files_already_there} were already there). "
            "Now run `manage.py migrate` (a no-op unless the code is newer than the backup)."
        )
