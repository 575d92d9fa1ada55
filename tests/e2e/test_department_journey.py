"""Issue 14's department in a real browser, on the demo data: the department's specialist
follows the three demo institutions (sorted, searched, exported to XLSX, one opened), sends one
message to every administrator, the seed institution's administrator reads it on her
dashboard, and the department sees who has read it."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest

from .conftest import DESKTOP, PHONE, skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")
try:
    import axe_playwright_python  # noqa: F401  (bundles axe-core; used by tab.capture)
except ImportError:
    skip_or_fail("the axe-playwright-python package is not installed")

pytestmark = pytest.mark.e2e

SEED = "МКУ ДО «ЦДТ»"
SCHOOL = "МБОУ «Демо-школа № 1»"
KINDERGARTEN = "МБДОУ «Демо-детский сад № 2»"


def institutions_shown(page) -> list[str]:
    return page.locator("[data-institutions] tbody th").all_inner_texts()


def test_the_department_follows_its_institutions_and_its_message_is_read(tab):
    page = tab.page
    tab.log_in("department")
    expect(page).to_have_url(tab.base_url + "/department/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Внедрение «Сферума» в организациях")
    assert institutions_shown(page) == [KINDERGARTEN, SCHOOL, SEED]
    school = page.locator('[data-institution="demo-school-1"]')
    expect(school).to_contain_text("5 из 8 (62%)")
    expect(school).to_contain_text("Отправлена")
    expect(school.locator("[data-messenger]")).to_have_text("MAX")
    tab.capture("department-overview")

    # At 390 px the table scrolls sideways in its own region, reached with Tab (issue 21):
    # every column is there, the last one shown once the region is scrolled to its end. A line
    # above it says so, only while it is wider than the window.
    hint = page.locator("[data-scroll-hint]")
    expect(hint).to_have_count(0)
    page.set_viewport_size(PHONE)
    expect(hint).to_have_text("Таблицу можно прокрутить вбок: в ней все столбцы.")
    region = page.get_by_role("region", name="Организации управления: внедрение «Сферума»")
    assert hint.evaluate("(line) => line.nextElementSibling.dataset.institutionsRegion") == ""
    tab.tab_to(region)
    headers = region.get_by_role("columnheader")
    expect(headers).to_have_count(9)
    last = headers.last
    expect(last).not_to_be_in_viewport()
    for _ in range(40):
        page.keyboard.press("ArrowRight")
    expect(last).to_be_in_viewport()
    tab.no_horizontal_overflow()
    page.set_viewport_size(DESKTOP)
    expect(hint).to_have_count(0)

    # Sorted by the share of staff who read the regulation, most first (ties by name).
    with page.expect_navigation():
        page.get_by_role("link", name="Положение").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Положение ↑").click()
    assert institutions_shown(page) == [SCHOOL, KINDERGARTEN, SEED]

    page.get_by_label("Поиск организации").fill("школа")
    with page.expect_navigation():
        page.get_by_role("button", name="Найти").click()
    assert institutions_shown(page) == [SCHOOL]

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Выгрузить в Excel (XLSX)").click()
    download = download_info.value
    assert re.fullmatch(r"sferum-demo-uo-\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename)
    with open(download.path(), "rb") as xlsx:
        rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.read())).active.values)
    assert [row[0] for row in rows[1:]] == [SCHOOL]
    assert rows[0][:2] == ("Организация", "Мессенджер")
    assert rows[1][1:2] == ("MAX",)  # the demo starts every institution in MAX (issue 21)
    assert rows[1][4:7] == (5, 8, 62)

    with page.expect_navigation():
        page.get_by_role("link", name=SCHOOL).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SCHOOL)
    expect(page.locator("[data-administrators]")).to_contain_text("Соколова Ирина Павловна")
    tab.capture("department-institution")

    with page.expect_navigation():
        page.get_by_role("link", name="Сообщения").click()
    page.get_by_label("Тема").fill("Ознакомление до 15.12")
    page.get_by_label("Текст").fill("До 15.12 завершите ознакомление сотрудников с Положением.")
    with page.expect_navigation():
        page.get_by_role("button", name="Отправить").click()
    expect(page.get_by_text("Сообщение отправлено администраторам 3 организаций.")).to_be_visible()
    expect(page.locator("[data-read-count]")).to_have_text("Прочитали в 0 из 3 организаций.")
    tab.capture("department-message")
    tab.log_out()

    tab.log_in("admin")
    banner = page.locator("[data-department-message]")
    expect(banner).to_contain_text("Ознакомление до 15.12")
    tab.capture("admin-department-message", full_page=False)
    with page.expect_navigation():
        banner.get_by_role("button", name="Прочитано").click()
    expect(
        page.get_by_text("Отмечено: сообщение управления образования прочитано.")
    ).to_be_visible()
    expect(page.locator("[data-department-message]")).to_have_count(0)
    tab.assert_clean()
    tab.log_out()

    tab.log_in("department")
    with page.expect_navigation():
        page.get_by_role("link", name="Сообщения").click()
    with page.expect_navigation():
        page.get_by_role("link", name="Ознакомление до 15.12").click()
    expect(page.locator("[data-read-count]")).to_have_text("Прочитали в 1 из 3 организаций.")
    expect(page.locator('[data-readers] [data-institution="cdt"]')).to_contain_text(
        "Захарова Ольга Викторовна"
    )
    tab.capture("department-message-read")
