"""Issue 12's duties in a real browser, on the demo data: the director keeps her own Sferum
status (§4.7 of the regulation), the administrator ticks a document of the §5.1 checklist as
amended."""

from __future__ import annotations

import pytest

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")
try:
    import axe_playwright_python  # noqa: F401  (bundles axe-core; used by tab.capture)
except ImportError:
    skip_or_fail("the axe-playwright-python package is not installed")

pytestmark = pytest.mark.e2e

GROUP_NAME = "Демонстрационная группа"


def test_the_director_opens_her_sferum_status_page(tab):
    page = tab.page
    tab.log_in("director")
    with page.expect_navigation():
        page.get_by_role("link", name="Мой «Сферум»").click()
    expect(page).to_have_url(tab.base_url + "/onboarding/my-status/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой статус в «Сферуме»")
    tab.assert_clean()
    with page.expect_navigation():
        page.get_by_role("button", name="Отметить: профиль создан").click()
    expect(page.get_by_text("Отмечено.")).to_be_visible()
    expect(page.get_by_role("button", name="Отметить: подтверждение запрошено")).to_be_visible()
    tab.assert_clean()


def test_the_admin_ticks_a_programme_as_amended(tab):
    page = tab.page
    tab.log_in("admin")
    # The checklist is reached from its card on the dashboard (the navbar has no room for it).
    with page.expect_navigation():
        page.get_by_role("link", name="Список документов").click()
    expect(page).to_have_url(tab.base_url + "/onboarding/amendments/")
    tab.assert_clean()
    form = page.get_by_role("form", name=f"Дополнительная программа «{GROUP_NAME}»")
    form.get_by_label("Состояние").select_option("amended")
    form.get_by_label("Примечание").fill("приказ № 12-О")
    with page.expect_navigation():
        form.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_text(f"Дополнительная программа «{GROUP_NAME}»: сохранено.")).to_be_visible()
    expect(page.get_by_text("Изменения внесены: 1 из")).to_be_visible()
    tab.assert_clean()
    tab.capture("admin-amendments")
