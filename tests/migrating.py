"""Migrations tested on old rows: migrate the test database to a past state, write rows as the
portal had them there, migrate forward and look. Such tests use
`@pytest.mark.django_db(transaction=True)` and end with `migrate()` (every app's newest), so the
database is whole again for the next test."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate(targets=None):
    """Migrate to `targets` (every app's newest migration when None); the apps' state there."""
    executor = MigrationExecutor(connection)
    return executor.migrate(targets or executor.loader.graph.leaf_nodes()).apps
