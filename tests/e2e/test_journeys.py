"""What people actually do on the portal, in a real browser (see conftest.py for the fixtures)."""

import re

import pytest

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e

JOIN_HEADING = "Как подключиться к «Сферуму»"


def expect_public_page(tab, messenger: str = "MAX") -> None:
    """The joining page; the demo starts in MAX (issue 21)."""
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_have_text(JOIN_HEADING)
    expect(page.get_by_role("heading", name="Обучающимся", exact=True)).to_be_visible()
    expect(
        page.get_by_role("heading", name="Родителям (законным представителям)", exact=True)
    ).to_be_visible()
    expect(page.locator("#content")).to_contain_text(f"Установите {messenger}.")


def expect_organisation_list(tab) -> None:
    """`/` of a deployment with several institutions (the demo's department holds three):
    each institution's own page on joining."""
    page = tab.page
    expect(page.get_by_role("heading", level=1)).to_have_text(JOIN_HEADING)
    expect(page.get_by_text("Выберите свою организацию:")).to_be_visible()
    expect(page.locator("#content .list-group a")).to_have_count(3)


def test_public_page_explains_how_to_join_and_leads_to_login(tab):
    tab.goto("/")
    expect_organisation_list(tab)
    tab.assert_clean()
    with tab.page.expect_navigation():
        tab.page.get_by_role("link", name=re.compile("^МКУ ДО «ЦДТ»")).click()
    expect(tab.page).to_have_url(tab.base_url + "/join/cdt/")
    expect_public_page(tab)
    expect(tab.page.locator("#content")).to_contain_text("МКУ ДО «ЦДТ»")
    # The platform administrator named in the demo is listed as the person to ask.
    expect(tab.page.locator("#help-heading + p")).to_contain_text("Захарова Ольга Викторовна")
    tab.assert_clean()

    tab.page.get_by_role("link", name="Войти в портал").click()
    expect(tab.page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Вход в портал")
    expect(tab.page.get_by_label("Имя пользователя или e-mail")).to_be_focused()
    tab.assert_clean()


# username, where they land, the heading there, and something only their page shows.
SIGN_INS = [
    ("admin", "/dashboard/", "Панель внедрения «Сферума»", "Захарова Ольга Викторовна"),
    ("director", "/dashboard/", "Панель внедрения «Сферума»", "Захарова Ольга Викторовна"),
    ("teacher", "/teacher/", "Здравствуйте, Софья Николаевна!", "Демонстрационная группа"),
    ("student", "/my/", "Здравствуйте, Максим!", "Демонстрационная группа"),
    ("parent", "/my/", "Здравствуйте, Елена Викторовна!", "Кузнецов Максим Андреевич"),
]


@pytest.mark.parametrize(
    ("username", "home", "heading", "shows"), SIGN_INS, ids=[s[0] for s in SIGN_INS]
)
def test_each_sign_in_lands_on_its_home_and_logs_out(tab, username, home, heading, shows):
    page = tab.page
    tab.log_in(username)
    expect(page).to_have_url(tab.base_url + home)
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("#content")).to_contain_text(shows)
    if username == "teacher":
        expect(page.get_by_role("heading", name="Мои объединения")).to_be_visible()
        # The group's own link (a teacher also has the group's families page).
        expect(
            page.get_by_role("link", name=re.compile("Демонстрационная группа")).first
        ).to_be_visible()
    if username == "parent":
        expect(page.get_by_role("heading", name="Мои дети")).to_be_visible()
        expect(page.get_by_role("heading", name="Кузнецов Максим Андреевич")).to_be_visible()
    # The navbar names the person, initials first.
    expect(page.get_by_role("link", name=re.compile(r"^[А-ЯЁ]\.")).first).to_be_visible()
    tab.assert_clean()

    tab.log_out()
    expect(page).to_have_url(tab.base_url + "/")
    expect_organisation_list(tab)
    expect(page.get_by_role("button", name="Выйти")).to_have_count(0)
    tab.assert_clean()


def test_wrong_password_shows_a_russian_error_and_stays_on_login(tab):
    tab.log_in("admin", "not-the-password")
    expect(tab.page).to_have_url(tab.base_url + "/accounts/login/")
    # crispy-forms renders the form's own errors in a Bootstrap alert (without role="alert").
    expect(tab.page.locator("main .alert-danger")).to_contain_text("Неверное имя пользователя")
    expect(tab.page.get_by_label("Имя пользователя или e-mail")).to_have_value("admin")
    expect(tab.page.get_by_role("button", name="Выйти")).to_have_count(0)
    tab.assert_clean()


