"""The invitations page in a real browser: nobody is ticked at first, «Выбрать всех без пароля»
and «Снять все» tick and untick in place (static/js/invitations.js) and the count follows;
without JavaScript the same buttons are links the server answers."""

import re

import pytest

from tests.acknowledgements.test_jobs_consumer import consumer, queued_jobs
from tests.helpers import DEMO_PASSWORD, pdf_text

from .conftest import DESKTOP, pdf_shown, skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e

URL = "/people/invitations/"


def waiting_people(demo) -> tuple[int, int]:
    """The demo's staff who have not chosen a password; two of them get an e-mail.
    Returns (how many wait, how many of them have an e-mail)."""
    from accounts.models import User
    from accounts.selectors import people_waiting_for_invitation

    waiting = people_waiting_for_invitation(User.objects.get(username="admin"))
    for n, person in enumerate(waiting[:2]):
        person.email = f"staff{n}@example.ru"
        person.save(update_fields=["email"])
    return waiting.count(), waiting.exclude(email="").count()


@pytest.mark.pdf_viewer
def test_the_administrator_ticks_everyone_then_nobody(tab, demo):
    total, with_email = waiting_people(demo)
    assert total > 2
    page = tab.page
    tab.log_in("admin")
    tab.goto(URL)
    tab.assert_clean()

    boxes = page.locator("input[name=people]")
    count = page.locator("[data-selected-count]")
    emails = page.locator("[data-selected-email]")
    expect(boxes).to_have_count(total)
    for i in range(total):
        expect(boxes.nth(i)).not_to_be_checked()
    expect(count).to_have_text("0")

    page.get_by_role("link", name="Выбрать всех без пароля").click()
    for i in range(total):
        expect(boxes.nth(i)).to_be_checked()
    expect(count).to_have_text(str(total))
    expect(emails).to_have_text(str(with_email))
    assert tab.url_path() == URL  # ticked in place: no page was loaded

    boxes.first.uncheck()
    expect(count).to_have_text(str(total - 1))
    # The pointer leaves the button first: axe must not judge its colours mid-transition.
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    tab.capture("invitations-selected", full_page=False)

    page.get_by_role("link", name="Снять все").click()
    for i in range(total):
        expect(boxes.nth(i)).not_to_be_checked()
    expect(count).to_have_text("0")
    expect(emails).to_have_text("0")
    assert tab.url_path() == URL

    # A name is the label of its box: clicking it ticks the box, and the count follows.
    name = page.locator("tbody label").nth(2).inner_text().strip()
    page.locator("tbody label").nth(2).click()
    expect(boxes.nth(2)).to_be_checked()
    expect(count).to_have_text("1")
    # «Напечатать» starts a job and leads to its page, which opens the sheet of slips when the
    # job has stored it (static/js/progress.js), with no other click.
    with queued_jobs():
        with page.expect_navigation():
            page.get_by_role("button", name=re.compile("^Напечатать")).click()
        expect(page.get_by_role("progressbar")).to_be_visible()
        tab.assert_clean()
        assert re.fullmatch(r"/people/invitations/slips/\d+\.pdf", tab.url_path())
        with (
            consumer(),
            page.expect_response(
                lambda r: r.request.is_navigation_request() and "/invitations/slips/" in r.url,
                timeout=60_000,
            ) as opened,
        ):
            pass
    assert name in pdf_text(pdf_shown(tab, opened.value))


def test_without_javascript_the_buttons_are_links_the_server_answers(browser, live_server, demo):
    total, with_email = waiting_people(demo)
    context = browser.new_context(viewport=DESKTOP, locale="ru-RU", java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Имя пользователя или e-mail").fill("admin")
        page.get_by_label("Пароль").fill(DEMO_PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="Войти", exact=True).click()
        page.goto(live_server.url + URL)
        boxes = page.locator("input[name=people]")
        expect(page.locator("input[name=people]:checked")).to_have_count(0)
        expect(page.locator("[data-selected-count]")).to_have_text("0")

        with page.expect_navigation():
            page.get_by_role("link", name="Выбрать всех без пароля").click()
        assert page.url.endswith(f"{URL}?select=without_password")
        expect(page.locator("input[name=people]:checked")).to_have_count(total)
        expect(boxes).to_have_count(total)
        expect(page.locator("[data-selected-count]")).to_have_text(str(total))
        expect(page.locator("[data-selected-email]")).to_have_text(str(with_email))

        with page.expect_navigation():
            page.get_by_role("link", name="Снять все").click()
        expect(page.locator("input[name=people]:checked")).to_have_count(0)
        expect(page.locator("[data-selected-count]")).to_have_text("0")
    finally:
        context.close()
