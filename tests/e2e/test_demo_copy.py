"""The demo put back from its copy (tests/e2e/demo_copy.py) is the demo as loaded: every table
row for row, every stored file byte for byte, new rows numbered past the old ones, and nothing
one journey changed reaches the next. The tests run in this order, in one module (one copy)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import connection

from accounts.models import StudyGroup, User
from cdt_portal.models import AuditEntry
from tests.e2e.demo_copy import model_tables

LOADED: dict = {}


def every_row() -> dict[str, list[tuple]]:
    quote = connection.ops.quote_name
    rows = {}
    with connection.cursor() as cursor:
        for table in model_tables():
            cursor.execute(f"SELECT * FROM {quote(table)}")
            rows[table] = sorted(cursor.fetchall(), key=repr)
    return rows


def every_file() -> dict[str, bytes]:
    root = Path(settings.MEDIA_ROOT)
    return {
        str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def test_the_server_shares_no_connection(live_server):
    """The test database is a file (SQLite) or a server: the live server's request threads open
    their own connections; none is handed over from the test's thread (tests/conftest.py)."""
    assert live_server.thread.connections_override == {}


def test_the_first_journey_loads_the_demo_and_changes_it(demo):
    LOADED["rows"] = every_row()
    LOADED["files"] = every_file()
    assert LOADED["files"], "the demo stores its approved orders"
    assert User.objects.filter(organisation=demo).count() > 10

    assert User.objects.filter(organisation=demo, username="teacher").update(last_name="Иная") == 1
    StudyGroup.objects.create(organisation=demo, name="Группа одной проверки")
    next(iter(Path(settings.MEDIA_ROOT).rglob("*.pdf"))).write_bytes(b"changed")


def test_the_next_journey_gets_the_demo_as_loaded(demo):
    assert every_row() == LOADED["rows"]
    assert every_file() == LOADED["files"]
    assert User.objects.get(organisation=demo, username="teacher").last_name != "Иная"
    assert not StudyGroup.objects.filter(name="Группа одной проверки").exists()


def test_new_rows_are_numbered_past_the_demos(demo):
    newest = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    group = StudyGroup.objects.create(organisation=demo, name="Новая группа")
    assert group.pk > max(StudyGroup.objects.exclude(pk=group.pk).values_list("pk", flat=True))
    entry = AuditEntry.objects.create(action="test.entry", organisation=demo)
    assert entry.pk > newest
