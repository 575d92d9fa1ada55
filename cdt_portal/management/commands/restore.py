"""`manage.py restore ARCHIVE [--identity FILE]`: restore a backup into an EMPTY database and
MEDIA_ROOT. A refused archive is told in one sentence on stderr, exit status 1, and nothing is
written (docs/backups.md lists every refusal)."""

from django.core.management.base import BaseCommand, CommandError

from cdt_portal.backups import BackupError
from cdt_portal.databases import as_owner
from cdt_portal.restore import restore_archive


class Command(BaseCommand):
    help = "Restore a backup archive into an empty database and the media storage."

    def add_arguments(self, parser):
        parser.add_argument(
            "archive", help="a cdt-portal-*.tar or *.tar.age written by `manage.py backup`"
        )
        parser.add_argument(
            "--identity",
            metavar="FILE",
            default=None,
            help="file holding the age secret key (AGE-SECRET-KEY-…) of an encrypted archive",
        )

    def handle(self, *args, archive, identity=None, **options):
        # The tables are created by whoever will own them (`cdt_portal.databases`).
        as_owner()
        try:
            summary = restore_archive(archive, identity=identity)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Restored {summary.vendor} database ({summary.tables} tables) and "
            f"{summary.files} files ({summary.files_already_there} were already there). "
            "Signed-in sessions are not in backups: everyone signs in again. "
            "Now run `manage.py migrate` (a no-op unless the code is newer than the backup)."
        )
