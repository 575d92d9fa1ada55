"""Numbers counted once per change: a change made by a service is seen at once, nothing
changed reads them back, a new day counts again, another organisation's change does not."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from acknowledgements.services import acknowledgement_record_paper
from cdt_portal import numbers
from cdt_portal.audit import log_action
from tests.onboarding.test_dashboard import card, x_of_y

DASHBOARD = "/dashboard/"


def reading(client) -> tuple[int, int, int]:
    return x_of_y(card(client.get(DASHBOARD).content.decode(), "Ознакомление с Положением"))


def test_a_service_change_is_counted_at_once(client, director, admin, teacher, regulation):
    client.force_login(director)
    before = reading(client)
    acknowledgement_record_paper(
        version=regulation, person=teacher, paper_date=timezone.localdate(), recorded_by=admin
    )
    assert reading(client)[:2] == (before[0] + 1, before[1])


def test_unchanged_numbers_are_read_back_not_counted(client, director, regulation):
    client.force_login(director)
    client.get(DASHBOARD)  # the session's first request
    with CaptureQueriesContext(connection) as counted:
        numbers.counted_once(director.organisation_id, "probe", lambda: 42)
    with CaptureQueriesContext(connection) as read_back:
        assert numbers.counted_once(director.organisation_id, "probe", lambda: 0) == 42
    assert len(counted.captured_queries) == len(read_back.captured_queries) == 1
    assert "cdt_portal_auditentry" in read_back.captured_queries[0]["sql"]


def test_a_change_of_another_organisation_keeps_the_numbers(director, outsider):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    assert numbers.counted_once(director.organisation_id, "probe", compute) == 1
    log_action(outsider, outsider, "test.changed")
    assert numbers.counted_once(director.organisation_id, "probe", compute) == 1
    log_action(director, director, "test.changed")
    assert numbers.counted_once(director.organisation_id, "probe", compute) == 2


def test_a_new_day_counts_again(director, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    today = timezone.localdate()
    assert numbers.counted_once(director.organisation_id, "probe", compute) == 1
    monkeypatch.setattr(numbers.timezone, "localdate", lambda: today + dt.timedelta(days=1))
    assert numbers.counted_once(director.organisation_id, "probe", compute) == 2
