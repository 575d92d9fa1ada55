"""The demo, loaded once per browser-test module and put back before each of its tests.

`load_demo()` costs a browser journey more than a second (people, the regulation approved with
its order rendered, the example acts, the department), and every journey starts from the same
demo. The first journey of a module loads it; a copy of every table is then kept beside the
originals, in tables of the same test database (the flush between transactional tests empties
only the models' tables, so the copies survive it), with a copy of the stored files. Each later
journey gets the demo back in one transaction: the models' tables emptied and the copies
poured in; then the files are copied into the test's own media folder. The module's end drops
the copies.

`tests/e2e/test_demo_copy.py` checks that the demo put back equals the demo as loaded, row for
row and file for file, and that a test's changes never reach the next test.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.color import no_style
from django.db import connection, transaction


def model_tables() -> list[str]:
    """The tables of the installed models that exist, as Django's flush sees them."""
    return sorted(connection.introspection.django_table_names(only_existing=True))


@dataclass
class DemoCopy:
    organisation_pk: int
    tables: list[str]
    files: Path

    @staticmethod
    def copy_name(index: int) -> str:
        # Short names: PostgreSQL cuts identifiers at 63 characters, and some of the models'
        # tables come close to it already.
        return f"e2e_demo_copy_{index}"

    @classmethod
    def take(cls, organisation_pk: int, files: Path) -> DemoCopy:
        """Copies the demo just loaded (committed: the journeys' tests are transactional)."""
        tables = model_tables()
        quote = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            for index, table in enumerate(tables):
                cursor.execute(
                    f"CREATE TABLE {quote(cls.copy_name(index))} AS SELECT * FROM {quote(table)}"
                )
        files.mkdir(parents=True, exist_ok=True)
        if Path(settings.MEDIA_ROOT).exists():
            shutil.copytree(settings.MEDIA_ROOT, files, dirs_exist_ok=True)
        return cls(organisation_pk=organisation_pk, tables=tables, files=files)

    def restore(self) -> None:
        """The demo as it was taken, in place of whatever the database holds now."""
        quote = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            # The same statements as Django's flush; the foreign keys are deferred to the commit.
            for statement in connection.ops.sql_flush(no_style(), self.tables):
                cursor.execute(statement)
            for index, table in enumerate(self.tables):
                cursor.execute(
                    f"INSERT INTO {quote(table)} SELECT * FROM {quote(self.copy_name(index))}"
                )
        # The sequences need no setting: the ids poured in were handed out before the copy was
        # taken, and the flush between tests restarts no sequence (PostgreSQL's TRUNCATE
        # without RESTART IDENTITY; SQLite's AUTOINCREMENT keeps its highest id), so new rows
        # are numbered past them (test_new_rows_are_numbered_past_the_demos).
        shutil.copytree(self.files, settings.MEDIA_ROOT, dirs_exist_ok=True)

    def drop(self) -> None:
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            for index in range(len(self.tables)):
                cursor.execute(f"DROP TABLE IF EXISTS {quote(self.copy_name(index))}")
        shutil.rmtree(self.files, ignore_errors=True)
