"""Invitation dates on the pages: on the organisation's clock, dd.mm.yyyy HH:MM, also for
the person who opens a dead link without being signed in."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from django.urls import reverse

from accounts.models import Invitation
from accounts.services import invitation_issue
from tests.factories import UserFactory

ZONE = "Asia/Vladivostok"  # seven hours ahead of the settings' Europe/Moscow


def waiting_person(organisation):
    organisation.time_zone = ZONE
    organisation.save(update_fields=["time_zone"])
    person = UserFactory(organisation=organisation, username="kim.es", last_name="Ким")
    person.set_unusable_password()
    person.save()
    return person


def test_an_expired_link_tells_when_on_the_organisations_clock(client, organisation, admin):
    person = waiting_person(organisation)
    issued = invitation_issue(user=person, actor=admin, base_url="http://testserver/")
    expired = dt.datetime(2026, 1, 31, 20, 15, tzinfo=dt.UTC)  # 06:15 on 1 February there
    Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=expired)
    response = client.get(issued.url.removeprefix("http://testserver"))
    assert response.status_code == 410
    assert "Срок действия ссылки истёк 01.02.2026 в 06:15." in response.content.decode()


def test_the_persons_page_tells_the_links_expiry_with_its_time(client, organisation, admin):
    person = waiting_person(organisation)
    issued = invitation_issue(user=person, actor=admin, base_url="http://testserver/")
    client.force_login(admin)
    page = client.get(reverse("person_detail", kwargs={"pk": person.pk})).content.decode()
    until = issued.invitation.expires_at.astimezone(zoneinfo.ZoneInfo(ZONE))
    assert f"действует до {until:%d.%m.%Y %H:%M}" in page
    assert re.search(r"приглашение от \d\d\.\d\d\.\d{4}", page)
