"""A migrated SQLite test database, kept between runs: each test process copies it instead of
applying every migration again (about 8 s a process).

The copy is named by a hash of everything that decides its contents: the text of every
migration file of the project and of the installed packages' apps, Django's and SQLite's
versions, and the connection's start-up statements. Any change to one of them names another
copy, which the first process to need it makes by migrating and then saving. A copy is saved
under a temporary name and renamed, so two processes starting at once never read a half-written
file. PostgreSQL's test database is made by migrating, as before.
`tests/test_migrated_copy.py` shows that a database made from the copy has the migrated schema,
every applied migration and the rows migrations write.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import django
from django.apps import apps
from django.conf import settings
from django.db.backends.sqlite3.creation import DatabaseCreation


def fingerprint(connection) -> str:
    digest = hashlib.sha256()
    digest.update(f"django {django.__version__} sqlite {sqlite3.sqlite_version}".encode())
    digest.update(repr(connection.settings_dict.get("OPTIONS", {})).encode())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        folder = Path(config.path) / "migrations"
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{config.label}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def copy_path(connection) -> Path:
    return Path(tempfile.gettempdir()) / f"cdt-portal-migrated-{fingerprint(connection)}.sqlite3"


def _save(source: str, target: Path) -> None:
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


@contextlib.contextmanager
def installed():
    """While active, SQLite test databases come from the kept copy when there is one."""
    original = DatabaseCreation.create_test_db

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        kept = copy_path(self.connection)
        name = self._get_test_db_name()
        if self.is_in_memory_db(name) or keepdb:
            return original(self, verbosity, autoclobber, serialize, keepdb)
        if not kept.exists():
            created = original(self, verbosity, autoclobber, serialize, keepdb)
            # Closed first: the copy must hold every page, none left in the write-ahead log.
            self.connection.close()
            _save(created, kept)
            return created
        self.connection.close()
        for leftover in (f"{name}-wal", f"{name}-shm"):
            Path(leftover).unlink(missing_ok=True)
        shutil.copyfile(kept, name)
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name
        if serialize:
            self.connection._test_serialized_contents = self.serialize_db_to_string()
        self.connection.ensure_connection()
        return name

    DatabaseCreation.create_test_db = create_test_db
    try:
        yield
    finally:
        DatabaseCreation.create_test_db = original
