"""The Sferum rollout as the four people who do it, in a real browser, on the demo data.

Each journey finds things by what a person sees (roles, labels, Russian text), runs axe-core on
every page it opens (see conftest.py) and its key pages again at desktop and phone width (serious
and critical findings fail); `make screenshots` saves those key pages as pictures into
var/screenshots/ and copies them to docs/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import zlib
from zoneinfo import ZoneInfo

import pytest

from tests.families.builders import FILLED_CONSENT
from tests.helpers import DEMO_PASSWORD, pdf_text

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

MOSCOW = ZoneInfo("Europe/Moscow")  # the demo organisation's time zone
ADMIN_NAME = "Захарова Ольга Викторовна"
TEACHER_NAME = "Иванова Софья Николаевна"
CHILD_NAME = "Кузнецов Максим Андреевич"
GROUP_NAME = "Демонстрационная группа"
# The demo is in the MAX state (since 2025 Sferum's chats live in MAX): its chat link is MAX's.
INVITE_LINK = "https://max.ru/join/demo-robotics"
ADMIN_PHONE = "+7 912 345-67-89"
# The demo organisation's invented contacts (portal/demo.py), marked «учебный пример».
ORG_ADDRESS = "000000, г. Демоград, ул. Учебная, д. 1 (учебный пример)"
ORG_EMAIL = "cdt@cdt.example"


def moscow_now() -> dt.datetime:
    return dt.datetime.now(MOSCOW)


def today() -> str:
    return f"{moscow_now():%d.%m.%Y}"


def fetch_pdf(tab, link) -> bytes:
    """What the browser downloads from a link, with the signed-in person's session cookie."""
    return fetch_pdf_url(tab, link.get_attribute("href"))


def fetch_pdf_url(tab, href: str) -> bytes:
    response = tab.page.request.get(tab.base_url + href if href.startswith("/") else href)
    assert response.ok, f"{href}: {response.status}"
    assert response.headers["content-type"] == "application/pdf", response.headers
    body = response.body()
    assert body.startswith(b"%PDF-"), body[:20]
    return body


