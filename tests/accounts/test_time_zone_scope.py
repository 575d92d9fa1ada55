"""The organisation's time zone holds for its person's request and no longer
(accounts.middleware.OrganisationTimezoneMiddleware): the thread goes on in the deployment's
zone, and a streamed export, written after the middleware has returned, still gives the
organisation's times."""

from __future__ import annotations

import csv
import io
import zoneinfo

from django.utils import timezone

from cdt_portal.audit import log_action

FAR_EAST = "Asia/Vladivostok"


def far_east(organisation):
    organisation.time_zone = FAR_EAST
    organisation.save(update_fields=["time_zone"])


def test_the_zone_is_the_deployments_again_after_the_request(client, admin, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    far_east(admin.organisation)
    client.force_login(admin)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    assert timezone.get_current_timezone_name() == "Europe/Moscow"


def test_the_audit_csv_gives_the_organisations_time(client, admin, teacher, settings):
    settings.TIME_ZONE = "Europe/Moscow"
    far_east(admin.organisation)
    entry = log_action(admin, teacher, "person.updated", {"position": ["", "педагог"]})
    client.force_login(admin)
    response = client.get("/audit.csv", {"action": "person.updated"})
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body[1:]), delimiter=";"))
    expected = timezone.localtime(entry.at, zoneinfo.ZoneInfo(FAR_EAST))
    moscow = timezone.localtime(entry.at, zoneinfo.ZoneInfo("Europe/Moscow"))
    assert [row[0] for row in rows[1:]] == [f"{expected:%d.%m.%Y %H:%M:%S}"]
    assert f"{expected:%H}" != f"{moscow:%H}"  # seven hours apart: the zone shows
