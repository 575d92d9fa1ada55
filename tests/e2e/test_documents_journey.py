"""Every local act, in a real browser: the administrator adds an act for one group with a due
date, the director approves it, the group's teacher accepts the agreement on the простая
электронная подпись and confirms the act, and the director prints its sheet, which states the
basis of the confirmation in a footnote and carries the log of confirmations inside the PDF.
Jobs run at once here (the approval, the sheet): their delivery is proven in tests/jobs/."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zoneinfo

import pytest
from pypdf import PdfReader

from tests.helpers import DEMO_PASSWORD, pdf_text

from .conftest import pdf_shown, skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e

MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")
TITLE = "Положение о защите персональных данных работников"
TEACHER_NAME = "Иванова Софья Николаевна"


def today() -> dt.date:
    return dt.datetime.now(MOSCOW).date()


def expect_message(page, text: str) -> None:
    expect(page.locator(".messages").get_by_role("alert")).to_contain_text(text)


def nav_link(page, name: str):
    return page.get_by_role("navigation", name="Основная навигация").get_by_role(
        "link", name=name, exact=True
    )


@pytest.mark.pdf_viewer
def test_an_act_for_one_group_is_confirmed_and_its_sheet_states_the_basis(tab, demo):
    page = tab.page
    due = today() + dt.timedelta(days=10)

    # The administrator adds the act for the demo group, with a due date.
    tab.log_in("admin")
    nav_link(page, "Документы").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Документы для ознакомления")
    tab.assert_clean()
    page.get_by_role("link", name="Добавить документ").click()
    tab.assert_clean()
    page.get_by_label("Название").fill(TITLE)
    page.get_by_label("Вид документа").select_option(label="положение")
    page.get_by_label("педагоги объединений").check()
    page.get_by_label("Демонстрационная группа").check()
    page.get_by_label("Срок ознакомления").fill(due.isoformat())
    page.get_by_label("Номер приказа").fill("210-О")
    page.get_by_label("Текст документа").fill(
        "## 1. Общие положения\n\nПоложение определяет порядок обработки персональных данных."
    )
    page.get_by_role("button", name="Сохранить черновик").click()
    expect_message(page, f"Документ «{TITLE}» добавлен")
    tab.assert_clean()
    tab.log_out()

    # The director approves it.
    tab.log_in("director")
    nav_link(page, "Документы").click()
    expect(page.get_by_role("link", name="черновик редакции 1")).to_be_visible()
    tab.assert_clean()
    page.get_by_role("link", name="черновик редакции 1").click()
    expect(page.get_by_role("link", name="Утвердить")).to_be_visible()
    tab.assert_clean()
    page.get_by_role("link", name="Утвердить").click()
    tab.assert_clean()
    page.get_by_role("button", name="Утвердить", exact=True).click()
    expect(page.locator("h1 .badge")).to_have_text("утверждена")
    tab.assert_clean()
    tab.log_out()

    # The group's teacher finds it among their documents, accepts the agreement on the way and
    # confirms it.
    tab.log_in("teacher")
    nav_link(page, "Документы").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Мои документы")
    row = page.get_by_role("row").filter(has_text=TITLE)
    expect(row).to_contain_text(f"до {due:%d.%m.%Y}")
    tab.assert_clean()
    row.get_by_role("link", name=TITLE).click()
    expect(page.locator(".agreement-needed")).to_be_visible()
    tab.assert_clean()
    page.locator(".agreement-needed").get_by_role("link", name="Открыть соглашение").click()
    tab.assert_clean()
    page.get_by_label("Соглашение прочитала и принимаю").check()
    page.get_by_label("Ваш пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Принять соглашение").click()
    expect_message(page, "Спасибо! Соглашение принято")
    tab.assert_clean()
    page.get_by_label("С документом ознакомлена").check()
    page.get_by_label("Ваш пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Подтвердить ознакомление").click()
    expect_message(page, f"Спасибо! Ознакомление с документом «{TITLE}» записано.")
    expect(page.locator(".regulation-aside").get_by_role("status")).to_contain_text(
        "подтверждено в портале простой электронной подписью"
    )
    tab.assert_clean()
    tab.log_out()

    # The director prints its sheet: from the click to the PDF in the tab.
    tab.log_in("director")
    nav_link(page, "Документы").click()
    expect(page.get_by_role("row").filter(has_text=TITLE)).to_contain_text("1 из 1")
    tab.assert_clean()
    page.get_by_role("row").filter(has_text=TITLE).get_by_role("link", name="1 из 1").click()
    expect(page.get_by_role("row").filter(has_text=TEACHER_NAME)).to_contain_text("в портале")
    tab.assert_clean()
    page.get_by_role("link", name="Лист ознакомления (PDF)").click()
    tab.assert_clean()
    with page.expect_response(
        lambda r: r.request.is_navigation_request() and "/sheet.pdf" in r.url
        and r.headers.get("content-type") == "application/pdf"
    ) as opened:  # fmt: skip
        page.get_by_role("button", name="Сформировать лист ознакомления").click()
    data = pdf_shown(tab, opened.value)
    text = pdf_text(data)
    assert re.search(rf"{TEACHER_NAME}.{{0,160}}{today():%d.%m.%Y}", text), text
    assert "* Подтверждено простой электронной подписью в портале, соглашение от" in text, text
    log = json.loads(PdfReader(io.BytesIO(data)).attachments["confirmations.json"][0])
    [confirmation] = log["confirmations"]
    assert confirmation["person"]["full_name"] == TEACHER_NAME
    assert confirmation["method"] == "online" and confirmation["agreement"] is not None
    assert log["document"]["title"] == TITLE
