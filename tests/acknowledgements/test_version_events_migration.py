"""The migration that carried the VersionEvent rows into the audit log
(acknowledgements/0002_version_events_into_audit_log): each event becomes one entry with its
time, actor and comment, once, and the version's history page shows it."""

from __future__ import annotations

import datetime as dt
import importlib
from types import SimpleNamespace

from django.apps import apps as django_apps
from django.db import connection
from django.urls import reverse

from tests.audit_observer import Audit, assert_entry

migration = importlib.import_module(
    "acknowledgements.migrations.0002_version_events_into_audit_log"
)


class HistoricalApps:
    """The migration's `apps`, with the dropped VersionEvent model played by plain rows."""

    def __init__(self, events) -> None:
        self.events = events

    def get_model(self, app_label: str, model_name: str):
        if (app_label, model_name) == ("acknowledgements", "VersionEvent"):
            return SimpleNamespace(objects=EventRows(self.events))
        return django_apps.get_model(app_label, model_name)


class EventRows:
    def __init__(self, rows) -> None:
        self.rows = rows

    def using(self, alias):
        return self

    def select_related(self, *fields):
        return self

    def order_by(self, *fields):
        return self

    def iterator(self):
        return iter(self.rows)


def test_the_migration_copies_each_version_event_into_the_log(
    client, organisation, director, regulation
):
    at = dt.datetime(2023, 11, 30, 9, 15, tzinfo=dt.UTC)
    events = [
        SimpleNamespace(
            version=regulation, action="approved", actor=director, actor_id=director.pk,
            at=at, comment="Приказ от 30.11.2023 г. № 201-О",
        ),
        SimpleNamespace(
            version=regulation, action="reminded", actor=None, actor_id=None,
            at=at + dt.timedelta(days=1), comment="",
        ),
    ]  # fmt: skip
    audit = Audit()
    migration.copy_events_to_audit_log(
        HistoricalApps(events), SimpleNamespace(connection=connection)
    )
    approved, reminded = audit.new()
    migration.copy_events_to_audit_log(  # as after migrating back and forward again
        HistoricalApps(events), SimpleNamespace(connection=connection)
    )
    assert audit.new() == [approved, reminded]
    assert_entry(
        approved, actor=director, action="version.approved", obj=regulation,
        organisation=organisation, data={"comment": "Приказ от 30.11.2023 г. № 201-О"},
    )  # fmt: skip
    assert approved.actor_name == "Денисенко О. Б."
    assert approved.object_repr == str(regulation)
    assert approved.at == at
    assert (reminded.action, reminded.actor, reminded.actor_name) == ("version.reminded", None, "")
    assert reminded.at == at + dt.timedelta(days=1)
    assert (reminded.data, reminded.ip_address) == ({}, None)

    client.force_login(director)
    page = client.get(reverse("version_detail", kwargs={"pk": regulation.pk})).content.decode()
    assert "Приказ от 30.11.2023 г. № 201-О</span>" in page
