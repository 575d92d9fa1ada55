"""Issue 13, the families' pages: the notice's text is labelled in Russian with the shared
formatting help, times show in the organisation's time zone, and every date the families'
templates print is in the Russian format."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse

from tests.families.builders import make_notice

TEMPLATES = Path(settings.BASE_DIR) / "templates"
FAR_EAST = "Asia/Kamchatka"  # UTC+12: nine hours from Moscow, twelve from UTC


def local(moment: dt.datetime, zone: str, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def test_the_notice_text_is_labelled_in_russian_with_a_formatting_help(client, admin):
    client.force_login(admin)
    text = client.get(reverse("notices")).content.decode()
    assert "Markdown" not in text
    assert '<label class="form-label" for="notice-text">Текст уведомления</label>' in text
    assert 'aria-describedby="notice-text-help"' in text
    assert 'id="notice-text-help"' in text
    assert "каждый пункт с новой строки, в начале «- »" in text
    assert "две звёздочки с обеих сторон" in text
    assert "[сайт «Сферума»](https://sferum.ru)" in text


def test_the_notice_shows_its_time_in_the_organisations_zone(client, admin, organisation):
    organisation.time_zone = FAR_EAST
    organisation.save()
    notice = make_notice(organisation, admin)
    client.force_login(admin)
    text = client.get(reverse("notices")).content.decode()
    assert f"Опубликовано {local(notice.published_at, FAR_EAST)}" in text
    assert local(notice.published_at, "Europe/Moscow") not in text


# Every date or time a families template prints: a variable whose name ends in `_at`, `_on`
# or is `.at`, and nothing but the Russian formats after it.
DATE_VARIABLE = re.compile(r"{{\s*([\w.]+?(?:_at|_on|\.at))\s*(\|[^}]*)?}}")
RUSSIAN = {'|date:"d.m.Y"', '|date:"d.m.Y H:i"'}


def test_every_date_in_the_families_templates_is_formatted_the_russian_way():
    found = []
    for template in sorted((TEMPLATES / "families").glob("*.html")):
        for variable, filters in DATE_VARIABLE.findall(template.read_text(encoding="utf-8")):
            found.append(variable)
            assert (filters or "").strip() in RUSSIAN, (template.name, variable, filters)
    assert "notice.published_at" in found and "consent.at" in found
