"""The test database made from the kept migrated copy (tests/migrated_copy.py) is the database
migrating makes, and any change to a migration names another copy."""

from types import SimpleNamespace

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests import migrated_copy


@pytest.mark.django_db
def test_every_migration_is_applied_and_post_migrate_rows_are_there():
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    applied = executor.loader.applied_migrations
    assert set(applied) == set(executor.loader.graph.nodes)
    # post_migrate's rows: a content type for every model.
    from django.apps import apps

    models = {(m._meta.app_label, m._meta.model_name) for m in apps.get_models()}
    assert models - set(ContentType.objects.values_list("app_label", "model")) == set()


def test_a_changed_migration_or_a_new_one_names_another_copy(tmp_path, monkeypatch):
    folder = tmp_path / "someapp" / "migrations"
    folder.mkdir(parents=True)
    first = folder / "0001_initial.py"
    first.write_text("operations = []\n")
    config = SimpleNamespace(label="someapp", path=str(tmp_path / "someapp"))
    monkeypatch.setattr(migrated_copy.apps, "get_app_configs", lambda: [config])

    names = [migrated_copy.copy_path(connection)]
    first.write_text("operations = [1]\n")
    names.append(migrated_copy.copy_path(connection))
    (folder / "0002_more.py").write_text("operations = []\n")
    names.append(migrated_copy.copy_path(connection))
    first.write_text("operations = []\n")
    (folder / "0002_more.py").unlink()
    names.append(migrated_copy.copy_path(connection))

    assert len(set(names[:3])) == 3
    assert names[3] == names[0]