def tiny_png() -> bytes:
    """A real 1×1 white PNG: what a phone scan would be, minus the pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def nav_link(page, name: str):
    return page.get_by_role("navigation", name="Основная навигация").get_by_role(
        "link", name=name, exact=True
    )


def expect_message(page, text: str) -> None:
    """The flash message the last action left (Bootstrap alert, role="alert")."""
    expect(page.locator(".messages").get_by_role("alert")).to_contain_text(text)


# 1. The platform administrator ----------------------------------------------------------------


def test_admin_prepares_signs_and_sends_the_registration_request(tab, tmp_path):
    from django.core import mail

    page = tab.page
    tab.log_in("admin")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Панель внедрения «Сферума»")
    expect(page.get_by_role("heading", name="Заявка на регистрацию")).to_be_visible()
    tab.assert_clean()
    tab.capture("admin-dashboard")

    nav_link(page, "Заявка").click()
    expect(page).to_have_url(tab.base_url + "/onboarding/request/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Заявка на регистрацию в «Сферуме»")
    tab.assert_clean()

    page.get_by_role("button", name="Начать заявку").click()
    expect_message(page, "Заявка начата. Проверьте данные администратора.")
    expect(page.locator(".request-status")).to_have_text("Черновик")
    # The demo administrator has no phone yet, so the details form is already open.
    expect(page.get_by_label("Ф.И.О. администратора")).to_have_value(ADMIN_NAME)
    phone = page.get_by_label("Мобильный телефон администратора")
    expect(phone).to_be_visible()
    tab.assert_accessible("the request's details form")
    phone.fill(ADMIN_PHONE)
    page.get_by_role("button", name="Сохранить", exact=True).click()
    expect_message(page, "Данные администратора сохранены.")
    expect(page.locator("#content dl")).to_contain_text(ADMIN_PHONE)
    tab.assert_clean()

    # The demo organisation carries invented contacts, so the letter can be made at once
    # (tests/onboarding covers the page that asks for missing ones).
    expect(page.locator("[data-organisation-details-needed]")).to_have_count(0)

    page.get_by_role("button", name="Сформировать письмо о назначении").click()
    expect_message(page, "Письмо о назначении сформировано")
    expect(page.locator(".request-status")).to_have_text("На подписи")
    tab.capture("admin-request-letter")

    letter = fetch_pdf(tab, page.get_by_role("link", name="Скачать письмо (PDF) для подписи"))
    text = pdf_text(letter)
    assert ADMIN_NAME in text, text
    assert "М.П." in text, text
    assert ADMIN_PHONE in text, text
    assert ORG_ADDRESS in text and ORG_EMAIL in text, text

    scan = tmp_path / "письмо-подписано.png"
    scan.write_bytes(tiny_png())
    page.get_by_label("Скан подписанного письма").set_input_files(scan)
    filled_on = moscow_now().date() - dt.timedelta(days=1)
    page.get_by_label("Анкета организации заполнена (дата)").fill(filled_on.isoformat())
    page.get_by_role("button", name="Приложить скан — заявка готова").click()
    expect_message(page, "Скан приложен, заявка готова к отправке.")
    expect(page.locator(".request-status")).to_have_text("Готова к отправке")
    expect(page.get_by_role("link", name="Подписанный скан")).to_be_visible()
    tab.assert_accessible("the request, ready to send")

    assert mail.outbox == []
    page.get_by_role("button", name="Отправить на info@sferum.ru").click()
    # The e-mail goes from a background job (run at once in tests); the page says so and then
    # shows the request's new state.
    expect_message(page, "Заявка отправляется на info@sferum.ru.")
    expect(page.locator(".request-status")).to_have_text("Отправлена")
    assert len(mail.outbox) == 1, [m.subject for m in mail.outbox]
    message = mail.outbox[0]
    assert message.subject == "СФЕРУМ:Регистрация организации"
    assert message.to == ["info@sferum.ru"]
    assert len(message.attachments) >= 1

    history = page.get_by_role("heading", name="История заявки")
    expect(history).to_be_visible()
    timeline = page.locator("ol.timeline > li")
    # Read from the audit log, oldest first: the four states, the administrator's details, and
    # the sending job's two steps (queued, handed to the mail server).
    expect(timeline).to_have_count(7)
    expect(timeline.filter(has_text="Заявка передаётся почтовому серверу")).to_have_count(1)
    for state in ("Черновик", "На подписи", "Готова к отправке", "Отправлена"):
        expect(timeline.filter(has_text=state).first).to_be_visible()
    expect(timeline.nth(1)).to_contain_text("Изменены данные администратора")
    expect(timeline.filter(has_text=f"анкета заполнена {filled_on:%d.%m.%Y}")).to_have_count(1)
    expect(page.get_by_text(f"Отправлена {today()}")).to_be_visible()
    tab.capture("admin-request-sent")


# 2. A teacher reads the regulation --------------------------------------------------------------


def test_teacher_confirms_the_regulation_by_keyboard_after_a_wrong_password(tab):
    page = tab.page
    tab.log_in("teacher")
    expect(page).to_have_url(tab.base_url + "/teacher/")
    reminder = page.get_by_role("alert").filter(has_text="Ознакомьтесь с Положением о «Сферуме».")
    expect(reminder).to_be_visible()
    tab.capture("teacher-home")

    reminder.get_by_role("link", name="Прочитать и подтвердить").click()
    expect(page).to_have_url(tab.base_url + "/regulation/")
    # First, once: the agreement on the простая электронная подпись, and back to the regulation.
    needed = page.locator(".agreement-needed")
    expect(needed).to_contain_text("один раз примите «Соглашение об использовании")
    tab.assert_clean()
    needed.get_by_role("link", name="Открыть соглашение").click()
    expect(page).to_have_url(tab.base_url + "/documents/esign-agreement/?next=/regulation/")
    expect(page.get_by_role("heading", name="Примите соглашение")).to_be_visible()
    tab.assert_clean()
    page.get_by_label("Соглашение прочитала и принимаю").check()
    page.get_by_label("Ваш пароль").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Принять соглашение").click()
    # The form's own anchor (#confirm) stays with the address it is sent back to.
    expect(page).to_have_url(re.compile(re.escape(tab.base_url + "/regulation/") + "(#confirm)?$"))
    expect_message(page, "Спасибо! Соглашение принято")
    expect(page.get_by_role("heading", name="Подтвердите ознакомление")).to_be_visible()
    tab.assert_clean()

    # Keyboard only: Tab to the tick, Space, Tab to the password, type, Tab to the button, Enter.
    read = page.get_by_label("С Положением ознакомлена")
    password = page.get_by_label("Ваш пароль")
    submit = page.get_by_role("button", name="Подтвердить ознакомление")
    tab.tab_to(read)
    page.keyboard.press("Space")
    expect(read).to_be_checked()
    page.keyboard.press("Tab")
    expect(password).to_be_focused()
    page.keyboard.type("не-тот-пароль")
    tab.tab_to(submit, max_presses=5)
    tab.expect_refusal()  # the form comes back with a 400
    page.keyboard.press("Enter")

    expect(page.get_by_text("Неверный пароль. Ознакомление не записано.")).to_be_visible()
    expect_message(page, "Ознакомление не записано")
    expect(password).to_have_value("")
    tab.capture("teacher-regulation-wrong-password", full_page=False)

    before = moscow_now().replace(second=0, microsecond=0, tzinfo=None)
    read.check()  # the tick survives the refused attempt; the password does not
    password.fill(DEMO_PASSWORD)
    password.press("Enter")  # Enter in the password field submits the form

    expect_message(page, "Спасибо! Ознакомление с Положением записано.")
    done = page.locator(".regulation-aside").get_by_role("status")
    # Софья Николаевна: the patronymic tells the form.
    expect(done).to_contain_text(re.compile(rf"Ознакомлена {re.escape(today())} в \d\d:\d\d"))
    shown = re.search(r"в (\d\d:\d\d)", done.inner_text()).group(1)
    at = dt.datetime.strptime(f"{today()} {shown}", "%d.%m.%Y %H:%M")
    assert before <= at <= moscow_now().replace(tzinfo=None), (shown, before)
    expect(page.get_by_role("button", name="Подтвердить ознакомление")).to_have_count(0)
    tab.capture("teacher-regulation-confirmed", full_page=False)

    # Back home from a phone, through the collapsed menu (checked by axe while open).
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Открыть меню").click()
    expect(nav_link(page, "Мои объединения")).to_be_visible()
    tab.assert_accessible("the open phone menu")
    nav_link(page, "Мои объединения").click()
    expect(page).to_have_url(tab.base_url + "/teacher/")
    page.set_viewport_size(DESKTOP)
    # Софья Николаевна: the patronymic tells the form.
    expect(page.get_by_role("status")).to_contain_text(f"С Положением ознакомлена {today()}")
    expect(page.get_by_text("Ознакомьтесь с Положением")).to_have_count(0)
    tab.assert_clean()


# 3. The director follows the acknowledgements ---------------------------------------------------


def test_director_sees_who_confirmed_and_downloads_the_sheet(tab, demo):
    from accounts.models import User
    from acknowledgements.models import AGREEMENT_CODE, REGULATION_CODE
    from acknowledgements.selectors import current_version
    from acknowledgements.services import acknowledgement_confirm

    teacher = User.objects.get(username="teacher")
    # Online, on the demo's agreement on the простая электронная подпись, accepted first.
    for code in (AGREEMENT_CODE, REGULATION_CODE):
        acknowledgement_confirm(
            version=current_version(demo, code),
            person=teacher,
            password=DEMO_PASSWORD,
            ip_address="127.0.0.1",
            user_agent="e2e",
        )

    page = tab.page
    tab.log_in("director")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    card = page.locator(".card").filter(
        has=page.get_by_role("heading", name="Ознакомление с Положением")
    )
    expect(card).to_contain_text("(7%)")  # 1 of the 14 on the sheet
    tab.capture("director-dashboard")

    card.get_by_role("link", name="1 из 14").click()
    expect(page).to_have_url(tab.base_url + "/regulation/acknowledgements/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ознакомление с Положением")
    row = page.get_by_role("row").filter(has_text=TEACHER_NAME)
    expect(row).to_contain_text(today())
    expect(row).to_contain_text("в портале")
    expect(page.get_by_role("row").filter(has_text=ADMIN_NAME)).to_contain_text("не ознакомлена")
    tab.capture("director-acknowledgements")

    # Only the people still to read, as the director would check before reminding them.
    page.get_by_label("Статус").select_option(label="Не ознакомились")
    page.get_by_role("button", name="Показать").click()
    expect(page).to_have_url(re.compile(r"status=pending"))
    expect(page.get_by_role("row").filter(has_text=TEACHER_NAME)).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text=ADMIN_NAME)).to_have_count(1)
    tab.assert_clean()

    # The sheet with today's marks is not stored yet: its page offers to make it (a background
    # job), and the same address then answers with the PDF.
    href = page.get_by_role("link", name="Лист ознакомления (PDF)").get_attribute("href")
    tab.goto(href)
    expect(page.get_by_role("button", name="Сформировать лист ознакомления")).to_be_visible()
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value")
    started = page.request.post(
        tab.base_url + href, form={"csrfmiddlewaretoken": token}, max_redirects=0
    )
    assert (started.status, started.headers["location"]) == (302, href)
    sheet = pdf_text(fetch_pdf_url(tab, href))
    assert "Лист ознакомления" in sheet, sheet
    assert re.search(rf"{TEACHER_NAME}.{{0,120}}{re.escape(today())}", sheet), sheet
    assert ADMIN_NAME in sheet, sheet

    # The audit log names the director's approvals of the regulation, the agreement and the two
    # example acts (loaded by the demo).
    nav_link(page, "Журнал").click()
    expect(page).to_have_url(tab.base_url + "/audit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Журнал действий")
    approvals = page.get_by_role("row").filter(has_text="Редакция утверждена")
    expect(approvals).to_have_count(4)
    approval = approvals.filter(has_text="Положение по использованию")
    expect(approval).to_have_count(1)
    expect(approval).to_contain_text("Денисенко")
    tab.assert_clean()


# 4. A parent ------------------------------------------------------------------------------------


def test_parent_finds_the_chat_confirms_the_notice_and_gives_consent(tab, demo):
    from accounts.models import StudyGroup, User
    from families.selectors import default_notice_text
    from families.services import notice_publish

    StudyGroup.objects.filter(organisation=demo, name=GROUP_NAME).update(
        max_invite_link=INVITE_LINK
    )
    notice_publish(
        organisation=demo,
        actor=User.objects.get(username="admin"),
        text=default_notice_text(demo),
    )

    page = tab.page
    tab.log_in("parent")
    expect(page).to_have_url(tab.base_url + "/my/")
    expect(page.get_by_role("heading", name=CHILD_NAME)).to_be_visible()
    group = page.locator(".card").filter(has=page.get_by_role("heading", name=GROUP_NAME))
    expect(group.get_by_role("link", name="Войти в чат объединения")).to_have_attribute(
        "href", INVITE_LINK
    )
    expect(group).to_contain_text(f"Ссылка-приглашение: {INVITE_LINK}")
    expect(group).to_contain_text(TEACHER_NAME)
    notice = page.locator(".card").filter(
        has=page.get_by_role("heading", name="Уведомление об использовании «Сферума»")
    )
    expect(notice).to_be_visible()
    consent = page.locator("#content").get_by_text("не дано", exact=True)
    expect(consent).to_be_visible()
    child = page.get_by_role("heading", name=CHILD_NAME).locator("..")  # the child's block
    tab.capture("parent-home", until=child)

    # The notice is confirmed from the keyboard.
    confirm = notice.get_by_role("button", name="Ознакомлена", exact=True)
    tab.tab_to(confirm)
    page.keyboard.press("Enter")
    expect_message(page, "Спасибо! Отмечено, что вы ознакомлены с уведомлением.")
    expect(notice).to_contain_text(f"Ознакомлена {today()}")
    expect(notice.get_by_role("button", name="Ознакомлена")).to_have_count(0)
    tab.assert_clean()

    # The consent names the parent, the child and the documents (152-ФЗ ст. 9 ч. 4): the
    # parent fills them in, reads the filled consent, and confirms.
    page.get_by_role("link", name="Заполнить и дать согласие").click()
    expect(page.get_by_role("button", name="Далее: проверить согласие")).to_be_visible()
    tab.assert_clean()
    for name, value in FILLED_CONSENT.items():
        field = page.locator(f"[name={name}]")
        if name in ("id_document", "authority_document"):
            field.select_option(value)
        else:
            field.fill(value)
    page.get_by_role("button", name="Далее: проверить согласие").click()
    expect(page.get_by_text("Что будет дальше.")).to_be_visible()
    tab.assert_clean()
    # The parent signs the consent with their password, under the terms of the простая
    # электронная подпись.
    page.get_by_label("Принимаю условия использования простой электронной подписи").check()
    page.get_by_label("Ваш пароль от портала — это ваша подпись под согласием").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Подтверждаю: даю согласие").click()
    expect_message(page, f"{CHILD_NAME}: согласие")
    expect(page.get_by_text(f"дано {today()}", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Отозвать согласие")).to_be_visible()
    tab.capture("parent-home-done", until=child)


def test_the_axe_check_sees_a_field_without_a_label(tab):
    """Guards the guard: a serious axe finding must fail `assert_accessible`."""
    tab.goto("/accounts/login/")
    tab.assert_accessible("the sign-in page")
    tab.page.evaluate(
        "(html) => document.querySelector('main').insertAdjacentHTML('beforeend', html)",
        '<input type="text" name="nameless">',
    )
    with pytest.raises(AssertionError, match=r"\[critical\] label"):
        tab.assert_accessible("the sign-in page with a nameless field")
