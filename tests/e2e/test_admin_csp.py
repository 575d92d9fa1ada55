"""The Django admin under a Content-Security-Policy, in a real browser: the superuser's pages
(the index with the portal's health, a list with actions and filters, a form with an inline
and the date pickers, the jobs, the log) run with no CSP violation and no console error. The
admin's own scripts insert inline styles, so its policy alone allows inline styles; scripts
are refused inline there as everywhere. The superuser signs in through the portal's own form
(`/admin/login/` leads there). Django's own pages are not held to axe (its inline forms lack
labels); the portal's pages are, everywhere else."""

from __future__ import annotations

import pytest

from .conftest import skip_or_fail

try:
    from playwright.sync_api import expect
except ImportError:
    skip_or_fail("the playwright package is not installed")

pytestmark = pytest.mark.e2e


def test_the_admins_pages_run_under_the_csp(tab, demo):
    from accounts.models import User

    root = User.objects.create_superuser("root", "root@example.ru", "Рут-пароль-2026")
    director = User.objects.get(username="director")
    page = tab.page
    response = page.goto(tab.base_url + "/admin/")
    assert response.headers["content-security-policy"].startswith("default-src 'self'")
    assert tab.url_path() == "/accounts/login/?next=%2Fadmin%2F"
    tab.check_new_page()
    page.get_by_label("Имя пользователя или e-mail").fill("root")
    page.get_by_label("Пароль").fill("Рут-пароль-2026")
    with page.expect_navigation():
        page.get_by_role("button", name="Войти", exact=True).click()
    expect(page.locator("#portal-health caption")).to_have_text("Состояние портала")
    tab.assert_clean()
    for path in (
        "/admin/accounts/user/",
        f"/admin/accounts/user/{director.pk}/change/",
        "/admin/cdt_portal/job/",
        "/admin/cdt_portal/auditentry/",
    ):
        response = page.goto(tab.base_url + path)
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self' 'unsafe-inline'" in policy
        page.wait_for_load_state("load")
        tab.checked_loads = len(tab.loads)  # not axe, as said above
        assert tab.problems == [], f"{path}: {tab.problems}"
    # The list's actions and filters work without inline script.
    page.goto(tab.base_url + "/admin/accounts/user/")
    page.locator("input.action-select").first.check()
    expect(page.locator(".action-counter")).to_have_text("Выбран 1 из 50")
    assert tab.problems == []
    assert root.is_superuser
