"""Dates and times in the PDFs: on the organisation's clock, in Russian format (dd.mm.yyyy,
HH:MM), whoever renders them and wherever (a request, a background job)."""

from __future__ import annotations

import re
import zoneinfo

from django.utils import timezone

from acknowledgements import documents
from acknowledgements.models import Acknowledgement
from tests.documents.builders import (
    built_sheet,
    confirm_online,
    demo_letter,
    demo_slips,
    demo_version,
)
from tests.helpers import pdf_text

# Far from the settings' Europe/Moscow: seven hours later, so a time on the wrong clock shows.
ZONE = "Asia/Vladivostok"
NOT_RUSSIAN = re.compile(r"\d{4}-\d\d-\d\d|\d\d?/\d\d?/\d{2,4}|\b[AP]M\b|\d\d:\d\d:\d\d")


def on_the_organisations_clock():
    version = demo_version()
    organisation = version.document.organisation
    organisation.time_zone = ZONE
    organisation.save(update_fields=["time_zone"])
    return version


def test_the_sheet_prints_the_confirmation_on_the_organisations_clock(db):
    version = on_the_organisations_clock()
    teacher = confirm_online(version)
    ack = Acknowledgement.objects.get(version=version, person=teacher)
    at = timezone.localtime(ack.recorded_at, zoneinfo.ZoneInfo(ZONE))
    text = pdf_text(built_sheet(version))
    assert f"{teacher.full_name} {at:%d.%m.%Y} подтверждено в портале {at:%d.%m.%Y %H:%M}" in text
    assert not NOT_RUSSIAN.search(text), NOT_RUSSIAN.search(text)


def test_the_order_prints_its_dates_in_russian_format(db):
    text = pdf_text(documents.render_order(demo_version())[1])
    assert "Приказ от 30.11.2023 г. № 201-О" in text
    assert "утверждённым приказом МКУ ДО «ЦДТ» от 30.11.2023 г. № 201-О" in text
    assert not NOT_RUSSIAN.search(text), NOT_RUSSIAN.search(text)


def test_the_slips_print_the_links_expiry_on_the_organisations_clock(db):
    issued, data = demo_slips(3, time_zone=ZONE)
    text = pdf_text(data)
    zone = zoneinfo.ZoneInfo(ZONE)
    for item in issued:
        until = timezone.localtime(item.invitation.expires_at, zone)
        assert f"Ссылка действует до {until:%d.%m.%Y %H:%M}" in text
    assert not NOT_RUSSIAN.search(text), NOT_RUSSIAN.search(text)


def test_the_letter_leaves_its_date_to_be_written_by_hand(db):
    text = pdf_text(demo_letter())
    assert "«___» ____________ 20___ г. № ______" in text
    assert not re.search(r"\d\d\.\d\d\.\d{4}", text)  # no date but the one written in ink