def test_sign_in_by_email(tab):
    from accounts.models import User

    User.objects.filter(username="admin").update(email="zakharova@cdt.example")
    tab.log_in("Zakharova@CDT.example")  # e-mail is matched whatever the case
    expect(tab.page).to_have_url(tab.base_url + "/dashboard/")
    expect(tab.page.get_by_role("heading", level=1)).to_have_text("Панель внедрения «Сферума»")
    expect(tab.page.get_by_role("link", name="О.В. Захарова")).to_be_visible()
    tab.assert_clean()


def test_phone_navbar_collapses_and_opens(phone_tab):
    tab, page = phone_tab, phone_tab.page

    tab.goto("/join/cdt/")
    expect_public_page(tab)
    tab.no_horizontal_overflow()
    tab.assert_clean()

    tab.log_in("admin")
    expect(page).to_have_url(tab.base_url + "/dashboard/")
    tab.no_horizontal_overflow()
    people_link = page.get_by_role("link", name="Люди", exact=True)
    toggler = page.get_by_role("button", name="Открыть меню")
    expect(toggler).to_be_visible()
    expect(people_link).to_be_hidden()
    expect(toggler).to_have_attribute("aria-expanded", "false")

    toggler.click()  # only works if Bootstrap's JS loaded from our static files
    expect(people_link).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("button", name="Выйти")).to_be_visible()
    tab.no_horizontal_overflow()
    tab.assert_clean()

    people_link.click()
    expect(page).to_have_url(tab.base_url + "/people/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Люди")
    tab.no_horizontal_overflow()
    tab.assert_clean()


def test_the_administrators_navbar_fits_every_window_from_1200_px(tab):
    """From 1200 px the navbar is laid out in a row: the administrator's (the longest: eight
    items, her name and «Выйти») is one line at 1280 px and wraps onto a second row in a
    narrower window rather than push «Выйти» out of it; nothing scrolls sideways; below
    1200 px the menu is collapsed."""
    page = tab.page
    tab.log_in("admin")
    first, last = (page.get_by_role("link", name=name, exact=True) for name in ("Панель", "Журнал"))
    for width in (1400, 1280, 1200):
        page.set_viewport_size({"width": width, "height": 900})
        logout = page.get_by_role("button", name="Выйти")
        expect(logout).to_be_visible()
        box = logout.bounding_box()
        assert box["x"] + box["width"] <= width, (width, box)
        if width >= 1280:
            assert first.bounding_box()["y"] == last.bounding_box()["y"], f"two rows at {width}"
        tab.no_horizontal_overflow()
    page.set_viewport_size({"width": 1199, "height": 900})
    expect(page.get_by_role("button", name="Открыть меню")).to_be_visible()
    tab.no_horizontal_overflow()
    tab.assert_clean()


def test_admin_switches_messenger_to_max(tab):
    """A deployment still on VK Мессенджер (the demo starts in MAX, so it is set to VK here):
    the administrator moves it to MAX, and the joining page follows."""
    from accounts.models import Messenger, Organisation

    Organisation.objects.filter(slug="cdt").update(messenger=Messenger.VK)
    page = tab.page
    tab.goto("/join/cdt/")
    expect_public_page(tab, messenger="VK Мессенджер")
    tab.log_in("admin")
    page.get_by_role("link", name="Организация", exact=True).click()
    expect(page).to_have_url(tab.base_url + "/organisation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Сведения об организации")
    messenger = page.get_by_label("Мессенджер учебного профиля «Сферум»")
    expect(messenger).to_have_value("vk")
    tab.assert_clean()

    messenger.select_option(label="MAX")
    page.get_by_role("button", name="Сохранить").click()
    expect(page).to_have_url(tab.base_url + "/organisation/")
    expect(page.get_by_role("alert")).to_contain_text("Сведения об организации сохранены.")
    expect(messenger).to_have_value("max")
    tab.assert_clean()

    tab.log_out()
    tab.goto("/join/cdt/")
    expect_public_page(tab, messenger="MAX")
    expect(page.locator("#content")).not_to_contain_text("VK Мессенджер")
    tab.assert_clean()


def test_the_watch_sees_csp_violations(tab):
    """Guards the guard: an inline style on our pages must be reported as a problem."""
    tab.goto("/accounts/login/")
    tab.assert_clean()
    tab.page.evaluate(
        "() => { document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>'); }"
    )
    tab.page.wait_for_timeout(200)
    assert any("style-src" in problem for problem in tab.problems), tab.problems
    tab.problems.clear()
